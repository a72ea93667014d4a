package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// State is kept only for records that exist and are enabled: it goes with
// the record, with Reset, and gates go with their last record.
func TestStateIsBounded(t *testing.T) {
	for _, perHost := range []bool{false, true} {
		t.Run(fmt.Sprintf("perHost=%t", perHost), func(t *testing.T) {
			ctx := context.Background()
			store := webhook.NewMemoryStore()
			opts := []Option{WithRateLimit(100, 10), WithConcurrencyLimit(4)}
			if perHost {
				opts = append(opts, WithPerHostLimits())
			}
			m := New(store, opts...)
			next := func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
				if _, err := store.Get(ctx, env.WebhookID); errors.Is(err, webhook.ErrNotFound) {
					return transport.Attempt{Number: n, Outcome: transport.Permanent, Err: webhook.ErrWebhookGone}
				}
				return transport.Attempt{Number: n, Outcome: transport.Retry, Err: errors.New("connection refused")}
			}
			attempt := m.Middleware()(next)

			var recs []*webhook.Webhook
			for i := range 6 {
				w := &webhook.Webhook{Name: "n", Triggers: []string{"myapp/x"}, URL: fmt.Sprintf("https://h%d.example/%d", i%2, i)}
				require.NoError(t, store.Create(ctx, w))
				recs = append(recs, w)
				attempt(ctx, transport.Envelope{WebhookID: w.ID}, 1)
			}
			m.mu.Lock()
			require.Len(t, m.records, 6)
			wantGates := 6
			if perHost {
				wantGates = 2
			}
			require.Len(t, m.gates, wantGates)
			m.mu.Unlock()

			for i, w := range recs {
				if i%2 == 0 {
					m.Reset(w.ID)
					continue
				}
				require.NoError(t, store.Delete(ctx, w.ID))
				attempt(ctx, transport.Envelope{WebhookID: w.ID}, 1)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			assert.Empty(t, m.records)
			assert.Empty(t, m.gates)
		})
	}
}

func TestErrorText(t *testing.T) {
	long := errors.New(string(make([]byte, 1000)) + "é")
	assert.Len(t, errorText(long), maxErrorText+len("…"))
	assert.Equal(t, "unknown error", errorText(nil))
	assert.Equal(t, "x", errorText(errors.New("x")))
}

// Tenant gates go once nothing is in flight and their bucket is full again;
// those that are not full yet are swept out as new tenants come, so that
// the gates kept stay within twice the tenants recently active.
func TestTenantGatesAreBounded(t *testing.T) {
	ctx := context.Background()
	ok := func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		return transport.Attempt{Number: n, Outcome: transport.Success}
	}
	gone := func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		return transport.Attempt{Number: n, Outcome: transport.Permanent, Err: webhook.ErrWebhookGone}
	}
	gates := func(m *Monitor) int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.tenants)
	}

	t.Run("concurrency only", func(t *testing.T) {
		m := New(nil, WithTenantConcurrencyLimit(1))
		for i := range 100 {
			m.Middleware()(ok)(ctx, transport.Envelope{WebhookID: uuid.New(), Tenant: fmt.Sprint(i)}, 1)
		}
		assert.Zero(t, gates(m))
	})
	t.Run("token refunded", func(t *testing.T) {
		m := New(nil, WithClock(clocktest.New(time.Unix(0, 0))), WithTenantRateLimit(1, 2))
		for i := range 100 {
			m.Middleware()(gone)(ctx, transport.Envelope{WebhookID: uuid.New(), Tenant: fmt.Sprint(i)}, 1)
		}
		assert.Zero(t, gates(m))
	})
	t.Run("rate", func(t *testing.T) {
		clk := clocktest.New(time.Unix(0, 0))
		m := New(nil, WithClock(clk), WithTenantRateLimit(1, 2), WithTenantConcurrencyLimit(5))
		attempt := m.Middleware()(ok)
		const perRound = 100
		for round := range 20 {
			for i := range perRound {
				env := transport.Envelope{WebhookID: uuid.New(), Tenant: fmt.Sprintf("%d-%d", round, i)}
				require.Equal(t, transport.Success, attempt(ctx, env, 1).Outcome)
				require.LessOrEqual(t, gates(m), 2*perRound)
			}
			clk.Advance(2 * time.Second) // every bucket is full again
		}
		// A tenant whose gate was swept starts with a full bucket, as it
		// would have had.
		assert.Less(t, gates(m), 2*perRound)
		for range 2 {
			assert.Equal(t, transport.Success, attempt(ctx, transport.Envelope{Tenant: "0-0"}, 1).Outcome)
		}
		assert.Equal(t, transport.Defer, attempt(ctx, transport.Envelope{Tenant: "0-0"}, 1).Outcome)
	})
}

// Under concurrent workers each tenant's gate holds at most its limit in
// flight, and every gate is gone when they are done.
func TestTenantConcurrencyLimitUnderLoad(t *testing.T) {
	ctx := context.Background()
	m := New(nil, WithTenantConcurrencyLimit(2), WithConcurrencyLimit(8))
	var bad atomic.Int32
	attempt := m.Middleware()(func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		m.mu.Lock()
		if g := m.tenants[env.Tenant]; g == nil || g.inflight < 1 || g.inflight > 2 {
			bad.Add(1)
		}
		m.mu.Unlock()
		return transport.Attempt{Number: n, Outcome: transport.Success}
	})
	tenants := []string{"", "acme", "globex", "initech"}
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				attempt(ctx, transport.Envelope{WebhookID: ids[i%len(ids)], Tenant: tenants[(g+i)%len(tenants)]}, 1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, bad.Load())
	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Empty(t, m.tenants)
	for _, g := range m.gates {
		assert.Zero(t, g.inflight)
	}
}
