package health_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
)

func TestAutoDisable(t *testing.T) {
	tests := []struct {
		name     string
		policy   health.DisablePolicy
		failures int           // failed attempts made
		every    time.Duration // clock advance after each
		// disabledAt is the failed attempt (from 1) that disables; 0 for none.
		disabledAt int
	}{
		{"count reached, time not", health.DisablePolicy{Failures: 3, After: time.Hour}, 10, time.Minute, 0},
		{"time reached, count not", health.DisablePolicy{Failures: 10, After: time.Hour}, 5, time.Hour, 0},
		{"both reached", health.DisablePolicy{Failures: 3, After: time.Hour}, 6, 30 * time.Minute, 3},
		{"time reached last", health.DisablePolicy{Failures: 3, After: time.Hour}, 8, 10 * time.Minute, 7},
		{"count only", health.DisablePolicy{Failures: 4}, 6, 0, 4},
		{"time only", health.DisablePolicy{After: time.Hour}, 4, 40 * time.Minute, 3},
		{"off", health.DisablePolicy{}, 50, time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			store := webhook.NewMemoryStore()
			w := newRecord(t, store, "https://example.com/hook")
			calls := &disabledCalls{}
			m := health.New(store, health.WithClock(clk), health.WithDisablePolicy(tt.policy),
				health.WithBreaker(health.Breaker{}), health.WithOnDisable(calls.fn), health.WithLogger(quietLogger()))
			fs := newFakeSender(store, http.StatusServiceUnavailable)
			attempt := m.Middleware()(fs.attempt)

			start := clk.Now()
			var wantAt time.Time
			for i := 1; i <= tt.failures; i++ {
				if i == tt.disabledAt {
					wantAt = clk.Now()
				}
				attempt(ctx, envelope(w.ID), 1)
				clk.Advance(tt.every)
			}

			got, err := store.Get(ctx, w.ID)
			require.NoError(t, err)
			if tt.disabledAt == 0 {
				assert.False(t, got.Disabled)
				assert.Empty(t, got.DisabledReason)
				assert.Equal(t, 0, calls.count())
				assert.EqualValues(t, tt.failures, fs.requests.Load())
				assert.Equal(t, tt.failures, m.State(w.ID).ConsecutiveFailures)
				return
			}
			assert.True(t, got.Disabled)
			assert.Equal(t, wantAt, got.DisabledAt)
			assert.Equal(t, "endpoint failing since "+start.Format(time.RFC3339)+": "+
				strconv.Itoa(tt.disabledAt)+" consecutive failures, last: receiver answered HTTP 503", got.DisabledReason)
			assert.EqualValues(t, tt.disabledAt, fs.requests.Load(), "no request after disabling")
			assert.Equal(t, health.EndpointState{}, m.State(w.ID), "a disabled record keeps no state")
			require.Equal(t, 1, calls.count(), "OnDisable fires once")
			assert.Equal(t, got.DisabledReason, calls.reasons[0])
			assert.True(t, calls.records[0].Disabled)
			assert.Equal(t, w.ID, calls.records[0].ID)
		})
	}
}

func TestSuccessResetsStreak(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	m := health.New(store, health.WithClock(clk), health.WithDisablePolicy(health.DisablePolicy{Failures: 3}),
		health.WithBreaker(health.Breaker{}))
	fs := newFakeSender(store, http.StatusBadGateway)
	attempt := m.Middleware()(fs.attempt)

	for range 2 {
		attempt(ctx, envelope(w.ID), 1)
	}
	require.Equal(t, 2, m.State(w.ID).ConsecutiveFailures)

	fs.status.Store(http.StatusOK)
	attempt(ctx, envelope(w.ID), 1)
	assert.Equal(t, health.EndpointState{}, m.State(w.ID))

	fs.status.Store(http.StatusBadGateway)
	clk.Advance(time.Hour)
	for range 2 {
		attempt(ctx, envelope(w.ID), 1)
	}
	st := m.State(w.ID)
	assert.Equal(t, 2, st.ConsecutiveFailures)
	assert.Equal(t, clk.Now(), st.FirstFailure, "the streak starts after the success")
	assert.Equal(t, "receiver answered HTTP 502", st.LastError)
	got, err := store.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.False(t, got.Disabled, "4 failures, never 3 in a row")
}

func TestReenableResets(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	calls := &disabledCalls{}
	m := health.New(store, health.WithDisablePolicy(health.DisablePolicy{Failures: 3}),
		health.WithBreaker(health.Breaker{}), health.WithOnDisable(calls.fn), health.WithLogger(quietLogger()))
	fs := newFakeSender(store, http.StatusInternalServerError)
	attempt := m.Middleware()(fs.attempt)

	for range 3 {
		attempt(ctx, envelope(w.ID), 1)
	}
	got, err := store.Get(ctx, w.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)

	// Queued deliveries to the disabled record are refused, not counted.
	for range 5 {
		at := attempt(ctx, envelope(w.ID), 1)
		require.ErrorIs(t, at.Err, webhook.ErrWebhookDisabled)
	}
	assert.Equal(t, health.EndpointState{}, m.State(w.ID))

	got.Enable()
	require.NoError(t, store.Update(ctx, got))
	for range 2 {
		attempt(ctx, envelope(w.ID), 1)
	}
	assert.Equal(t, 2, m.State(w.ID).ConsecutiveFailures, "counting starts afresh")
	got, err = store.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.False(t, got.Disabled)

	m.Reset(w.ID)
	assert.Equal(t, health.EndpointState{}, m.State(w.ID))
	attempt(ctx, envelope(w.ID), 1)
	assert.Equal(t, 1, m.State(w.ID).ConsecutiveFailures)
	assert.Equal(t, 1, calls.count())
}

func TestRefusedAttemptsAreNotCounted(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, store webhook.Store, w *webhook.Webhook)
		wantErr error
	}{
		{"deleted", func(t *testing.T, store webhook.Store, w *webhook.Webhook) {
			require.NoError(t, store.Delete(context.Background(), w.ID))
		}, webhook.ErrWebhookGone},
		{"disabled by hand", func(t *testing.T, store webhook.Store, w *webhook.Webhook) {
			w.Disabled = true
			require.NoError(t, store.Update(context.Background(), w))
		}, webhook.ErrWebhookDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := webhook.NewMemoryStore()
			w := newRecord(t, store, "https://example.com/hook")
			calls := &disabledCalls{}
			m := health.New(store, health.WithDisablePolicy(health.DisablePolicy{Failures: 1}),
				health.WithBreaker(health.Breaker{Failures: 1}), health.WithOnDisable(calls.fn))
			fs := newFakeSender(store, http.StatusServiceUnavailable)
			attempt := m.Middleware()(fs.attempt)
			tt.prepare(t, store, w)

			for range 10 {
				at := attempt(ctx, envelope(w.ID), 1)
				require.ErrorIs(t, at.Err, tt.wantErr)
				assert.Equal(t, transport.Permanent, at.Outcome)
			}
			assert.Equal(t, health.EndpointState{}, m.State(w.ID))
			assert.Equal(t, 0, calls.count())
			assert.Zero(t, fs.requests.Load())
		})
	}
}

func TestCancelledAttemptsAreNotCounted(t *testing.T) {
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	m := health.New(store, health.WithBreaker(health.Breaker{Failures: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	attempt := m.Middleware()(func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		cancel() // e.g. a transport shutting down mid-request
		return transport.Attempt{Number: n, Outcome: transport.Retry, Err: context.Canceled}
	})
	attempt(ctx, envelope(w.ID), 1)
	assert.Equal(t, health.EndpointState{}, m.State(w.ID))
}

func TestBreaker(t *testing.T) {
	const openFor = 10 * time.Second
	tests := []struct {
		name   string
		probes int
		// answers of the half-open probes, in turn
		answers   []int
		wantState health.BreakerState
	}{
		{"probe succeeds", 1, []int{200}, health.BreakerClosed},
		{"probe fails", 1, []int{503}, health.BreakerOpen},
		{"two probes succeed", 2, []int{200, 200}, health.BreakerClosed},
		{"second of two probes fails", 2, []int{200, 503}, health.BreakerOpen},
		{"one of two probes is not enough", 2, []int{200}, health.BreakerHalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			store := webhook.NewMemoryStore()
			w := newRecord(t, store, "https://example.com/hook")
			m := health.New(store, health.WithClock(clk), health.WithLogger(quietLogger()),
				health.WithBreaker(health.Breaker{Failures: 3, OpenFor: openFor, Probes: tt.probes}))
			fs := newFakeSender(store, http.StatusServiceUnavailable)
			attempt := m.Middleware()(fs.attempt)

			for i := range 3 {
				require.Equal(t, transport.Retry, attempt(ctx, envelope(w.ID), i+1).Outcome)
			}
			st := m.State(w.ID)
			require.Equal(t, health.BreakerOpen, st.Breaker)
			assert.Equal(t, clk.Now().Add(openFor), st.HalfOpenAt)

			at := attempt(ctx, envelope(w.ID), 4)
			assert.Equal(t, transport.Defer, at.Outcome)
			assert.ErrorIs(t, at.Err, health.ErrCircuitOpen)
			assert.Equal(t, openFor, at.RetryAfter)
			assert.Equal(t, 4, at.Number)
			clk.Advance(4 * time.Second)
			at = attempt(ctx, envelope(w.ID), 4)
			assert.Equal(t, transport.Defer, at.Outcome)
			assert.Equal(t, 6*time.Second, at.RetryAfter, "time until half-open")
			require.EqualValues(t, 3, fs.requests.Load(), "no request while open")

			clk.Advance(6 * time.Second)
			require.Equal(t, health.BreakerHalfOpen, m.State(w.ID).Breaker)
			for _, status := range tt.answers {
				fs.status.Store(int32(status))
				at = attempt(ctx, envelope(w.ID), 4)
				require.NotEqual(t, transport.Defer, at.Outcome)
			}
			require.EqualValues(t, 3+len(tt.answers), fs.requests.Load())
			st = m.State(w.ID)
			assert.Equal(t, tt.wantState, st.Breaker)
			switch tt.wantState {
			case health.BreakerOpen:
				assert.Equal(t, clk.Now().Add(openFor), st.HalfOpenAt)
				at = attempt(ctx, envelope(w.ID), 4)
				assert.Equal(t, transport.Defer, at.Outcome)
				assert.Equal(t, openFor, at.RetryAfter)
			case health.BreakerClosed:
				at = attempt(ctx, envelope(w.ID), 4)
				assert.NotEqual(t, transport.Defer, at.Outcome)
			}
		})
	}
}

func TestBreakerHalfOpenLimitsProbes(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	m := health.New(store, health.WithClock(clk), health.WithLogger(quietLogger()),
		health.WithBreaker(health.Breaker{Failures: 1, OpenFor: time.Minute}))
	fs := newFakeSender(store, http.StatusServiceUnavailable)
	g := newGatedNext(http.StatusOK)
	var next transport.AttemptFunc = fs.attempt
	var mu sync.Mutex
	attempt := m.Middleware()(func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		mu.Lock()
		f := next
		mu.Unlock()
		return f(ctx, env, n)
	})

	attempt(ctx, envelope(w.ID), 1)
	require.Equal(t, health.BreakerOpen, m.State(w.ID).Breaker)
	clk.Advance(time.Minute)

	mu.Lock()
	next = g.attempt
	mu.Unlock()
	probe := async(func() transport.Attempt { return attempt(ctx, envelope(w.ID), 2) })
	<-g.entered

	at := attempt(ctx, envelope(w.ID), 2)
	assert.Equal(t, transport.Defer, at.Outcome, "one probe at a time")
	assert.ErrorIs(t, at.Err, health.ErrCircuitOpen)
	assert.Equal(t, time.Second, at.RetryAfter)

	close(g.release)
	assert.Equal(t, transport.Success, (<-probe).Outcome)
	assert.Equal(t, health.BreakerClosed, m.State(w.ID).Breaker)
}

// A request admitted before the breaker opened must not close it by
// succeeding late.
func TestBreakerIgnoresStaleResults(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	m := health.New(store, health.WithClock(clk), health.WithLogger(quietLogger()),
		health.WithBreaker(health.Breaker{Failures: 1, OpenFor: time.Minute}))
	slow := newGatedNext(http.StatusOK)
	fs := newFakeSender(store, http.StatusServiceUnavailable)

	slowAt := async(func() transport.Attempt { return m.Middleware()(slow.attempt)(ctx, envelope(w.ID), 1) })
	<-slow.entered
	m.Middleware()(fs.attempt)(ctx, envelope(w.ID), 1)
	require.Equal(t, health.BreakerOpen, m.State(w.ID).Breaker)

	close(slow.release)
	assert.Equal(t, transport.Success, (<-slowAt).Outcome)
	assert.Equal(t, health.BreakerOpen, m.State(w.ID).Breaker)
}

func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	other := newRecord(t, store, "https://example.com/other")
	m := health.New(store, health.WithClock(clk), health.WithRateLimit(1, 2), health.WithMaxWait(0))
	fs := newFakeSender(store, http.StatusOK)
	attempt := m.Middleware()(fs.attempt)

	for range 2 {
		require.Equal(t, transport.Success, attempt(ctx, envelope(w.ID), 1).Outcome, "within the burst")
	}
	at := attempt(ctx, envelope(w.ID), 1)
	assert.Equal(t, transport.Defer, at.Outcome)
	assert.ErrorIs(t, at.Err, health.ErrRateLimited)
	assert.Equal(t, time.Second, at.RetryAfter)
	assert.EqualValues(t, 2, fs.requests.Load())

	assert.Equal(t, transport.Success, attempt(ctx, envelope(other.ID), 1).Outcome, "limits are per endpoint")

	clk.Advance(time.Second)
	assert.Equal(t, transport.Success, attempt(ctx, envelope(w.ID), 1).Outcome)
	assert.Equal(t, transport.Defer, attempt(ctx, envelope(w.ID), 1).Outcome)
}

// A delay within WithMaxWait is waited out in the worker, on the clock,
// rather than deferred.
func TestRateLimitShortWait(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	m := health.New(store, health.WithClock(clk), health.WithRateLimit(200, 1), health.WithMaxWait(time.Second))
	fs := newFakeSender(store, http.StatusOK)
	attempt := m.Middleware()(fs.attempt)

	require.Equal(t, transport.Success, attempt(ctx, envelope(w.ID), 1).Outcome, "the burst")
	for n := 2; n <= 3; n++ {
		at, done := start(func() transport.Attempt { return attempt(ctx, envelope(w.ID), n) })
		require.True(t, clk.WaitTimers(1, done), "the attempt waits for its slot")
		clk.Advance(4 * time.Millisecond)
		assert.Equal(t, 1, clk.Timers(), "a slot every 5ms")
		assert.EqualValues(t, n-1, fs.requests.Load(), "no request before the slot")
		clk.Advance(time.Millisecond)
		assert.Equal(t, transport.Success, (<-at).Outcome)
		assert.EqualValues(t, n, fs.requests.Load())
	}
}

func TestConcurrencyLimit(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	other := newRecord(t, store, "https://example.com/other")
	m := health.New(store, health.WithConcurrencyLimit(2))
	g := newGatedNext(http.StatusOK)
	attempt := m.Middleware()(g.attempt)

	first := async(func() transport.Attempt { return attempt(ctx, envelope(w.ID), 1) })
	second := async(func() transport.Attempt { return attempt(ctx, envelope(w.ID), 1) })
	<-g.entered
	<-g.entered
	require.Equal(t, 2, m.State(w.ID).InFlight)

	at := attempt(ctx, envelope(w.ID), 1)
	assert.Equal(t, transport.Defer, at.Outcome)
	assert.ErrorIs(t, at.Err, health.ErrConcurrencyLimit)
	assert.Positive(t, at.RetryAfter)

	third := async(func() transport.Attempt { return attempt(ctx, envelope(other.ID), 1) })
	<-g.entered // another endpoint is not held up

	close(g.release)
	for _, ch := range []<-chan transport.Attempt{first, second, third} {
		assert.Equal(t, transport.Success, (<-ch).Outcome)
	}
	assert.Equal(t, 0, m.State(w.ID).InFlight)
	assert.Equal(t, transport.Success, attempt(ctx, envelope(w.ID), 1).Outcome)
}

func TestPerHostLimits(t *testing.T) {
	tests := []struct {
		name      string
		opts      []health.Option
		wantOther transport.Outcome
	}{
		{"per record", nil, transport.Success},
		{"per host", []health.Option{health.WithPerHostLimits()}, transport.Defer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			store := webhook.NewMemoryStore()
			a := newRecord(t, store, "https://Example.com/a")
			b := newRecord(t, store, "https://example.com/b")
			elsewhere := newRecord(t, store, "https://example.org/c")
			opts := append([]health.Option{health.WithClock(clk), health.WithLogger(quietLogger()),
				health.WithBreaker(health.Breaker{Failures: 2})}, tt.opts...)
			m := health.New(store, opts...)
			failing := newFakeSender(store, http.StatusServiceUnavailable)
			ok := newFakeSender(store, http.StatusOK)

			for range 2 {
				m.Middleware()(failing.attempt)(ctx, envelope(a.ID), 1)
			}
			require.Equal(t, health.BreakerOpen, m.State(a.ID).Breaker)

			at := m.Middleware()(ok.attempt)(ctx, envelope(b.ID), 1)
			assert.Equal(t, tt.wantOther, at.Outcome)
			assert.Equal(t, transport.Success, m.Middleware()(ok.attempt)(ctx, envelope(elsewhere.ID), 1).Outcome)
			assert.Equal(t, 0, m.State(b.ID).ConsecutiveFailures, "streaks stay per record")
		})
	}
}

// Every spelling of one endpoint shares its per-host gate: letter case, a
// trailing dot, the default port written out (with leading zeros) and
// fullwidth letters cannot dodge an open breaker.
func TestPerHostLimitsNormaliseTheHost(t *testing.T) {
	for _, spelling := range []string{
		"https://EXAMPLE.com/b", "https://example.com./b", "https://example.com:443/b",
		"https://example.com:0443/b", "https://ｅｘａｍｐｌｅ.com/b", "https://example。com/b",
	} {
		t.Run(spelling, func(t *testing.T) {
			ctx := context.Background()
			store := webhook.NewMemoryStore()
			a := newRecord(t, store, "https://example.com/a")
			b := newRecord(t, store, spelling)
			m := health.New(store, health.WithClock(newClock()), health.WithLogger(quietLogger()),
				health.WithBreaker(health.Breaker{Failures: 2}), health.WithPerHostLimits())
			failing := newFakeSender(store, http.StatusServiceUnavailable)
			for range 2 {
				m.Middleware()(failing.attempt)(ctx, envelope(a.ID), 1)
			}
			require.Equal(t, health.BreakerOpen, m.State(a.ID).Breaker)
			at := m.Middleware()(newFakeSender(store, http.StatusOK).attempt)(ctx, envelope(b.ID), 1)
			assert.Equal(t, transport.Defer, at.Outcome, "%s shares example.com:443's open breaker", spelling)
		})
	}
	// Another port is another endpoint.
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	a := newRecord(t, store, "https://example.com/a")
	b := newRecord(t, store, "https://example.com:8443/b")
	m := health.New(store, health.WithClock(newClock()), health.WithLogger(quietLogger()),
		health.WithBreaker(health.Breaker{Failures: 2}), health.WithPerHostLimits())
	for range 2 {
		m.Middleware()(newFakeSender(store, http.StatusServiceUnavailable).attempt)(ctx, envelope(a.ID), 1)
	}
	assert.Equal(t, transport.Success, m.Middleware()(newFakeSender(store, http.StatusOK).attempt)(ctx, envelope(b.ID), 1).Outcome)
}

// Many workers failing at once disable the record once.
func TestConcurrentFailuresDisableOnce(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	calls := &disabledCalls{}
	m := health.New(store, health.WithDisablePolicy(health.DisablePolicy{Failures: 5}),
		health.WithBreaker(health.Breaker{}), health.WithOnDisable(calls.fn), health.WithLogger(quietLogger()))
	fs := newFakeSender(store, http.StatusServiceUnavailable)
	attempt := m.Middleware()(fs.attempt)

	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				attempt(ctx, envelope(w.ID), 1)
				_ = m.State(w.ID)
			}
		}()
	}
	wg.Wait()
	got, err := store.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.True(t, got.Disabled)
	assert.Equal(t, 1, calls.count())
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[health.BreakerState]string{
		health.BreakerClosed: "closed", health.BreakerOpen: "open", health.BreakerHalfOpen: "half-open",
		health.BreakerState(9): "BreakerState(9)",
	} {
		assert.Equal(t, want, s.String())
	}
}

// failingStore fails Disable while fail is set.
type failingStore struct {
	*webhook.MemoryStore
	fail atomic.Bool
}

func (s *failingStore) Disable(ctx context.Context, id uuid.UUID, reason string, at time.Time) (bool, error) {
	if s.fail.Load() {
		return false, errors.New("database is locked")
	}
	return s.MemoryStore.Disable(ctx, id, reason, at)
}

func TestDisableRetriesAfterStoreError(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{MemoryStore: webhook.NewMemoryStore()}
	store.fail.Store(true)
	w := newRecord(t, store, "https://example.com/hook")
	calls := &disabledCalls{}
	m := health.New(store, health.WithDisablePolicy(health.DisablePolicy{Failures: 2}),
		health.WithBreaker(health.Breaker{}), health.WithOnDisable(calls.fn), health.WithLogger(quietLogger()))
	attempt := m.Middleware()(newFakeSender(store, http.StatusServiceUnavailable).attempt)

	for range 2 {
		attempt(ctx, envelope(w.ID), 1)
	}
	got, err := store.Get(ctx, w.ID)
	require.NoError(t, err)
	require.False(t, got.Disabled)
	assert.Equal(t, 0, calls.count())
	assert.Equal(t, 2, m.State(w.ID).ConsecutiveFailures, "the streak survives a failed disable")

	store.fail.Store(false)
	attempt(ctx, envelope(w.ID), 1)
	got, err = store.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.True(t, got.Disabled)
	assert.Contains(t, got.DisabledReason, ": 3 consecutive failures")
	assert.Equal(t, 1, calls.count())
}

// An attempt waiting for its rate-limit slot gives up with its context,
// without a request, and stops its timer.
func TestRateLimitWaitHonoursContext(t *testing.T) {
	clk := newClock()
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, "https://example.com/hook")
	m := health.New(store, health.WithClock(clk), health.WithRateLimit(0.001, 1), health.WithMaxWait(time.Hour))
	fs := newFakeSender(store, http.StatusOK)
	attempt := m.Middleware()(fs.attempt)

	require.Equal(t, transport.Success, attempt(context.Background(), envelope(w.ID), 1).Outcome)
	ctx, cancel := context.WithCancel(context.Background())
	res, done := start(func() transport.Attempt { return attempt(ctx, envelope(w.ID), 2) })
	require.True(t, clk.WaitTimers(1, done), "the attempt waits for its slot")
	require.Equal(t, 1, m.State(w.ID).InFlight)
	cancel()
	at := <-res
	assert.Equal(t, transport.Defer, at.Outcome)
	assert.ErrorIs(t, at.Err, health.ErrRateLimited)
	assert.ErrorIs(t, at.Err, context.Canceled)
	assert.Equal(t, 1000*time.Second, at.RetryAfter)
	assert.EqualValues(t, 1, fs.requests.Load())
	assert.Equal(t, 0, m.State(w.ID).InFlight)
	assert.Equal(t, 0, clk.Timers(), "the timer is stopped")
}

// Every webhook.Store, and so *webhook.MemoryStore, is a health.Store.
var (
	_ health.Store = webhook.Store(nil)
	_ health.Store = (*webhook.MemoryStore)(nil)
)

// The monitor's auto-disable and an administrator's secret rotation race;
// both changes survive every time (the Get-then-Update disable lost one of
// them in about half the trials).
func TestAutoDisableRacesSecretRotation(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	for i := range 200 {
		w := newRecord(t, store, "https://example.com/hook")
		m := health.New(store, health.WithDisablePolicy(health.DisablePolicy{Failures: 1}),
			health.WithBreaker(health.Breaker{}), health.WithLogger(quietLogger()))
		attempt := m.Middleware()(newFakeSender(store, http.StatusServiceUnavailable).attempt)
		var (
			wg      sync.WaitGroup
			rotated *webhook.Webhook
			err     error
		)
		wg.Add(2)
		go func() { defer wg.Done(); attempt(ctx, envelope(w.ID), 1) }()
		go func() { defer wg.Done(); rotated, err = webhook.RotateSecret(ctx, store, w.ID, 0) }()
		wg.Wait()
		require.NoError(t, err)
		got, err := store.Get(ctx, w.ID)
		require.NoError(t, err)
		require.True(t, got.Disabled, "trial %d: the disable survives", i)
		require.Equal(t, rotated.Secret.Reveal(), got.Secret.Reveal(), "trial %d: the rotation survives", i)
	}
}
