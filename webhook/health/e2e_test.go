package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
)

type pageUpdated struct {
	ID int `json:"id"`
}

func (p pageUpdated) JSONSerialize() any { return p }

// A receiver that always answers 503 gets its record disabled through the
// Dispatcher, and then receives nothing more.
func TestDispatcherDisablesFailingEndpoint(t *testing.T) {
	ctx := context.Background()
	clk := newJumpClock()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		clk.Advance(time.Hour) // each request "takes" an hour of the injected clock
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)

	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](reg, testTrigger, "A page changed"))
	store := webhook.NewMemoryStore()
	w := newRecord(t, store, srv.URL)
	calls := &disabledCalls{}
	m := health.New(store,
		health.WithClock(clk),
		health.WithDisablePolicy(health.DisablePolicy{Failures: 6, After: 4 * time.Hour}),
		health.WithBreaker(health.Breaker{}),
		health.WithOnDisable(calls.fn),
		health.WithLogger(quietLogger()),
	)
	d := webhook.NewDispatcher(store, reg,
		webhook.WithHTTPClient(srv.Client()),
		webhook.WithLogger(quietLogger()),
		webhook.WithMiddleware(m.Middleware()),
		webhook.WithTransport(transport.NewSync(transport.WithClock(clk))),
		webhook.WithBackOff(func() backoff.BackOff {
			return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 2) // 3 attempts
		}),
	)

	for i := range 2 {
		dels, err := d.Dispatch(ctx, pageUpdated{ID: i})
		require.NoError(t, err)
		require.Len(t, dels, 1)
		assert.Equal(t, webhook.StatusFailed, dels[0].Status)
	}
	assert.EqualValues(t, 6, hits.Load())
	got, err := store.Get(ctx, w.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)
	assert.Contains(t, got.DisabledReason, "6 consecutive failures, last: receiver answered HTTP 503")
	assert.Equal(t, clk.Now(), got.DisabledAt)
	assert.Equal(t, 1, calls.count())

	dels, err := d.Dispatch(ctx, pageUpdated{ID: 3})
	require.NoError(t, err)
	assert.Empty(t, dels, "a disabled record gets no deliveries")
	assert.EqualValues(t, 6, hits.Load())
}

// The breaker turns a dead endpoint's retries into Defer outcomes: Sync
// waits them out on the clock, lets the one probe through when the breaker
// half-opens, and gives up at its MaxDefer, with no request while it is open.
func TestDispatcherBreakerDefers(t *testing.T) {
	ctx := context.Background()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)

	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](reg, testTrigger, "A page changed"))
	store := webhook.NewMemoryStore()
	newRecord(t, store, srv.URL)
	clk := newJumpClock()
	m := health.New(store, health.WithClock(clk), health.WithLogger(quietLogger()),
		health.WithBreaker(health.Breaker{Failures: 2, OpenFor: time.Hour}))
	d := webhook.NewDispatcher(store, reg,
		webhook.WithHTTPClient(srv.Client()),
		webhook.WithLogger(quietLogger()),
		webhook.WithMiddleware(m.Middleware()),
		webhook.WithTransport(transport.NewSync(transport.WithClock(clk), transport.WithMaxDefer(90*time.Minute))),
		webhook.WithBackOff(func() backoff.BackOff {
			return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 4)
		}),
	)

	dels, err := d.Dispatch(ctx, pageUpdated{ID: 1})
	require.NoError(t, err)
	require.Len(t, dels, 1)
	assert.Equal(t, webhook.StatusFailed, dels[0].Status)
	assert.ErrorIs(t, dels[0].Err, health.ErrCircuitOpen)
	assert.EqualValues(t, 3, hits.Load(), "two failures open the breaker, then one probe an hour later")
	assert.Equal(t, 3, dels[0].Attempts, "deferred attempts are not attempts")
	assert.Equal(t, []time.Duration{
		time.Millisecond, time.Millisecond, // backoff after the two failures that open the breaker
		time.Hour - time.Millisecond, // deferred until it half-opens
		time.Millisecond,             // backoff after the failed probe; the next hour's wait exceeds MaxDefer
	}, clk.Waits())
}
