package signer

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// HeaderDeliveryID carries the delivery's ID, the same on every retry: the
// header outhook's sender sets (webhook.HeaderDeliveryID). A Receiver's
// ReplayGuard reads it for the schemes that sign no ID of their own.
const HeaderDeliveryID = "Webhook-Delivery-Id"

var (
	// ErrReplayed is returned by a Receiver's Middleware, with 409 Conflict,
	// for a verified request whose ID its ReplayGuard has already seen.
	ErrReplayed = errors.New("signer: replayed request")
	// ErrReplayGuardFull is returned by a MemoryReplayGuard that holds as
	// many unexpired IDs as it may; the request is refused (503) rather
	// than an ID forgotten early, which would let its replay through.
	ErrReplayGuardFull = errors.New("signer: replay guard full")
)

// errReplayGuard marks an error of the ReplayGuard itself.
var errReplayGuard = errors.New("signer: replay guard")

// ReplayGuard remembers the IDs of the requests a Receiver has accepted, so
// that it refuses one sent again. MemoryReplayGuard keeps them in the
// process; a store shared by every instance of the receiver (a Redis SET NX
// with an expiry, a table with a unique key) can implement it too.
//
// The IDs are opaque strings of 64 hex digits, derived from the handler's
// name and the request's ID.
type ReplayGuard interface {
	// Seen reports whether id was remembered and has not expired, and if not,
	// remembers it until the time until; the check and the write must be
	// atomic, so that of two concurrent requests with one ID only one passes.
	Seen(ctx context.Context, id string, until time.Time) (seen bool, err error)
	// Forget drops id, so that the sender's retry of a request the
	// application did not take is not refused as a replay.
	Forget(ctx context.Context, id string) error
}

// WithReplayGuard makes a Receiver's Middleware refuse, with 409 and an
// error matching ErrReplayed, a verified request whose ID g has already
// seen, and forget the ID again when next answers other than 2xx (or
// panics), so that the sender's retry gets through. A failing guard makes it
// answer 503. To see the status, next gets a ResponseWriter that
// http.ResponseController unwraps and that is an http.Flusher, but no other
// optional interface of the server's. Verify does not consult g. A nil g is
// refused with ErrInvalidConfig. Only NewReceiver accepts it.
//
// A request is a replay when its ID was accepted before, whatever its
// timestamp: a sender's retry of a delivery whose 2xx answer was lost is
// refused too (409, which outhook's sender does not retry), and so is a
// retry that arrives while next still handles the first attempt.
//
// The ID is what the request's signature covers where the scheme signs one:
// the webhook-id (or svix-id) of SchemeStandardWebhooks, remembered until its
// timestamp leaves the tolerance, after which the timestamp check refuses a
// replay by itself. SchemeTYPO3, SchemeHMAC, SchemeToken and SchemeNone sign
// no ID: for them the guard reads the Webhook-Delivery-Id header (see
// HeaderDeliveryID), remembers it for the tolerance, and lets a request
// without one through. That header is not signed, so whoever replays a
// captured request can change it: there the guard stops accidental
// duplicates and naive replays, not a determined attacker.
func WithReplayGuard(g ReplayGuard) ReceiverOption {
	return receiverOptionFunc(func(o *receiverOptions) error {
		if g == nil {
			return fmt.Errorf("%w: nil replay guard", ErrInvalidConfig)
		}
		o.replayGuard = g
		return nil
	})
}

// replayKey is the ID a Receiver gives its ReplayGuard for a request that
// handler verified: fixed-length, so that neither a long header nor a
// handler's name can make one key look like another.
func replayKey(handler, id string) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(len(handler)) + ":" + handler + ":" + id))
	return hex.EncodeToString(sum[:])
}

// MemoryReplayGuard is a ReplayGuard that keeps at most a fixed number of
// IDs in memory, each until it expires. Create it with NewMemoryReplayGuard;
// it is safe for concurrent use.
type MemoryReplayGuard struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]*guardEntry
	expiry  guardHeap
}

var _ ReplayGuard = (*MemoryReplayGuard)(nil)

// MemoryReplayGuardOption configures NewMemoryReplayGuard. WithGuardClock
// returns one.
type MemoryReplayGuardOption interface {
	applyMemoryReplayGuard(*MemoryReplayGuard) error
}

type memoryReplayGuardOptionFunc func(*MemoryReplayGuard) error

func (f memoryReplayGuardOptionFunc) applyMemoryReplayGuard(g *MemoryReplayGuard) error { return f(g) }

// WithGuardClock sets the clock a MemoryReplayGuard expires IDs by (default
// time.Now); give it the Receiver's clock (WithClock). A nil now is refused
// with ErrInvalidConfig. Only NewMemoryReplayGuard accepts it.
func WithGuardClock(now func() time.Time) MemoryReplayGuardOption {
	return memoryReplayGuardOptionFunc(func(g *MemoryReplayGuard) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		g.now = now
		return nil
	})
}

// NewMemoryReplayGuard returns a MemoryReplayGuard that remembers at most
// maxIDs unexpired IDs; when full, Seen fails with ErrReplayGuardFull. Size
// it for the requests accepted within the tolerance (DefaultTolerance, 5
// minutes). A maxIDs that is not positive is refused with ErrInvalidConfig.
func NewMemoryReplayGuard(maxIDs int, opts ...MemoryReplayGuardOption) (*MemoryReplayGuard, error) {
	if maxIDs <= 0 {
		return nil, fmt.Errorf("%w: replay guard size %d is not positive", ErrInvalidConfig, maxIDs)
	}
	g := &MemoryReplayGuard{max: maxIDs, now: time.Now, entries: make(map[string]*guardEntry)}
	if err := applyOptions(g, opts, MemoryReplayGuardOption.applyMemoryReplayGuard); err != nil {
		return nil, err
	}
	return g, nil
}

// Seen implements ReplayGuard. An until already past is not remembered.
func (g *MemoryReplayGuard) Seen(_ context.Context, id string, until time.Time) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.expire(now)
	if _, ok := g.entries[id]; ok {
		return true, nil
	}
	if until.Before(now) {
		return false, nil
	}
	if len(g.entries) >= g.max {
		return false, fmt.Errorf("%w: %d ids unexpired", ErrReplayGuardFull, len(g.entries))
	}
	e := &guardEntry{id: id, until: until}
	heap.Push(&g.expiry, e)
	g.entries[id] = e
	return false, nil
}

// Forget implements ReplayGuard.
func (g *MemoryReplayGuard) Forget(_ context.Context, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.entries[id]; ok {
		heap.Remove(&g.expiry, e.index)
		delete(g.entries, id)
	}
	return nil
}

// Len returns the number of IDs remembered and not yet expired.
func (g *MemoryReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(g.now())
	return len(g.entries)
}

// expire drops the IDs whose time is past.
func (g *MemoryReplayGuard) expire(now time.Time) {
	for len(g.expiry) > 0 && g.expiry[0].until.Before(now) {
		e := heap.Pop(&g.expiry).(*guardEntry)
		delete(g.entries, e.id)
	}
}

type guardEntry struct {
	id    string
	until time.Time
	index int
}

// guardHeap orders entries by expiry, soonest first (container/heap).
type guardHeap []*guardEntry

func (h guardHeap) Len() int           { return len(h) }
func (h guardHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h guardHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *guardHeap) Push(x any) {
	e := x.(*guardEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *guardHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
