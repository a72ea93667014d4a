package webhook

import (
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
// DefaultMaxAttempts attempts and one minute in all.
func DefaultBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = time.Minute
	return backoff.WithMaxRetries(b, DefaultMaxAttempts-1)
}

// config is shared by Sender and Dispatcher.
type config struct {
	client         *http.Client
	newBackOff     func() backoff.BackOff
	log            *slog.Logger
	transport      transport.Transport
	now            func() time.Time
	newID          func() uuid.UUID
	attemptTimeout time.Duration
	maxBody        int
	excerpt        int
	maxRetryAfter  time.Duration
	userAgent      string
	middleware     []transport.Middleware
	guard          *netguard.Guard
}

func newConfig(opts []Option) config {
	c := config{
		newBackOff:     DefaultBackOff,
		now:            time.Now,
		newID:          newDeliveryID,
		attemptTimeout: DefaultAttemptTimeout,
		maxBody:        DefaultMaxBodySize,
		excerpt:        DefaultExcerptSize,
		maxRetryAfter:  DefaultMaxRetryAfter,
		userAgent:      "outhook/0.1 (+https://github.com/outhook/outhook)",
	}
	for _, o := range opts {
		o(&c)
	}
	if c.client == nil {
		c.client = netguard.NewClient(c.guard)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.transport == nil {
		c.transport = transport.Sync{}
	}
	return c
}

// newDeliveryID returns a time-ordered UUID (v7), so delivery logs sort by creation.
func newDeliveryID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// Option configures a Dispatcher or a Sender.
type Option func(*config)

// WithHTTPClient sets the client every attempt goes through, instead of the
// default guarded one. Guarding it is then up to you: netguard.Wrap(c, g)
// adds the same dial-time checks. Its Timeout, if any, applies on top of the
// per-attempt timeout.
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithGuard sets the network guard of the default client (netguard.New()
// otherwise: loopback, private, link-local and other special-purpose
// addresses are refused at dial time, redirects are not followed). Use
// netguard.New(netguard.AllowLoopback()) for tests, netguard.AllowPrivate()
// for intranets. It has no effect together with WithHTTPClient.
func WithGuard(g *netguard.Guard) Option { return func(cfg *config) { cfg.guard = g } }

// WithBackOff sets the retry schedule; newBackOff is called once per delivery.
// Return backoff.Stop from NextBackOff to give up.
func WithBackOff(newBackOff func() backoff.BackOff) Option {
	return func(cfg *config) { cfg.newBackOff = newBackOff }
}

// WithLogger sets the logger for attempts (slog.Default() otherwise).
// Secrets are never logged.
func WithLogger(l *slog.Logger) Option { return func(cfg *config) { cfg.log = l } }

// WithTransport sets how deliveries travel (transport.Sync{} otherwise).
func WithTransport(t transport.Transport) Option { return func(cfg *config) { cfg.transport = t } }

// WithAttemptTimeout bounds each attempt, the response body read included.
func WithAttemptTimeout(d time.Duration) Option {
	return func(cfg *config) { cfg.attemptTimeout = d }
}

// WithMaxBodySize caps the encoded message size; Dispatch refuses a larger one
// with an error matching ErrBodyTooLarge before anything is sent or queued.
func WithMaxBodySize(n int) Option { return func(cfg *config) { cfg.maxBody = n } }

// WithMaxRetryAfter caps how long a receiver's Retry-After can delay a retry.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(cfg *config) { cfg.maxRetryAfter = d }
}

// WithClock sets the clock used for timestamps.
func WithClock(now func() time.Time) Option { return func(cfg *config) { cfg.now = now } }

// WithIDGenerator sets how delivery IDs are made (UUIDv7 otherwise).
func WithIDGenerator(newID func() uuid.UUID) Option { return func(cfg *config) { cfg.newID = newID } }

// WithUserAgent sets the User-Agent header of every attempt.
func WithUserAgent(ua string) Option { return func(cfg *config) { cfg.userAgent = ua } }

// WithMiddleware wraps every attempt, first given outermost. Endpoint
// health, rate limits and delivery logs plug in here, and apply under every
// transport.
func WithMiddleware(mw ...transport.Middleware) Option {
	return func(cfg *config) { cfg.middleware = append(cfg.middleware, mw...) }
}
