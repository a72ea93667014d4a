package sqlstore

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

// DefaultCacheTTL is the longest a Cache built by the outbox keeps what it
// read (outbox.WithCache).
const DefaultCacheTTL = time.Second

// Cache is a webhook.Lookup over a Store that reuses what it read, for up
// to a TTL: records (Get, which the worker's Sender calls for each attempt)
// and the records of a route (ListActive, which Dispatch calls). It never
// serves anything read before a change it can know of:
//
//   - A write through the same Store (Create, Update, Disable, Delete, and so
//     webhook.Modify, webhook.RotateSecret and the health monitor's
//     auto-disable) applies to the next Get or ListActive: everything read
//     before it ended is read again.
//   - On SQLite, a change by any connection or process applies at once
//     too: Migrate adds triggers that count every change of the record and
//     route tables in outhook_webhook_version, in the changing transaction,
//     and the Cache reads that count (one prepared one-row read) before it
//     serves anything, reading again whatever was read under another count.
//   - On PostgreSQL, Migrate adds triggers that send a notification on
//     ChangeChannel in every transaction that changes those tables; a
//     listener (outboxpg starts one) calls Invalidate for each, and Pause
//     while it does not listen. A change then applies from the moment the
//     notification is received, typically a few milliseconds after the
//     commit, and at most the TTL after it (for a listener whose connection
//     died silently, until it notices).
//   - Without either, a change by another process applies at most the TTL
//     after it committed: a lookup at time t uses what was read at t − TTL
//     or later.
//
// Errors (a deleted record's webhook.ErrNotFound) are never kept. Get and
// ListActive return copies the caller owns. Safe for concurrent use.
type Cache struct {
	s   *Store
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	gen    uint64 // Invalidate, Pause and Resume count up
	paused bool
	recs   map[uuid.UUID]cachedRecord
	routes map[string]cachedRoute
	swept  time.Time // when the maps were last cleared of expired entries
}

// stamp is what a read was made under, taken before it: an entry serves a
// lookup only under the same stamp, within the TTL of readAt.
type stamp struct {
	writes  uint64 // the Store's writes
	gen     uint64 // the Cache's invalidations
	version int64  // the database's change count (SQLite), or 0
	readAt  time.Time
}

type cachedRecord struct {
	w *webhook.Webhook
	stamp
}

type cachedRoute struct {
	ws []*webhook.Webhook
	stamp
}

// CacheOption configures a Cache.
type CacheOption func(*Cache)

// WithCacheClock sets the clock the TTL is measured on (time.Now otherwise).
func WithCacheClock(now func() time.Time) CacheOption {
	return func(c *Cache) {
		if now != nil {
			c.now = now
		}
	}
}

// WithCachePaused makes the Cache start paused (see Pause), for a cache
// whose listener calls Resume once it listens.
func WithCachePaused() CacheOption { return func(c *Cache) { c.paused = true } }

// NewCache returns a Cache over s that keeps what it read for ttl; ttl <= 0
// turns it off: every lookup reads s.
func NewCache(s *Store, ttl time.Duration, opts ...CacheOption) *Cache {
	c := &Cache{s: s, ttl: ttl, now: time.Now, recs: map[uuid.UUID]cachedRecord{}, routes: map[string]cachedRoute{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Invalidate drops everything the Cache holds: the next lookups read the
// Store. A listener calls it for each change notification.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
}

// Pause drops everything and makes every lookup read the Store, until
// Resume: a listener calls it when it stops listening, since changes would
// go unnoticed.
func (c *Cache) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	c.drop()
}

// Resume ends a Pause: a listener calls it once it listens again. What was
// read before is dropped, changes made meanwhile having gone unnoticed.
func (c *Cache) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
	c.drop()
}

// drop empties the maps and makes every stamp taken so far stale. c.mu is
// held.
func (c *Cache) drop() {
	c.gen++
	clear(c.recs)
	clear(c.routes)
}

// begin returns the stamp of a read starting now, and whether the Cache may
// serve or keep anything under it: not when it is off or paused, or when
// the database's change count cannot be read.
func (c *Cache) begin(ctx context.Context) (stamp, bool) {
	if c.ttl <= 0 {
		return stamp{}, false
	}
	// All before the read: it is at least as fresh as they say.
	st := stamp{writes: c.s.writes.Load(), readAt: c.now()}
	c.mu.Lock()
	var on bool
	st.gen, on = c.gen, !c.paused
	c.mu.Unlock()
	if !on {
		return stamp{}, false
	}
	if c.s.d.dollar {
		return st, true
	}
	v, err := c.s.changeCount(ctx)
	if err != nil {
		return stamp{}, false
	}
	st.version = v
	return st, true
}

// serves reports whether an entry read under e may serve a lookup under
// st. A clock that went back counts as expired.
func (c *Cache) serves(e, st stamp) bool {
	age := st.readAt.Sub(e.readAt)
	return e.writes == st.writes && e.gen == st.gen && e.version == st.version && age >= 0 && age < c.ttl
}

// Get implements webhook.Getter.
func (c *Cache) Get(ctx context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	st, on := c.begin(ctx)
	if !on {
		return c.s.Get(ctx, id)
	}
	c.mu.Lock()
	e, ok := c.recs[id]
	c.mu.Unlock()
	if ok && c.serves(e.stamp, st) {
		return e.w.Clone(), nil
	}
	w, err := c.s.Get(ctx, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.recs, id)
		return nil, err
	}
	if st.gen == c.gen { // else an invalidation came during the read
		c.recs[id] = cachedRecord{w: w, stamp: st}
		c.sweep(st.readAt)
	}
	return w.Clone(), nil
}

// ListActive implements webhook.Lister: the records of r, from the route's
// last read when it may serve.
func (c *Cache) ListActive(ctx context.Context, r webhook.Route) ([]*webhook.Webhook, error) {
	st, on := c.begin(ctx)
	if !on {
		return c.s.ListActive(ctx, r)
	}
	key := routeKey(r)
	c.mu.Lock()
	e, ok := c.routes[key]
	c.mu.Unlock()
	if ok && c.serves(e.stamp, st) {
		return cloneAll(e.ws), nil
	}
	ws, err := c.s.ListActive(ctx, r)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.gen == c.gen {
		c.routes[key] = cachedRoute{ws: ws, stamp: st}
		c.sweep(st.readAt)
	}
	return cloneAll(ws), nil
}

// routeKey identifies what ListActive returns for r: its tenant, trigger
// and set of channels.
func routeKey(r webhook.Route) string {
	var b strings.Builder
	b.WriteString(r.Tenant)
	b.WriteByte(0)
	b.WriteString(r.Trigger)
	chs := slices.Clone(r.Channels)
	slices.Sort(chs)
	for _, ch := range slices.Compact(chs) {
		b.WriteByte(0)
		b.WriteString(ch)
	}
	return b.String()
}

func cloneAll(ws []*webhook.Webhook) []*webhook.Webhook {
	out := make([]*webhook.Webhook, len(ws))
	for i, w := range ws {
		out[i] = w.Clone()
	}
	return out
}

// sweep drops expired entries, at most once a TTL, so that the Cache holds
// about what was read in the last two TTLs. c.mu is held.
func (c *Cache) sweep(now time.Time) {
	if age := now.Sub(c.swept); age >= 0 && age < c.ttl {
		return
	}
	c.swept = now
	fresh := func(readAt time.Time) bool { age := now.Sub(readAt); return age >= 0 && age < c.ttl }
	maps.DeleteFunc(c.recs, func(_ uuid.UUID, e cachedRecord) bool { return !fresh(e.readAt) })
	maps.DeleteFunc(c.routes, func(_ string, e cachedRoute) bool { return !fresh(e.readAt) })
}

// Len returns how many records and routes the Cache holds, expired ones
// included.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs) + len(c.routes)
}
