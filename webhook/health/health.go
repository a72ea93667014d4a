package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// Errors of the Defer attempts the Monitor returns instead of sending.
var (
	// ErrCircuitOpen: the endpoint's circuit breaker is open, or half-open
	// with its probes under way.
	ErrCircuitOpen = errors.New("health: circuit breaker open")
	// ErrRateLimited: the endpoint's or the tenant's rate limit would delay
	// the attempt by more than the maximum wait.
	ErrRateLimited = errors.New("health: rate limit reached")
	// ErrConcurrencyLimit: the endpoint or the tenant has as many attempts in
	// flight as its concurrency limit allows.
	ErrConcurrencyLimit = errors.New("health: concurrency limit reached")
)

// Defaults used when no option says otherwise.
const (
	// DefaultDisableFailures and DefaultDisableAfter make the default
	// DisablePolicy: 20 consecutive failed attempts over at least 24 hours.
	// Retries give up long before that, so disabling loses no delivery that
	// would have succeeded; it stops the hammering and tells the owner.
	DefaultDisableFailures = 20
	DefaultDisableAfter    = 24 * time.Hour
	// DefaultBreakerFailures consecutive failed attempts open the breaker,
	// for DefaultBreakerOpenFor, after which one probe decides.
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 30 * time.Second
	// DefaultMaxWait is the longest a rate-limited attempt waits in the
	// worker before the Monitor defers it instead.
	DefaultMaxWait = 100 * time.Millisecond
)

// busyWait is the RetryAfter of an attempt refused by a full concurrency limit.
const busyWait = 500 * time.Millisecond

// hostTTL bounds how long WithPerHostLimits trusts a record's cached host.
const hostTTL = time.Minute

// maxErrorText bounds the last error kept in the state and the disabled reason.
const maxErrorText = 300

// DisablePolicy says when a failing record is disabled: after at least
// Failures consecutive failed attempts AND at least After since the first
// failure of the streak, with no success in between. A zero field leaves
// its condition out; DisablePolicy{} never disables.
type DisablePolicy struct {
	// Failures is the least number of consecutive failed attempts.
	Failures int
	// After is the least time from the streak's first failure.
	After time.Duration
}

func (p DisablePolicy) met(failures int, since time.Duration) bool {
	if p.Failures <= 0 && p.After <= 0 {
		return false
	}
	return failures >= p.Failures && since >= p.After
}

// Breaker configures the circuit breaker each endpoint has.
type Breaker struct {
	// Failures is how many consecutive failed attempts open the breaker;
	// 0 turns the breaker off.
	Failures int
	// OpenFor is how long it stays open before probing; 0 means
	// DefaultBreakerOpenFor.
	OpenFor time.Duration
	// Probes is how many attempts a half-open breaker lets through, all of
	// which must succeed to close it; 0 means 1.
	Probes int
}

// EndpointState is a snapshot of one record's health.
type EndpointState struct {
	// ConsecutiveFailures counts failed attempts since the last success.
	ConsecutiveFailures int
	// FirstFailure and LastFailure bound the current streak; zero without one.
	FirstFailure time.Time
	LastFailure  time.Time
	// LastError is the last failed attempt's error, shortened.
	LastError string
	// Breaker is the state of the endpoint's circuit breaker (shared with
	// the records on the same host under WithPerHostLimits).
	Breaker BreakerState
	// HalfOpenAt is when an open breaker will let a probe through.
	HalfOpenAt time.Time
	// InFlight counts the endpoint's attempts under way.
	InFlight int
}

// Store is what the Monitor needs of a webhook.Store: reading a record, to
// learn its host, and disabling it in one atomic write that cannot undo, or
// be undone by, an administrator's concurrent edit. Every webhook.Store,
// *webhook.MemoryStore included, is a Store.
type Store interface {
	// Get returns the record with id, or an error matching webhook.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*webhook.Webhook, error)
	// Disable disables the record if it is enabled, changing nothing else,
	// and reports whether it did (see webhook.Store).
	Disable(ctx context.Context, id uuid.UUID, reason string, at time.Time) (bool, error)
}

// Option configures a Monitor.
type Option func(*Monitor)

// WithClock sets the clock for the failure streak, the breaker and the rate
// limit, including the wait for a rate-limit slot (transport.SystemClock
// otherwise, and for a nil c).
func WithClock(c transport.Clock) Option { return func(m *Monitor) { m.clock = c } }

// WithDisablePolicy sets when a failing record is disabled (20 failures over
// 24 hours otherwise); DisablePolicy{} turns auto-disable off.
func WithDisablePolicy(p DisablePolicy) Option { return func(m *Monitor) { m.policy = p } }

// WithBreaker configures the circuit breaker (5 failures, open for 30s, one
// probe otherwise); Breaker{} turns it off.
func WithBreaker(b Breaker) Option { return func(m *Monitor) { m.brk = b } }

// WithRateLimit allows each endpoint perSecond attempts a second on average
// and burst at once (burst is at least 1). Without it, or with perSecond <= 0,
// there is no rate limit.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(m *Monitor) {
		m.rps, m.burst = rate.Limit(perSecond), max(burst, 1)
		if perSecond <= 0 {
			m.rps = rate.Inf
		}
	}
}

// WithConcurrencyLimit allows each endpoint at most n attempts in flight;
// more are deferred. Without it (or with n < 1) there is no limit.
func WithConcurrencyLimit(n int) Option { return func(m *Monitor) { m.concurrency = n } }

// WithMaxWait sets how long a rate-limited attempt may wait in the worker
// before it is deferred instead (DefaultMaxWait otherwise; 0 never waits).
func WithMaxWait(d time.Duration) Option { return func(m *Monitor) { m.maxWait = max(d, 0) } }

// WithPerHostLimits makes records whose URLs have the same host (and port)
// share one breaker, rate limit and concurrency limit, so that many records
// pointing at one receiver are treated as the one endpoint they are. The
// failure streak and auto-disable stay per record. It costs a Store.Get per
// record and minute to learn the host.
func WithPerHostLimits() Option { return func(m *Monitor) { m.perHost = true } }

// WithOnDisable sets fn to be called after the Monitor disabled a record and
// stored it, with the stored record and the reason, so the application can
// notify its owner. It runs in the worker whose attempt tipped the record
// over: hand slow work off. ctx carries the attempt's values but not its
// cancellation.
func WithOnDisable(fn func(ctx context.Context, w *webhook.Webhook, reason string)) Option {
	return func(m *Monitor) { m.onDisable = fn }
}

// WithLogger sets the logger for breakers opening and records disabled
// (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(m *Monitor) { m.log = l } }

// Monitor tracks the health of webhook endpoints from the attempts made to
// them, and guards them with a circuit breaker and limits. Install it with
// webhook.WithMiddleware(m.Middleware()). It is safe for concurrent use and
// keeps state only for records it has seen attempts for and that still exist
// and are enabled, and for tenants whose limits are not back to their start.
type Monitor struct {
	store       Store
	clock       transport.Clock
	policy      DisablePolicy
	brk         Breaker
	rps         rate.Limit
	burst       int
	concurrency int
	maxWait     time.Duration
	perHost     bool
	onDisable   func(context.Context, *webhook.Webhook, string)
	log         *slog.Logger

	tenantRPS         rate.Limit // see tenant.go
	tenantBurst       int
	tenantConcurrency int

	mu      sync.Mutex
	records map[uuid.UUID]*record
	gates   map[gateKey]*gate
	tenants map[string]*tenantGate
	// tenantSweepAt is how many tenant gates trigger a sweep of idle ones.
	tenantSweepAt int
}

// record is the failure streak of one webhook record.
type record struct {
	failures    int
	first, last time.Time
	lastErr     string
	disabling   bool // an auto-disable is under way
	gate        gateKey
	attached    bool      // holds a user count on gate
	host        string    // WithPerHostLimits: the record's host...
	hostAt      time.Time // ...as learnt then
}

// gateKey names what a breaker and limits are shared by: one record, or one host.
type gateKey struct {
	id   uuid.UUID
	host string
}

// gate is the breaker and limits of an endpoint.
type gate struct {
	breaker  breaker
	limiter  *rate.Limiter // nil without a rate limit
	inflight int
	users    int // records attached
}

// New returns a Monitor that disables records in store, which should be the
// webhook.Store the Sender reads. A nil store turns auto-disable off. State
// lives in memory: with a durable transport each worker process has its own
// Monitor.
func New(store Store, opts ...Option) *Monitor {
	m := &Monitor{
		store:         store,
		policy:        DisablePolicy{Failures: DefaultDisableFailures, After: DefaultDisableAfter},
		brk:           Breaker{Failures: DefaultBreakerFailures},
		rps:           rate.Inf,
		tenantRPS:     rate.Inf,
		maxWait:       DefaultMaxWait,
		records:       map[uuid.UUID]*record{},
		gates:         map[gateKey]*gate{},
		tenants:       map[string]*tenantGate{},
		tenantSweepAt: minTenantSweep,
	}
	for _, o := range opts {
		o(m)
	}
	if m.brk.OpenFor <= 0 {
		m.brk.OpenFor = DefaultBreakerOpenFor
	}
	m.brk.Probes = max(m.brk.Probes, 1)
	if m.clock == nil {
		m.clock = transport.SystemClock{}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.store == nil {
		m.perHost = false
	}
	return m
}

// Middleware returns the transport.Middleware that tracks and guards every
// attempt. Attempts it refuses (open breaker, endpoint or tenant limits)
// come back as transport.Defer with a RetryAfter and an error matching
// ErrCircuitOpen, ErrRateLimited or ErrConcurrencyLimit, without a request.
func (m *Monitor) Middleware() transport.Middleware {
	return func(next transport.AttemptFunc) transport.AttemptFunc {
		return func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
			return m.attempt(ctx, env, n, next)
		}
	}
}

// ticket is an admitted attempt's claim on its gate and its tenant's.
type ticket struct {
	g      *gate
	gen    uint64
	probe  bool
	res    *rate.Reservation
	t      *tenantGate // nil without tenant limits
	tenant string
	tres   *rate.Reservation
}

func (m *Monitor) attempt(ctx context.Context, env transport.Envelope, n int, next transport.AttemptFunc) transport.Attempt {
	id := env.WebhookID
	key, host := m.key(ctx, id)
	now := m.clock.Now()

	m.mu.Lock()
	rec := m.attach(id, key, host, now)
	tk, wait, err := m.admit(rec, env.Tenant, now)
	m.mu.Unlock()
	if err != nil {
		return transport.Attempt{Number: n, Start: now, Outcome: transport.Defer, RetryAfter: wait,
			Err: fmt.Errorf("%w: webhook %s, retry in %s", err, id, wait.Round(time.Millisecond))}
	}

	if wait > 0 {
		t := m.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			m.finish(tk, m.clock.Now(), excluded, true)
			return transport.Attempt{Number: n, Start: now, Outcome: transport.Defer, RetryAfter: wait,
				Err: fmt.Errorf("%w: webhook %s: %w", ErrRateLimited, id, ctx.Err())}
		}
	}

	reported := false
	defer func() {
		if !reported { // next panicked
			m.finish(tk, m.clock.Now(), excluded, false)
		}
	}()
	at := next(ctx, env, n)
	reported = true
	m.observe(ctx, id, tk, at)
	return at
}

// key returns the gate an attempt for id goes through and, when it was just
// looked up, the record's host.
func (m *Monitor) key(ctx context.Context, id uuid.UUID) (gateKey, string) {
	if !m.perHost {
		return gateKey{id: id}, ""
	}
	now := m.clock.Now()
	m.mu.Lock()
	if rec := m.records[id]; rec != nil && rec.host != "" && now.Sub(rec.hostAt) < hostTTL {
		h := rec.host
		m.mu.Unlock()
		return gateKey{host: h}, ""
	}
	m.mu.Unlock()
	w, err := m.store.Get(ctx, id)
	if err != nil {
		return gateKey{id: id}, "" // the attempt itself will tell what is wrong
	}
	// Every spelling of one endpoint (letter case, a trailing dot, :443 or
	// :0443 for https, fullwidth or other Unicode forms) shares one gate.
	h, err := netguard.CanonicalAddr(w.URL)
	if err != nil {
		return gateKey{id: id}, ""
	}
	return gateKey{host: h}, h
}

// attach returns id's record, attached to the gate key; m.mu must be held.
func (m *Monitor) attach(id uuid.UUID, key gateKey, host string, now time.Time) *record {
	rec := m.records[id]
	if rec == nil {
		rec = &record{}
		m.records[id] = rec
	} else if rec.attached && rec.gate != key {
		m.detach(rec)
	}
	if host != "" {
		rec.host, rec.hostAt = host, now
	}
	if m.gates[key] == nil {
		g := &gate{}
		if m.rps != rate.Inf {
			g.limiter = rate.NewLimiter(m.rps, m.burst)
		}
		m.gates[key] = g
	}
	if !rec.attached {
		rec.gate, rec.attached = key, true
		m.gates[key].users++
	}
	return rec
}

// detach drops rec's hold on its gate, and the gate with the last one; m.mu must be held.
func (m *Monitor) detach(rec *record) {
	if !rec.attached {
		return
	}
	if g := m.gates[rec.gate]; g != nil {
		if g.users--; g.users <= 0 {
			delete(m.gates, rec.gate) // attempts in flight keep their pointer
		}
	}
	rec.gate, rec.attached = gateKey{}, false
}

// admit passes an attempt through rec's breaker and limits, then its
// tenant's; m.mu must be held. On refusal it returns how long to wait and an
// error matching the sentinel, having given back whatever it took; otherwise
// a ticket and how long to wait first (within maxWait).
func (m *Monitor) admit(rec *record, tenant string, now time.Time) (ticket, time.Duration, error) {
	g := m.gates[rec.gate]
	tk := ticket{g: g}
	if m.brk.Failures > 0 {
		gen, probe, wait, ok := g.breaker.allow(now, m.brk)
		if !ok {
			return ticket{}, wait, ErrCircuitOpen
		}
		tk.gen, tk.probe = gen, probe
	}
	if m.concurrency > 0 && g.inflight >= m.concurrency {
		m.undo(tk, now)
		return ticket{}, busyWait, ErrConcurrencyLimit
	}
	var wait time.Duration
	if g.limiter != nil {
		tk.res = g.limiter.ReserveN(now, 1)
		if wait = tk.res.DelayFrom(now); wait > m.maxWait {
			m.undo(tk, now)
			return ticket{}, wait, ErrRateLimited
		}
	}
	if m.tenantLimited() {
		tw, err := m.admitTenant(&tk, tenant, now)
		if err != nil {
			m.undo(tk, now)
			return ticket{}, tw, err
		}
		wait = max(wait, tw)
	}
	g.inflight++
	return tk, wait, nil
}

// undo gives back an endpoint admission (breaker and rate reservation) that
// a later limit refused; nothing else has happened on the gate since, as
// m.mu is held throughout, so the reservation is restored in full.
func (m *Monitor) undo(tk ticket, now time.Time) {
	if tk.res != nil {
		tk.res.CancelAt(now)
	}
	if m.brk.Failures > 0 {
		tk.g.breaker.done(now, m.brk, tk.gen, tk.probe, excluded)
	}
}

// finish releases tk with verdict v, refunding its rate token when no request
// was made; it reports whether the breaker opened.
func (m *Monitor) finish(tk ticket, now time.Time, v verdict, refund bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.finishLocked(tk, now, v, refund)
}

func (m *Monitor) finishLocked(tk ticket, now time.Time, v verdict, refund bool) bool {
	tk.g.inflight--
	if refund && tk.res != nil {
		tk.res.CancelAt(now)
	}
	m.releaseTenant(tk, now, refund)
	if m.brk.Failures > 0 {
		return tk.g.breaker.done(now, m.brk, tk.gen, tk.probe, v)
	}
	return false
}

// observe files the attempt's result: on the breaker, on the record's
// streak, and disables the record when the policy says so.
func (m *Monitor) observe(ctx context.Context, id uuid.UUID, tk ticket, at transport.Attempt) {
	now := m.clock.Now()
	refused := errors.Is(at.Err, webhook.ErrWebhookGone) || errors.Is(at.Err, webhook.ErrWebhookDisabled)
	v := excluded
	switch {
	case refused, at.Outcome == transport.Defer, errors.Is(at.Err, webhook.ErrStoreUnavailable):
	case at.Outcome == transport.Success:
		v = passed
	case ctx.Err() != nil: // we gave up, not the endpoint
	case at.Outcome == transport.Retry, at.Outcome == transport.Permanent:
		v = failed
	}

	m.mu.Lock()
	opened := m.finishLocked(tk, now, v, refused)
	rec := m.records[id]
	if refused {
		// A deleted or disabled record keeps no state, so a record enabled
		// again starts afresh.
		if rec != nil && !rec.disabling {
			m.drop(id, rec)
		}
		m.mu.Unlock()
		return
	}
	if rec == nil { // Reset while the attempt ran: nothing to count on
		m.mu.Unlock()
		return
	}
	var disable bool
	var streak record
	switch v {
	case passed:
		rec.failures, rec.first, rec.last, rec.lastErr = 0, time.Time{}, time.Time{}, ""
	case failed:
		if rec.failures == 0 {
			rec.first = now
		}
		rec.failures++
		rec.last = now
		rec.lastErr = errorText(at.Err)
		if m.store != nil && !rec.disabling && m.policy.met(rec.failures, now.Sub(rec.first)) {
			rec.disabling, disable, streak = true, true, *rec
		}
	}
	m.mu.Unlock()

	if opened {
		m.log.WarnContext(ctx, "webhook circuit breaker opened", "webhook_id", id.String(),
			"open_for", m.brk.OpenFor, "error", errorText(at.Err))
	}
	if disable {
		m.disable(context.WithoutCancel(ctx), id, streak, now)
	}
}

// disable stores id as disabled with the streak as reason and tells OnDisable.
func (m *Monitor) disable(ctx context.Context, id uuid.UUID, streak record, now time.Time) {
	reason := fmt.Sprintf("endpoint failing since %s: %d consecutive failures, last: %s",
		streak.first.UTC().Format(time.RFC3339), streak.failures, streak.lastErr)
	disabled, err := m.store.Disable(ctx, id, reason, now)

	m.mu.Lock()
	if rec := m.records[id]; rec != nil {
		rec.disabling = false
		if err == nil {
			m.drop(id, rec) // re-enabled, it starts afresh
		}
	}
	m.mu.Unlock()

	if err != nil {
		if !errors.Is(err, webhook.ErrNotFound) {
			m.log.ErrorContext(ctx, "webhook auto-disable failed", "webhook_id", id.String(), "error", err)
		}
		return
	}
	if !disabled {
		return // someone else disabled it first
	}
	m.log.WarnContext(ctx, "webhook disabled", "webhook_id", id.String(), "reason", reason)
	if m.onDisable != nil {
		w, err := m.store.Get(ctx, id)
		if err != nil {
			m.log.ErrorContext(ctx, "webhook disabled, but reading it back for OnDisable failed",
				"webhook_id", id.String(), "error", err)
			return
		}
		m.onDisable(ctx, w, reason)
	}
}

// drop forgets id; m.mu must be held.
func (m *Monitor) drop(id uuid.UUID, rec *record) {
	m.detach(rec)
	delete(m.records, id)
}

// Reset forgets everything the Monitor holds on the record id: its failure
// streak and, unless shared by host, its breaker and limits. A record that is
// disabled (by the Monitor or by hand) keeps no state anyway, so it starts
// afresh when enabled again; Reset is for an administrator's "try again now"
// on a record that is still enabled.
func (m *Monitor) Reset(id uuid.UUID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec := m.records[id]; rec != nil {
		m.drop(id, rec)
	}
}

// State returns the health of the record id; the zero EndpointState (a
// closed breaker, no failures) for a record without attempts.
func (m *Monitor) State(id uuid.UUID) EndpointState {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.records[id]
	if rec == nil {
		return EndpointState{}
	}
	st := EndpointState{
		ConsecutiveFailures: rec.failures,
		FirstFailure:        rec.first,
		LastFailure:         rec.last,
		LastError:           rec.lastErr,
	}
	if g := m.gates[rec.gate]; g != nil {
		st.Breaker = g.breaker.current(now)
		st.HalfOpenAt = g.breaker.until
		st.InFlight = g.inflight
	}
	return st
}

// errorText is err's message, shortened to maxErrorText bytes on a rune boundary.
func errorText(err error) string {
	if err == nil {
		return "unknown error"
	}
	s := err.Error()
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
