package webhook

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/outhook/outhook/trigger"
)

// ErrInvalidIdempotencyKey is matched by the error of a dispatch whose
// idempotency key is too long or holds a control character.
var ErrInvalidIdempotencyKey = errors.New("webhook: invalid idempotency key")

// MaxIdempotencyKeyLen is the longest idempotency key, in bytes.
const MaxIdempotencyKeyLen = 255

// Defaults of the in-process idempotency record.
const (
	// DefaultIdempotencyWindow is how long a dispatch's idempotency key
	// holds (WithIdempotencyWindow).
	DefaultIdempotencyWindow = 24 * time.Hour
	// DefaultIdempotencyKeys is how many keys a Dispatcher remembers at
	// most (WithIdempotencyKeys).
	DefaultIdempotencyKeys = 10000
)

// Encode returns the body Dispatch sends for msg: JSONSerialize's value
// encoded without HTML escaping (nil is sent as null), or a json.RawMessage
// as it is once checked to be valid JSON. A nil message or nil pointer
// gives ErrNilMessage; a value that cannot be encoded, or a JSONSerialize
// that panics, an error matching ErrEncode. Admin screens and test helpers
// show bodies with it.
func Encode(msg trigger.Message) ([]byte, error) {
	if isNil(msg) {
		return nil, fmt.Errorf("%w (%T)", ErrNilMessage, msg)
	}
	body, err := encode(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	return body, nil
}

// ChannelMessage is a message that carries its own channel labels; Dispatch
// adds them to those given WithChannels.
type ChannelMessage interface {
	trigger.Message
	// Channels returns the message's channel labels.
	Channels() []string
}

// DispatchOption configures one Dispatch.
type DispatchOption interface{ applyDispatch(*dispatchConfig) }

type dispatchOption func(*dispatchConfig)

func (o dispatchOption) applyDispatch(c *dispatchConfig) { o(c) }

// dispatchConfig is what one Dispatch's options say.
type dispatchConfig struct {
	tenant    string
	hasTenant bool
	channels  []string
	key       string
}

// WithTenant dispatches the message for tenant: it reaches only that
// tenant's records. The tenant is written at the call site on purpose, and
// a trigger registered with trigger.PerTenant cannot be dispatched without
// it (ErrTenantRequired). WithTenant("") names the application's own
// records explicitly.
func WithTenant(tenant string) DispatchOption {
	return dispatchOption(func(c *dispatchConfig) { c.tenant, c.hasTenant = tenant, true })
}

// WithChannels labels the message with channels, such as
// "campaign/tech-conf": besides the records without channels, it reaches
// the records restricted to one of them. Repeated options add up.
func WithChannels(channels ...string) DispatchOption {
	return dispatchOption(func(c *dispatchConfig) { c.channels = append(c.channels, channels...) })
}

// WithIdempotencyKey makes the dispatch idempotent: a second dispatch with
// the same key, tenant and trigger within the window creates no deliveries
// and returns the first one's, marked Duplicate. A concurrent second
// dispatch waits for the first. A dispatch that returns an error leaves no
// trace, so it may be retried with the same key.
//
// On transports that are not a transport.Deduplicator (Sync, Memory) the
// Dispatcher remembers keys in memory: in this process only, for
// WithIdempotencyWindow (24 h by default), and at most
// WithIdempotencyKeys keys (10,000), the oldest forgotten first. The River
// transport keeps them in the database with River's unique jobs.
func WithIdempotencyKey(key string) DispatchOption {
	return dispatchOption(func(c *dispatchConfig) { c.key = key })
}

// newDispatchConfig applies opts and checks them and msg.
func newDispatchConfig(msg trigger.Message, opts []DispatchOption) (dispatchConfig, error) {
	var c dispatchConfig
	if isNil(msg) {
		return c, fmt.Errorf("%w (%T)", ErrNilMessage, msg)
	}
	if len(opts) > 0 {
		c = applyDispatchOptions(opts)
	}
	if cm, ok := msg.(ChannelMessage); ok {
		c.channels = append(c.channels, cm.Channels()...)
	}
	c.channels = dedupe(c.channels)
	if err := ValidateTenant(c.tenant); err != nil {
		return c, err
	}
	if err := validateChannels(c.channels, MaxMessageChannels); err != nil {
		return c, err
	}
	switch {
	case len(c.key) > MaxIdempotencyKeyLen:
		return c, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidIdempotencyKey, len(c.key), MaxIdempotencyKeyLen)
	case !validHeaderValue(c.key):
		return c, fmt.Errorf("%w: it holds a control character", ErrInvalidIdempotencyKey)
	}
	return c, nil
}

// applyDispatchOptions returns the config opts say. It is a function of
// its own so that only a Dispatch with options puts a config on the heap.
func applyDispatchOptions(opts []DispatchOption) dispatchConfig {
	var c dispatchConfig
	for _, o := range opts {
		o.applyDispatch(&c)
	}
	return c
}

// cacheKey is the in-process idempotency key of the dispatch of trigger.
func (c dispatchConfig) cacheKey(trigger string) string {
	return c.tenant + "\x00" + trigger + "\x00" + c.key
}

// dedupe returns cs without repeated labels, in their first order.
func dedupe(cs []string) []string {
	if len(cs) < 2 {
		return cs
	}
	out := cs[:0:0]
	for _, c := range cs {
		dup := false
		for _, o := range out {
			dup = dup || o == c
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// idempotencyCache remembers the deliveries of recent dispatches by key, for
// transports that do not de-duplicate themselves. It is bounded in time and
// in size, the oldest keys forgotten first.
type idempotencyCache struct {
	window time.Duration
	limit  int

	mu    sync.Mutex
	byKey map[string]*list.Element // of *idempotent
	order *list.List               // oldest first
}

// idempotent is one remembered dispatch; done closes when it is known.
type idempotent struct {
	key        string
	at         time.Time
	done       chan struct{}
	deliveries []Delivery
	err        error
}

func newIdempotencyCache(window time.Duration, limit int) *idempotencyCache {
	return &idempotencyCache{window: window, limit: limit, byKey: map[string]*list.Element{}, order: list.New()}
}

// do runs dispatch once per key within the window: a later call with the
// same key waits for the first and returns its deliveries as duplicates; a
// first call that fails is forgotten, and the next call runs again.
func (c *idempotencyCache) do(ctx context.Context, now time.Time, key string, dispatch func() ([]Delivery, error)) ([]Delivery, error) {
	for {
		e, leader := c.claim(now, key)
		if leader {
			e.deliveries, e.err = dispatch()
			if e.err != nil {
				c.forget(e)
			}
			close(e.done)
			return e.deliveries, e.err
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			out := make([]Delivery, len(e.deliveries))
			for i, d := range e.deliveries {
				d.Duplicate = true
				out[i] = d
			}
			return out, nil
		}
		// The first dispatch failed and was forgotten: try again.
	}
}

// claim returns the remembered dispatch of key, or a new one that the
// caller leads.
func (c *idempotencyCache) claim(now time.Time, key string) (*idempotent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*idempotent)
		if now.Sub(e.at) < c.window && c.order.Len() < c.limit {
			break
		}
		c.order.Remove(f)
		delete(c.byKey, e.key)
	}
	if el, ok := c.byKey[key]; ok {
		return el.Value.(*idempotent), false
	}
	e := &idempotent{key: key, at: now, done: make(chan struct{})}
	c.byKey[key] = c.order.PushBack(e)
	return e, true
}

// forget drops e, unless it was dropped already.
func (c *idempotencyCache) forget(e *idempotent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[e.key]; ok && el.Value == e {
		c.order.Remove(el)
		delete(c.byKey, e.key)
	}
}
