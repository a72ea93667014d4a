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

// Store keeps webhook records. Implementations validate records on Create and
// Update, return copies the caller may modify, and are safe for concurrent use.
type Store interface {
	// Create validates w, fills in a zero ID, an empty secret and the
	// timestamps (on w too), and stores it.
	Create(ctx context.Context, w *Webhook) error
	// Get returns the record with id, or an error matching ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*Webhook, error)
	// Update validates w and replaces the stored record with the same ID.
	Update(ctx context.Context, w *Webhook) error
	// Delete removes the record with id.
	Delete(ctx context.Context, id uuid.UUID) error
	// List returns every record, oldest first.
	List(ctx context.Context) ([]*Webhook, error)
	// ListActive returns the records that are not disabled and subscribe to
	// the trigger identifier, oldest first.
	ListActive(ctx context.Context, trigger string) ([]*Webhook, error)
}

// PrepareCreate validates w and fills in what Create must generate: a random
// ID when zero, a secret in the signing scheme's format when empty, and the
// timestamps. Store implementations call it from Create.
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
		w.Secret = s
	}
	now = now.UTC()
	w.CreatedAt, w.UpdatedAt = now, now
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
	if w.Secret == "" {
		w.Secret = old.Secret
	}
	w.CreatedAt = old.CreatedAt
	w.UpdatedAt = s.clock().UTC()
	s.recs[w.ID] = w.Clone()
	return nil
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
	w, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := w.RotateSecret("", overlap, time.Now()); err != nil {
		return nil, err
	}
	if err := s.Update(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}
