package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

// DefaultRecordCacheTTL is how long the outbox's worker reuses a record it
// read (outbox.WithRecordCache).
const DefaultRecordCacheTTL = time.Second

// RecordCache is a webhook.Getter over a Store that reuses a record it read
// for up to a TTL: the durable worker's Sender reads each record through
// one instead of with a query per attempt. Its bound is exact: an attempt
// that starts at time t sends with a record read from the database at t −
// TTL or later. So a record disabled, deleted, rotated or otherwise changed
// by another process (or directly in the database) stops or affects the
// deliveries still queued at most TTL after the change committed; a change
// made through the same Store (Update, Disable, Delete, and so
// webhook.Modify, webhook.RotateSecret and the health monitor's
// auto-disable) applies to the next attempt, as without a cache: every
// record read before such a write is read again. Errors (a deleted record's
// webhook.ErrNotFound) are never kept. Get returns a copy the caller owns.
// Safe for concurrent use.
type RecordCache struct {
	s   *Store
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	m     map[uuid.UUID]cachedRecord
	swept time.Time // when m was last cleared of expired records
}

type cachedRecord struct {
	w      *webhook.Webhook
	readAt time.Time // taken before the read
	writes uint64    // the Store's writes before the read
}

// CacheOption configures a RecordCache.
type CacheOption func(*RecordCache)

// WithCacheClock sets the clock the TTL is measured on (time.Now otherwise).
func WithCacheClock(now func() time.Time) CacheOption {
	return func(c *RecordCache) {
		if now != nil {
			c.now = now
		}
	}
}

// NewRecordCache returns a RecordCache over s that keeps records for ttl;
// ttl <= 0 turns it off: every Get is s.Get.
func NewRecordCache(s *Store, ttl time.Duration, opts ...CacheOption) *RecordCache {
	c := &RecordCache{s: s, ttl: ttl, now: time.Now, m: map[uuid.UUID]cachedRecord{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Get implements webhook.Getter.
func (c *RecordCache) Get(ctx context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	if c.ttl <= 0 {
		return c.s.Get(ctx, id)
	}
	// Both before the read: the record is at least as fresh as they say.
	writes, now := c.s.writes.Load(), c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.writes == writes && c.fresh(e.readAt, now) {
		return e.w.Clone(), nil
	}
	w, err := c.s.Get(ctx, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.m, id)
		return nil, err
	}
	c.m[id] = cachedRecord{w: w, readAt: now, writes: writes}
	c.sweep(now)
	return w.Clone(), nil
}

// fresh reports whether a record read at readAt may still be used at now.
// A clock that went back counts as expired.
func (c *RecordCache) fresh(readAt, now time.Time) bool {
	age := now.Sub(readAt)
	return age >= 0 && age < c.ttl
}

// sweep drops expired records, at most once a TTL, so that the cache holds
// about the records of the last two TTLs. c.mu is held.
func (c *RecordCache) sweep(now time.Time) {
	if c.fresh(c.swept, now) {
		return
	}
	c.swept = now
	for id, e := range c.m {
		if !c.fresh(e.readAt, now) {
			delete(c.m, id)
		}
	}
}

// Len returns how many records the cache holds, expired ones included.
func (c *RecordCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
