package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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
	// timestamps (on w too), and stores it. It refuses with an error
	// matching ErrTenantFull a record whose tenant has the most records the
	// store allows.
	Create(ctx context.Context, w *Webhook) error
	// Get returns the record with id, or an error matching ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*Webhook, error)
	// Update validates w and replaces the stored record with the same ID,
	// if w.Version is the stored record's version; otherwise it returns an
	// error matching ErrConflict and changes nothing. On success it sets
	// w.Version and w.UpdatedAt to the stored values. An empty w.Secret
	// keeps the stored one. A record's Tenant cannot change.
	Update(ctx context.Context, w *Webhook) error
	// Disable disables the record with id, if it is enabled, with reason
	// and time at, in one atomic write that changes nothing else (and adds
	// one to its Version). It reports whether it disabled the record: false,
	// with a nil error, when it was disabled already.
	Disable(ctx context.Context, id uuid.UUID, reason string, at time.Time) (bool, error)
	// Delete removes the record with id.
	Delete(ctx context.Context, id uuid.UUID) error
	// List returns a page of the records q selects, oldest first. A cursor
	// it did not make gives an error matching ErrInvalidCursor.
	List(ctx context.Context, q ListQuery) (Page, error)
	// ListActive returns the records a dispatch on route r reaches (see
	// Webhook.Matches), oldest first, through an index on tenant, trigger
	// and channel rather than a scan of every record.
	ListActive(ctx context.Context, r Route) ([]*Webhook, error)
}

// PrepareCreate validates w and fills in what Create must generate: a random
// ID when zero, a secret in the signing scheme's format when empty, the
// timestamps (to the microsecond, as cursors and SQL stores keep them) and
// Version 1. Store implementations call it from Create.
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
	now = now.UTC().Truncate(time.Microsecond)
	w.CreatedAt, w.UpdatedAt = now, now
	w.Version = 1
	return nil
}

// TenantChanged is the error of an Update that would move a record from
// tenant was to w's tenant. Store implementations return it.
func TenantChanged(w *Webhook, was string) error {
	return invalid("tenant", fmt.Sprintf("cannot change (from %q to %q): create a record for the other tenant", was, w.Tenant), nil)
}

// TenantFull is the error of a Create in w's tenant, which holds limit
// records already. Store implementations return it; it matches ErrTenantFull.
func TenantFull(w *Webhook, limit int) error {
	return fmt.Errorf("%w: tenant %q has %d records", ErrTenantFull, w.Tenant, limit)
}

// MemoryStore is a Store in memory, for tests, examples and single-process
// apps that configure webhooks in code. It indexes records by tenant,
// trigger and channel. The zero value is an empty store without limits,
// ready to use; it must not be copied after first use.
type MemoryStore struct {
	mu       sync.RWMutex
	recs     map[uuid.UUID]*Webhook // created on first Create
	routes   map[routeKey]*routeSet // tenant and trigger -> records
	byTenant map[string]map[uuid.UUID]struct{}
	idText   map[uuid.UUID]string // the records' IDs as text, which the Sender signs
	now      func() time.Time     // nil: time.Now
	max      int                  // records per tenant; 0: no limit
}

// routeKey indexes the records of one tenant subscribed to one trigger.
type routeKey struct{ tenant, trigger string }

// routeSet holds the records of one routeKey: those without channels, and
// the others by channel.
type routeSet struct {
	all       map[uuid.UUID]struct{}
	byChannel map[string]map[uuid.UUID]struct{}
}

// MemoryStoreOption configures NewMemoryStore.
type MemoryStoreOption interface{ applyMemoryStore(*MemoryStore) }

type memoryStoreOption func(*MemoryStore)

func (o memoryStoreOption) applyMemoryStore(s *MemoryStore) { o(s) }

// WithMaxRecordsPerTenant makes Create refuse, with an error matching
// ErrTenantFull, a record whose tenant has n records already; n <= 0 sets
// no limit (the default).
func WithMaxRecordsPerTenant(n int) MemoryStoreOption {
	return memoryStoreOption(func(s *MemoryStore) { s.max = max(n, 0) })
}

// NewMemoryStore returns an empty MemoryStore; without options it is the
// same as new(MemoryStore).
func NewMemoryStore(opts ...MemoryStoreOption) *MemoryStore {
	s := &MemoryStore{}
	for _, o := range opts {
		o.applyMemoryStore(s)
	}
	return s
}

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
		s.routes = make(map[routeKey]*routeSet)
		s.byTenant = make(map[string]map[uuid.UUID]struct{})
	}
	if _, ok := s.recs[w.ID]; ok {
		return fmt.Errorf("%w: %s", ErrExists, w.ID)
	}
	if s.max > 0 && len(s.byTenant[w.Tenant]) >= s.max {
		return TenantFull(w, s.max)
	}
	s.put(w.Clone())
	return nil
}

// put stores c and indexes it; s.mu must be held.
func (s *MemoryStore) put(c *Webhook) {
	s.recs[c.ID] = c
	if s.idText == nil {
		s.idText = make(map[uuid.UUID]string)
	}
	if _, ok := s.idText[c.ID]; !ok {
		s.idText[c.ID] = c.ID.String()
	}
	ids := s.byTenant[c.Tenant]
	if ids == nil {
		ids = make(map[uuid.UUID]struct{})
		s.byTenant[c.Tenant] = ids
	}
	ids[c.ID] = struct{}{}
	for _, t := range c.Triggers {
		k := routeKey{c.Tenant, t}
		rs := s.routes[k]
		if rs == nil {
			rs = &routeSet{all: map[uuid.UUID]struct{}{}, byChannel: map[string]map[uuid.UUID]struct{}{}}
			s.routes[k] = rs
		}
		if len(c.Channels) == 0 {
			rs.all[c.ID] = struct{}{}
		}
		for _, ch := range c.Channels {
			if rs.byChannel[ch] == nil {
				rs.byChannel[ch] = map[uuid.UUID]struct{}{}
			}
			rs.byChannel[ch][c.ID] = struct{}{}
		}
	}
}

// remove drops the stored record with id from the store and its indexes;
// s.mu must be held.
func (s *MemoryStore) remove(id uuid.UUID) {
	old := s.recs[id]
	delete(s.recs, id)
	delete(s.idText, id)
	if ids := s.byTenant[old.Tenant]; ids != nil {
		if delete(ids, id); len(ids) == 0 {
			delete(s.byTenant, old.Tenant)
		}
	}
	for _, t := range old.Triggers {
		k := routeKey{old.Tenant, t}
		rs := s.routes[k]
		if rs == nil {
			continue
		}
		delete(rs.all, id)
		for _, ch := range old.Channels {
			if set := rs.byChannel[ch]; set != nil {
				if delete(set, id); len(set) == 0 {
					delete(rs.byChannel, ch)
				}
			}
		}
		if len(rs.all) == 0 && len(rs.byChannel) == 0 {
			delete(s.routes, k)
		}
	}
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
	if w.Tenant != old.Tenant {
		return TenantChanged(w, old.Tenant)
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
	s.remove(w.ID)
	s.put(c)
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
	// Disabled records stay indexed (ListActive skips them), so only the
	// stored copy changes.
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
	s.remove(id)
	return nil
}

// List implements Store.
func (s *MemoryStore) List(ctx context.Context, q ListQuery) (Page, error) {
	var after *Cursor
	if q.After != "" {
		c, err := ParseCursor(q.After)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	s.mu.RLock()
	var out []*Webhook
	if q.AllTenants {
		out = make([]*Webhook, 0, len(s.recs))
		for _, w := range s.recs {
			out = append(out, w)
		}
	} else {
		ids := s.byTenant[q.Tenant]
		out = make([]*Webhook, 0, len(ids))
		for id := range ids {
			out = append(out, s.recs[id])
		}
	}
	s.mu.RUnlock()
	sortRecords(out)
	start := 0
	if after != nil {
		start = sort.Search(len(out), func(i int) bool { return !after.Before(out[i].CreatedAt, out[i].ID) })
	}
	out = out[start:]
	p := Page{}
	if n := q.PageSize(); len(out) > n {
		out = out[:n]
		p.Next = CursorAfter(out[n-1]).String()
	}
	p.Records = make([]*Webhook, len(out))
	for i, w := range out {
		p.Records[i] = w.Clone()
	}
	return p, nil
}

// ListActive implements Store.
func (s *MemoryStore) ListActive(ctx context.Context, r Route) ([]*Webhook, error) {
	return s.listActive(r, (*Webhook).Clone, nil), nil
}

// listActive is ListActive, each record passed through view: Clone for
// callers that own the result, shared for the Dispatcher, which only reads
// the IDs. The records are appended to out[:0], so that a caller's small
// array spares an allocation.
func (s *MemoryStore) listActive(r Route, view func(*Webhook) *Webhook, out []*Webhook) []*Webhook {
	s.mu.RLock()
	if rs := s.routes[routeKey{r.Tenant, r.Trigger}]; rs != nil {
		out = slices.Grow(out[:0], len(rs.all))
		for id := range rs.all {
			if w := s.recs[id]; !w.Disabled {
				out = append(out, view(w))
			}
		}
		var seen map[uuid.UUID]bool
		for _, ch := range r.Channels {
			for id := range rs.byChannel[ch] {
				if w := s.recs[id]; !w.Disabled && !seen[id] {
					if seen == nil {
						seen = map[uuid.UUID]bool{}
					}
					seen[id] = true
					out = append(out, view(w))
				}
			}
		}
	}
	s.mu.RUnlock()
	sortRecords(out)
	if out == nil {
		out = []*Webhook{}
	}
	return out
}

// shared returns w itself: the stored records are never changed in place
// (every write stores a new copy), so a reader that does not modify them
// may use them without a copy.
func shared(w *Webhook) *Webhook { return w }

// getShared is Get without the copy, for the Sender, which only reads the
// record, and with the record's ID as text, formatted once per record.
func (s *MemoryStore) getShared(id uuid.UUID) (*Webhook, string, error) {
	s.mu.RLock()
	w, ok := s.recs[id]
	text := s.idText[id]
	s.mu.RUnlock()
	if !ok {
		return nil, "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return w, text, nil
}

// sortRecords sorts ws oldest first, then by ID, the order of Store.List.
func sortRecords(ws []*Webhook) {
	slices.SortFunc(ws, func(a, b *Webhook) int {
		if c := cmp.Compare(a.CreatedAt.UnixMicro(), b.CreatedAt.UnixMicro()); c != 0 {
			return c
		}
		// The bytes' order is the order of the IDs' hex strings.
		return bytes.Compare(a.ID[:], b.ID[:])
	})
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
