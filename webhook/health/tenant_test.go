package health_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
)

func newTenantRecord(t *testing.T, store webhook.Store, tenant string) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: "test", Tenant: tenant, Triggers: []string{testTrigger},
		URL: "https://" + uuid.NewString() + ".example.com/hook"}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

func tenantEnvelope(w *webhook.Webhook) transport.Envelope {
	env := envelope(w.ID)
	env.Tenant = w.Tenant
	return env
}

// One tenant's burst over many records uses up its own share only; the
// application's own records (tenant "") are a tenant like the others.
func TestTenantRateLimit(t *testing.T) {
	for _, tt := range []struct{ name, busy, quiet string }{
		{"between customers", "acme", "globex"},
		{"the application's own records", "", "acme"},
		{"a customer and the application", "acme", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			store := webhook.NewMemoryStore()
			m := health.New(store, health.WithClock(clk), health.WithTenantRateLimit(1, 3), health.WithMaxWait(0))
			fs := newFakeSender(store, http.StatusOK)
			attempt := m.Middleware()(fs.attempt)

			var busy []*webhook.Webhook
			for range 10 {
				busy = append(busy, newTenantRecord(t, store, tt.busy))
			}
			for i, w := range busy {
				at := attempt(ctx, tenantEnvelope(w), 1)
				if i < 3 {
					require.Equal(t, transport.Success, at.Outcome, "attempt %d is within the burst", i)
					continue
				}
				require.Equal(t, transport.Defer, at.Outcome, "attempt %d", i)
				assert.ErrorIs(t, at.Err, health.ErrRateLimited)
				assert.Contains(t, at.Err.Error(), "tenant \""+tt.busy+"\"")
				assert.Equal(t, time.Second, at.RetryAfter)
				assert.Equal(t, health.EndpointState{}, m.State(w.ID), "the endpoint is untouched")
			}
			for range 3 {
				w := newTenantRecord(t, store, tt.quiet)
				assert.Equal(t, transport.Success, attempt(ctx, tenantEnvelope(w), 1).Outcome, "another tenant's share")
			}
			assert.EqualValues(t, 6, fs.requests.Load())

			clk.Advance(time.Second)
			assert.Equal(t, transport.Success, attempt(ctx, tenantEnvelope(busy[9]), 1).Outcome)
			assert.Equal(t, transport.Defer, attempt(ctx, tenantEnvelope(busy[8]), 1).Outcome)
		})
	}
}

func TestTenantConcurrencyLimit(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	m := health.New(store, health.WithTenantConcurrencyLimit(2))
	g := newGatedNext(http.StatusOK)
	attempt := m.Middleware()(g.attempt)
	a1, a2, a3 := newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme")
	b := newTenantRecord(t, store, "globex")

	first := async(func() transport.Attempt { return attempt(ctx, tenantEnvelope(a1), 1) })
	second := async(func() transport.Attempt { return attempt(ctx, tenantEnvelope(a2), 1) })
	<-g.entered
	<-g.entered

	var at transport.Attempt
	select {
	case at = <-async(func() transport.Attempt { return attempt(ctx, tenantEnvelope(a3), 1) }):
	case <-g.entered:
		close(g.release)
		t.Fatal("a third attempt for acme went through")
	}
	assert.Equal(t, transport.Defer, at.Outcome)
	assert.ErrorIs(t, at.Err, health.ErrConcurrencyLimit)
	assert.Contains(t, at.Err.Error(), `tenant "acme"`)
	assert.Positive(t, at.RetryAfter)
	assert.Equal(t, 0, m.State(a3.ID).InFlight)

	third := async(func() transport.Attempt { return attempt(ctx, tenantEnvelope(b), 1) })
	<-g.entered // another tenant is not held up

	close(g.release)
	for _, ch := range []<-chan transport.Attempt{first, second, third} {
		assert.Equal(t, transport.Success, (<-ch).Outcome)
	}
	assert.Equal(t, transport.Success, attempt(ctx, tenantEnvelope(a3), 1).Outcome)
}

// refusalFixture is an endpoint w and a tenant "acme" with a record held.
type refusalFixture struct {
	m       *health.Monitor
	clk     *clocktest.Clock
	fs      *fakeSender
	g       *gatedNext
	attempt transport.AttemptFunc
	held, w *webhook.Webhook
}

func newRefusalFixture(t *testing.T, hold bool, opts ...health.Option) *refusalFixture {
	f := &refusalFixture{clk: newClock(), g: newGatedNext(http.StatusOK)}
	store := webhook.NewMemoryStore()
	f.m = health.New(store, append([]health.Option{health.WithClock(f.clk), health.WithLogger(quietLogger()),
		health.WithMaxWait(0)}, opts...)...)
	f.fs = newFakeSender(store, http.StatusOK)
	f.held, f.w = newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme")
	f.attempt = f.m.Middleware()(func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		if hold && env.WebhookID == f.held.ID {
			return f.g.attempt(ctx, env, n)
		}
		return f.fs.attempt(ctx, env, n)
	})
	return f
}

// When the tenant refuses an attempt its endpoint admitted, the endpoint gets
// back its breaker probe, its rate token and its concurrency slot: the next
// attempt to that endpoint, for another tenant, goes through.
func TestTenantRefusalGivesBackEndpointAdmission(t *testing.T) {
	endpoints := []struct {
		name string
		opt  health.Option
		// prepare brings the endpoint to where one more admission would
		// refuse the next attempt.
		prepare func(t *testing.T, f *refusalFixture)
	}{
		{"breaker probe", health.WithBreaker(health.Breaker{Failures: 1, OpenFor: time.Minute, Probes: 1}),
			func(t *testing.T, f *refusalFixture) {
				f.fs.status.Store(http.StatusServiceUnavailable)
				env := tenantEnvelope(f.w)
				env.Tenant = "setup"
				f.attempt(context.Background(), env, 1)
				f.fs.status.Store(http.StatusOK)
				f.clk.Advance(time.Minute)
				require.Equal(t, health.BreakerHalfOpen, f.m.State(f.w.ID).Breaker)
			}},
		{"rate token", health.WithRateLimit(0.001, 1), func(*testing.T, *refusalFixture) {}},
		{"concurrency slot", health.WithConcurrencyLimit(1), func(*testing.T, *refusalFixture) {}},
	}
	tenants := []struct {
		name    string
		opt     health.Option
		hold    bool // the tenant's share is an attempt in flight
		wantErr error
	}{
		{"tenant rate", health.WithTenantRateLimit(0.001, 1), false, health.ErrRateLimited},
		{"tenant concurrency", health.WithTenantConcurrencyLimit(1), true, health.ErrConcurrencyLimit},
	}
	for _, ep := range endpoints {
		for _, tn := range tenants {
			t.Run(ep.name+"/"+tn.name, func(t *testing.T) {
				ctx := context.Background()
				f := newRefusalFixture(t, tn.hold, ep.opt, tn.opt)
				ep.prepare(t, f)
				before := f.m.State(f.w.ID)

				// acme uses up its share on another record...
				heldAt := async(func() transport.Attempt { return f.attempt(ctx, tenantEnvelope(f.held), 1) })
				if tn.hold {
					<-f.g.entered
					defer func() { close(f.g.release); <-heldAt }()
				} else {
					require.Equal(t, transport.Success, (<-heldAt).Outcome)
				}
				// ...so its attempt to w is refused by the tenant, not the endpoint,
				at := f.attempt(ctx, tenantEnvelope(f.w), 1)
				require.Equal(t, transport.Defer, at.Outcome)
				assert.ErrorIs(t, at.Err, tn.wantErr)
				assert.Contains(t, at.Err.Error(), `tenant "acme"`)
				assert.Equal(t, before, f.m.State(f.w.ID), "the endpoint's state is unchanged")

				// ...and w's admission is free for another tenant.
				other := tenantEnvelope(f.w)
				other.Tenant = "globex"
				got := f.attempt(ctx, other, 1)
				assert.Equal(t, transport.Success, got.Outcome, "%v", got.Err)
			})
		}
	}
}

// An attempt waits out the longer of its endpoint's and its tenant's rate
// limit delays.
func TestTenantRateLimitWaitsTheLonger(t *testing.T) {
	for _, tt := range []struct {
		name             string
		endpoint, tenant float64
	}{
		{"tenant longer", 200, 100},
		{"endpoint longer", 100, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			store := webhook.NewMemoryStore()
			w := newTenantRecord(t, store, "acme")
			m := health.New(store, health.WithClock(clk), health.WithMaxWait(time.Second),
				health.WithRateLimit(tt.endpoint, 1), health.WithTenantRateLimit(tt.tenant, 1))
			fs := newFakeSender(store, http.StatusOK)
			attempt := m.Middleware()(fs.attempt)

			require.Equal(t, transport.Success, attempt(ctx, tenantEnvelope(w), 1).Outcome, "the burst")
			at, done := start(func() transport.Attempt { return attempt(ctx, tenantEnvelope(w), 2) })
			d, ok := clk.FireNext(done)
			require.True(t, ok, "the attempt waits for its slot")
			assert.Equal(t, 10*time.Millisecond, d)
			assert.Equal(t, transport.Success, (<-at).Outcome)
			assert.EqualValues(t, 2, fs.requests.Load())
		})
	}
}

// An attempt that gives up waiting for its tenant's slot gives the slot back.
func TestTenantRateLimitWaitHonoursContext(t *testing.T) {
	clk := newClock()
	store := webhook.NewMemoryStore()
	m := health.New(store, health.WithClock(clk), health.WithTenantRateLimit(0.001, 1),
		health.WithMaxWait(1500*time.Second))
	fs := newFakeSender(store, http.StatusOK)
	attempt := m.Middleware()(fs.attempt)
	w1, w2, w3 := newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme")

	require.Equal(t, transport.Success, attempt(context.Background(), tenantEnvelope(w1), 1).Outcome)
	ctx, cancel := context.WithCancel(context.Background())
	res, done := start(func() transport.Attempt { return attempt(ctx, tenantEnvelope(w2), 1) })
	require.True(t, clk.WaitTimers(1, done), "the attempt waits for its tenant's slot")
	cancel()
	at := <-res
	assert.Equal(t, transport.Defer, at.Outcome)
	assert.ErrorIs(t, at.Err, health.ErrRateLimited)
	assert.ErrorIs(t, at.Err, context.Canceled)
	assert.Equal(t, 1000*time.Second, at.RetryAfter)
	assert.Equal(t, 0, clk.Timers())

	// Had the slot not been given back, the next would be 2000s away,
	// beyond the maximum wait, and deferred at once.
	res, done = start(func() transport.Attempt { return attempt(context.Background(), tenantEnvelope(w3), 1) })
	d, ok := clk.FireNext(done)
	require.True(t, ok, "the next attempt waits rather than being deferred")
	assert.Equal(t, 1000*time.Second, d)
	assert.Equal(t, transport.Success, (<-res).Outcome)
	assert.EqualValues(t, 2, fs.requests.Load())
}

// An attempt that made no request (the record is gone) gives its tenant's
// rate token back.
func TestTenantRateLimitRefundsWithoutRequest(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	m := health.New(store, health.WithClock(newClock()), health.WithTenantRateLimit(0.001, 1), health.WithMaxWait(0))
	fs := newFakeSender(store, http.StatusOK)
	attempt := m.Middleware()(fs.attempt)
	gone, w1, w2 := newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme"), newTenantRecord(t, store, "acme")
	require.NoError(t, store.Delete(ctx, gone.ID))

	at := attempt(ctx, tenantEnvelope(gone), 1)
	require.ErrorIs(t, at.Err, webhook.ErrWebhookGone)
	assert.Equal(t, transport.Success, attempt(ctx, tenantEnvelope(w1), 1).Outcome, "the token came back")
	assert.Equal(t, transport.Defer, attempt(ctx, tenantEnvelope(w2), 1).Outcome, "and is used up now")
}
