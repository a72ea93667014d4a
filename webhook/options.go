package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook/netguard"
)

// Defaults used when no option says otherwise.
const (
	DefaultAttemptTimeout = 15 * time.Second
	DefaultMaxBodySize    = 1 << 20 // 1 MiB
	DefaultExcerptSize    = 1 << 10 // 1 KiB kept on the Delivery
	DefaultMaxRetryAfter  = 5 * time.Minute
	DefaultMaxAttempts    = 5
)

// DefaultBackOff is the retry schedule used without WithBackOff: exponential
// from 500ms, doubling, ±50% jitter, at most 30s between attempts, at most
// DefaultMaxAttempts attempts and one minute in all. On transport.Sync the
// minute bounds the whole delivery, attempts included: an attempt still
// running at the minute is cut off, and a retry (or a Retry-After) that
// would start after it ends the delivery at once, failed but retryable
// (transport.ErrBudgetExceeded).
func DefaultBackOff() backoff.BackOff {
	d := &defaultBackOff{ExponentialBackOff: backoff.ExponentialBackOff{
		InitialInterval:     500 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         30 * time.Second,
		MaxElapsedTime:      time.Minute,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}}
	d.ExponentialBackOff.Reset()
	return d
}

// defaultBackOff is DefaultBackOff in one allocation: what
// transport.LimitAttempts(exponential, DefaultMaxAttempts) does, around an
// exponential back-off it holds by value. Each delivery makes one.
type defaultBackOff struct {
	backoff.ExponentialBackOff
	retries int
}

func (d *defaultBackOff) NextBackOff() time.Duration {
	if d.retries >= DefaultMaxAttempts-1 {
		return backoff.Stop
	}
	d.retries++
	return d.ExponentialBackOff.NextBackOff()
}

func (d *defaultBackOff) Reset() {
	d.retries = 0
	d.ExponentialBackOff.Reset()
}

// MaxElapsedTime implements transport.ElapsedLimiter.
func (d *defaultBackOff) MaxElapsedTime() time.Duration { return d.ExponentialBackOff.MaxElapsedTime }

// senderConfig is what a Sender is built from.
type senderConfig struct {
	propagator     Propagator
	client         *http.Client
	guard          *netguard.Guard
	newBackOff     func() backoff.BackOff
	log            *slog.Logger
	now            func() time.Time
	systemClock    bool // now is time.Now: one reading serves a deadline too
	attemptTimeout time.Duration
	excerpt        int
	maxRetryAfter  time.Duration
	userAgent      string
	middleware     []transport.Middleware
	// concurrency is how many attempts are expected at once (0: not
	// known); the default client keeps that many idle connections per host.
	concurrency int
}

// dispatcherConfig is what a Dispatcher is built from: its own settings and
// its Sender's.
type dispatcherConfig struct {
	sender    senderConfig
	transport transport.Transport
	newID     func() uuid.UUID // nil: newDeliveryIDAt (Dispatcher.deliveryID)
	maxBody   int

	idempotencyWindow time.Duration
	idempotencyKeys   int
	observers         []func(context.Context, Dispatched)
}

func defaultSenderConfig() senderConfig {
	return senderConfig{
		newBackOff:     DefaultBackOff,
		now:            time.Now,
		systemClock:    true,
		attemptTimeout: DefaultAttemptTimeout,
		excerpt:        DefaultExcerptSize,
		maxRetryAfter:  DefaultMaxRetryAfter,
		userAgent:      "outhook/0.1 (+https://github.com/outhook/outhook)",
	}
}

// fill completes c after the options ran.
func (c *senderConfig) fill() {
	if c.client == nil {
		c.client = netguard.NewClient(c.guard,
			netguard.WithMaxIdleConnsPerHost(max(c.concurrency, netguard.DefaultMaxIdleConnsPerHost)))
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now, c.systemClock = time.Now, true
	}
	if c.newBackOff == nil {
		c.newBackOff = DefaultBackOff
	}
}

func newSenderConfig(opts []SenderOption) senderConfig {
	c := defaultSenderConfig()
	for _, o := range opts {
		if o != nil {
			o.applySender(&c)
		}
	}
	c.fill()
	return c
}

func newDispatcherConfig(opts []DispatcherOption) dispatcherConfig {
	c := dispatcherConfig{sender: defaultSenderConfig(), maxBody: DefaultMaxBodySize,
		idempotencyWindow: DefaultIdempotencyWindow, idempotencyKeys: DefaultIdempotencyKeys}
	for _, o := range opts {
		if o != nil {
			o.applyDispatcher(&c)
		}
	}
	if c.transport == nil {
		c.transport = transport.Sync{}
	}
	if cc, ok := c.transport.(concurrent); ok && c.sender.concurrency <= 0 {
		c.sender.concurrency = cc.Concurrency()
	}
	c.sender.fill()
	if c.idempotencyWindow <= 0 {
		c.idempotencyWindow = DefaultIdempotencyWindow
	}
	if c.idempotencyKeys <= 0 {
		c.idempotencyKeys = DefaultIdempotencyKeys
	}
	return c
}

// DispatcherOption configures a Dispatcher (NewDispatcher). Every
// SenderOption is one too: it configures the Dispatcher's Sender.
type DispatcherOption interface {
	applyDispatcher(*dispatcherConfig)
}

// SenderOption configures a Sender (NewSender), or the Sender of a
// Dispatcher when given to NewDispatcher.
type SenderOption interface {
	DispatcherOption
	applySender(*senderConfig)
}

// senderOption is a SenderOption; given to a Dispatcher it configures the
// Dispatcher's Sender.
type senderOption func(*senderConfig)

func (o senderOption) applySender(c *senderConfig)         { o(c) }
func (o senderOption) applyDispatcher(c *dispatcherConfig) { o(&c.sender) }

// dispatcherOption is a DispatcherOption that does not apply to a Sender.
type dispatcherOption func(*dispatcherConfig)

func (o dispatcherOption) applyDispatcher(c *dispatcherConfig) { o(c) }

// WithHTTPClient sets the client every attempt goes through, instead of the
// default guarded one. Guarding it is then up to you: netguard.Wrap(c, g)
// adds the same dial-time checks. Its Timeout, if any, applies on top of the
// per-attempt timeout.
func WithHTTPClient(c *http.Client) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.client = c })
}

// WithGuard sets the network guard of the default client (netguard.New()
// otherwise: loopback, private, link-local and other special-purpose
// addresses are refused at dial time, redirects are not followed). Use
// netguard.New(netguard.AllowLoopback()) for tests, netguard.AllowPrivate()
// for intranets. A client given with WithHTTPClient is used as it is.
func WithGuard(g *netguard.Guard) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.guard = g })
}

// WithBackOff sets the retry schedule; newBackOff is called once per delivery.
// Return backoff.Stop from NextBackOff to give up.
func WithBackOff(newBackOff func() backoff.BackOff) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.newBackOff = newBackOff })
}

// WithLogger sets the logger for attempts (slog.Default() otherwise).
// Secrets are never logged.
func WithLogger(l *slog.Logger) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.log = l })
}

// WithAttemptTimeout bounds each attempt, the response body read included
// (DefaultAttemptTimeout otherwise).
func WithAttemptTimeout(d time.Duration) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.attemptTimeout = d })
}

// WithMaxRetryAfter caps how long a receiver's Retry-After can delay a retry
// (DefaultMaxRetryAfter otherwise).
func WithMaxRetryAfter(d time.Duration) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.maxRetryAfter = d })
}

// WithClock sets the clock for timestamps: attempt start times, signed
// timestamps, Retry-After dates and, on a Dispatcher, delivery creation times.
func WithClock(now func() time.Time) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.now, cfg.systemClock = now, false })
}

// WithUserAgent sets the User-Agent header of every attempt.
func WithUserAgent(ua string) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.userAgent = ua })
}

// WithMiddleware wraps every attempt, first given outermost. Endpoint
// health, rate limits and delivery logs plug in here, and apply under every
// transport.
func WithMiddleware(mw ...transport.Middleware) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.middleware = append(cfg.middleware, mw...) })
}

// WithConcurrency tells the Sender how many attempts to expect at once, so
// that the default client keeps as many idle connections per host (at least
// netguard.DefaultMaxIdleConnsPerHost): with fewer, each connection beyond
// them is closed after its request and dialed, and checked by the guard,
// again. A Dispatcher sets it from its transport when the transport reports
// its concurrency (transport.Sync and transport.Memory do); give it to a
// Sender that workers of your own drive. A client given with WithHTTPClient
// is used as it is.
func WithConcurrency(n int) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.concurrency = n })
}

// concurrent is a transport that reports how many attempts it makes at once
// at most, such as transport.Sync (WithMaxConcurrency) and transport.Memory
// (its workers).
type concurrent interface{ Concurrency() int }

// WithTransport sets how a Dispatcher's deliveries travel (transport.Sync{}
// otherwise). DispatchVia sends one Dispatch through another transport.
func WithTransport(t transport.Transport) DispatcherOption {
	return dispatcherOption(func(cfg *dispatcherConfig) { cfg.transport = t })
}

// WithMaxBodySize caps the encoded message size (DefaultMaxBodySize
// otherwise); Dispatch refuses a larger one with an error matching
// ErrBodyTooLarge before anything is sent or queued.
func WithMaxBodySize(n int) DispatcherOption {
	return dispatcherOption(func(cfg *dispatcherConfig) { cfg.maxBody = n })
}

// WithIDGenerator sets how a Dispatcher makes delivery IDs (UUIDv7 otherwise).
func WithIDGenerator(newID func() uuid.UUID) DispatcherOption {
	return dispatcherOption(func(cfg *dispatcherConfig) { cfg.newID = newID })
}

// WithIdempotencyWindow sets how long the Dispatcher remembers an
// idempotency key on transports that do not de-duplicate themselves
// (DefaultIdempotencyWindow; see WithIdempotencyKey).
func WithIdempotencyWindow(d time.Duration) DispatcherOption {
	return dispatcherOption(func(cfg *dispatcherConfig) { cfg.idempotencyWindow = d })
}

// WithIdempotencyKeys sets how many idempotency keys the Dispatcher
// remembers at most on transports that do not de-duplicate themselves
// (DefaultIdempotencyKeys); beyond it, the oldest is forgotten first.
func WithIdempotencyKeys(n int) DispatcherOption {
	return dispatcherOption(func(cfg *dispatcherConfig) { cfg.idempotencyKeys = n })
}

// WithObserver calls fn after every Dispatch and DispatchVia that returns
// without an error, with what was dispatched and the deliveries returned,
// also when no record was reached. Test helpers record dispatches with it
// (see webhook/webhooktest). fn runs in the dispatching goroutine, after the
// transport accepted the deliveries, and should return quickly; several
// observers run in the order given.
func WithObserver(fn func(ctx context.Context, d Dispatched)) DispatcherOption {
	return dispatcherOption(func(cfg *dispatcherConfig) { cfg.observers = append(cfg.observers, fn) })
}

// Propagator writes propagation fields of ctx, such as the current span's
// W3C trace context, into carrier. OpenTelemetry's TextMapPropagator fits
// it with a small adapter (outhook's telemetry module has one).
type Propagator interface {
	Inject(ctx context.Context, carrier map[string]string)
}

// WithPropagator sets how trace context travels. A Dispatcher injects the
// dispatching context into every envelope's Meta, so that attempts made
// later (Memory) or in another process (River) can link to it; the Sender
// injects each attempt's context into the request's headers, for records
// with PropagateTrace only.
func WithPropagator(p Propagator) SenderOption {
	return senderOption(func(cfg *senderConfig) { cfg.propagator = p })
}
