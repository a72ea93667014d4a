package webhook

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
)

// ErrNotFound is returned by a Store for an ID it does not hold.
var ErrNotFound = errors.New("webhook: not found")

// ErrExists is returned by Store.Create for an ID already in use.
var ErrExists = errors.New("webhook: already exists")

// ErrConflict is returned by Store.Update for a record whose Version is not
// the stored one: someone else (an administrator, the health monitor's
// auto-disable) wrote the record after it was read. Get it again, re-apply
// the change and retry, as Modify does.
var ErrConflict = errors.New("webhook: record changed since it was read")

// Store keeps webhook records. Implementations validate records on Create and
// Update, return copies the caller may modify, and are safe for concurrent use.
type Store interface {
	// Create validates w, fills in a zero ID, an empty secret and the
	// timestamps (on w too), and stores it.
	Create(ctx context.Context, w *Webhook) error
	// Get returns the record with id, or an error matching ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*Webhook, error)
	// Update validates w and replaces the stored record with the same ID,
	// if w.Version is the stored record's version; otherwise it returns an
	// error matching ErrConflict and changes nothing. On success it sets
	// w.Version and w.UpdatedAt to the stored values. An empty w.Secret
	// keeps the stored one.
	Update(ctx context.Context, w *Webhook) error
	// Disable disables the record with id, if it is enabled, with reason
	// and time at, in one atomic write that changes nothing else (and adds
	// one to its Version). It reports whether it disabled the record: false,
	// with a nil error, when it was disabled already.
	Disable(ctx context.Context, id uuid.UUID, reason string, at time.Time) (bool, error)
	// Delete removes the record with id.
	Delete(ctx context.Context, id uuid.UUID) error
	// List returns every record, oldest first.
	List(ctx context.Context) ([]*Webhook, error)
	// ListActive returns the records that are not disabled and subscribe to
	// the trigger identifier, oldest first.
	ListActive(ctx context.Context, trigger string) ([]*Webhook, error)
}

// PrepareCreate validates w and fills in what Create must generate: a random
// ID when zero, a secret in the signing scheme's format when empty, the
// timestamps and Version 1. Store implementations call it from Create.
func PrepareCreate(w *Webhook, now time.Time) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.ID == uuid.Nil {
		id, err := uuid.NewRandom()
		if err != nil {
			return fmt.Errorf("webhook: new id: %w", err)
		}
		w.ID = id
	}
	if w.Secret == "" {
		s, err := signer.GenerateSecret(w.Signing.Scheme)
		if err != nil {
			return fmt.Errorf("webhook: generate secret: %w", err)
		}
		w.Secret = Secret(s)
	}
	now = now.UTC()
	w.CreatedAt, w.UpdatedAt = now, now
	w.Version = 1
	return nil
}

// MemoryStore is a Store in memory, for tests, examples and single-process
// apps that configure webhooks in code. The zero value is an empty store,
// ready to use; it must not be copied after first use.
type MemoryStore struct {
	mu   sync.RWMutex
	recs map[uuid.UUID]*Webhook // created on first Create
	now  func() time.Time       // nil: time.Now
}

// NewMemoryStore returns an empty MemoryStore, the same as new(MemoryStore).
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

func (s *MemoryStore) clock() time.Time {
	if s.now == nil {
		return time.Now()
	}
	return s.now()
}

var _ Store = (*MemoryStore)(nil)

// Create implements Store.
func (s *MemoryStore) Create(ctx context.Context, w *Webhook) error {
	if err := PrepareCreate(w, s.clock()); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = make(map[uuid.UUID]*Webhook)
	}
	if _, ok := s.recs[w.ID]; ok {
		return fmt.Errorf("%w: %s", ErrExists, w.ID)
	}
	s.recs[w.ID] = w.Clone()
	return nil
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, id uuid.UUID) (*Webhook, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w, ok := s.recs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return w.Clone(), nil
}

// Update implements Store. CreatedAt is kept from the stored record, and so
// is the secret when w.Secret is empty.
func (s *MemoryStore) Update(ctx context.Context, w *Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.recs[w.ID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, w.ID)
	}
	if w.Version != old.Version {
		return conflict(w.ID, w.Version, old.Version)
	}
	c := w.Clone()
	if c.Secret == "" {
		c.Secret = old.Secret
	}
	c.CreatedAt = old.CreatedAt
	c.UpdatedAt = s.clock().UTC()
	c.Version = old.Version + 1
	s.recs[w.ID] = c
	w.Secret, w.CreatedAt, w.UpdatedAt, w.Version = c.Secret, c.CreatedAt, c.UpdatedAt, c.Version
	return nil
}

// conflict is the error of an Update at version have of a record stored at want.
func conflict(id uuid.UUID, have, want int64) error {
	return fmt.Errorf("%w: %s at version %d, stored version %d", ErrConflict, id, have, want)
}

// Disable implements Store.
func (s *MemoryStore) Disable(ctx context.Context, id uuid.UUID, reason string, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.recs[id]
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if w.Disabled {
		return false, nil
	}
	c := w.Clone()
	c.Disabled, c.DisabledReason, c.DisabledAt = true, reason, at.UTC()
	c.UpdatedAt = s.clock().UTC()
	c.Version++
	s.recs[id] = c
	return true, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, id uuid.UUID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[id]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(s.recs, id)
	return nil
}

// List implements Store.
func (s *MemoryStore) List(ctx context.Context) ([]*Webhook, error) {
	return s.list(func(*Webhook) bool { return true }), nil
}

// ListActive implements Store.
func (s *MemoryStore) ListActive(ctx context.Context, trigger string) ([]*Webhook, error) {
	return s.list(func(w *Webhook) bool { return !w.Disabled && w.Subscribes(trigger) }), nil
}

func (s *MemoryStore) list(keep func(*Webhook) bool) []*Webhook {
	s.mu.RLock()
	out := make([]*Webhook, 0, len(s.recs))
	for _, w := range s.recs {
		if keep(w) {
			out = append(out, w.Clone())
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out
}

// RotateSecret gives the record with id a new secret generated in its
// scheme's format, keeps the old one valid for overlap, stores the record and
// returns it. See Webhook.RotateSecret.
func RotateSecret(ctx context.Context, s Store, id uuid.UUID, overlap time.Duration) (*Webhook, error) {
	return Modify(ctx, s, id, func(w *Webhook) error {
		return w.RotateSecret("", overlap, time.Now())
	})
}

// maxModifyTries bounds Modify's retries on ErrConflict.
const maxModifyTries = 10

// ReadWriter is what Modify needs of a Store.
type ReadWriter interface {
	Getter
	// Update stores w if its Version is the stored one (see Store.Update).
	Update(ctx context.Context, w *Webhook) error
}

// Modify reads the record with id, applies change to it and updates it; when
// the update fails with ErrConflict because someone else wrote the record in
// between (an administrator, the health monitor's auto-disable), it reads the
// record again and re-applies change, so that both writes survive. change
// may run several times and must only modify the record it is given. An
// error from change is returned as it is. Modify returns the stored record.
func Modify(ctx context.Context, s ReadWriter, id uuid.UUID, change func(*Webhook) error) (*Webhook, error) {
	var err error
	for range maxModifyTries {
		var w *Webhook
		if w, err = s.Get(ctx, id); err != nil {
			return nil, err
		}
		if err = change(w); err != nil {
			return nil, err
		}
		if err = s.Update(ctx, w); err == nil {
			return w, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%w (%w)", cerr, err)
		}
	}
	return nil, fmt.Errorf("webhook: %d tries: %w", maxModifyTries, err)
}
