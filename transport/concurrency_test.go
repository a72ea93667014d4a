package transport_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
)

// gated counts the attempts under way and holds each until release closes.
type gated struct {
	inFlight, peak atomic.Int32
	started        chan uuid.UUID
	release        chan struct{}
}

func (g *gated) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	cur := g.inFlight.Add(1)
	for p := g.peak.Load(); cur > p && !g.peak.CompareAndSwap(p, cur); p = g.peak.Load() {
	}
	g.started <- env.DeliveryID
	<-g.release
	g.inFlight.Add(-1)
	return transport.Attempt{Number: n, Outcome: transport.Success, StatusCode: 204}
}

func (g *gated) NewBackOff() backoff.BackOff { return &backoff.StopBackOff{} }

func TestSyncMaxConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []transport.SyncOption
		envs  int
		bound int
	}{
		{"bound 3 of 20", []transport.SyncOption{transport.WithMaxConcurrency(3)}, 20, 3},
		{"bound 1", []transport.SyncOption{transport.WithMaxConcurrency(1)}, 5, 1},
		{"fewer envelopes than the bound", []transport.SyncOption{transport.WithMaxConcurrency(8)}, 4, 4},
		{"default", nil, transport.DefaultMaxConcurrency + 10, transport.DefaultMaxConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gated{started: make(chan uuid.UUID), release: make(chan struct{})}
			envs := make([]transport.Envelope, tc.envs)
			for i := range envs {
				envs[i] = transport.Envelope{DeliveryID: uuid.New()}
			}
			var (
				res  []transport.Result
				err  error
				done = make(chan struct{})
			)
			go func() {
				defer close(done)
				res, err = transport.NewSync(tc.opts...).Send(context.Background(), g, envs)
			}()
			// The first bound deliveries start; the next waits for a slot.
			for i := 0; i < tc.bound; i++ {
				<-g.started
			}
			assert.EqualValues(t, tc.bound, g.inFlight.Load())
			close(g.release)
			for i := tc.bound; i < tc.envs; i++ {
				<-g.started
			}
			<-done
			require.NoError(t, err)
			assert.EqualValues(t, tc.bound, g.peak.Load(), "never more than the bound under way")
			require.Len(t, res, len(envs))
			for i, r := range res {
				assert.Equal(t, envs[i].DeliveryID, r.DeliveryID, "results in the envelopes' order")
				assert.Equal(t, transport.StatusDelivered, r.Status)
			}
		})
	}
}

// TestSyncMaxConcurrencyBudget: a delivery that waits for a slot past the
// back-off's MaxElapsedTime fails retryably without an attempt, so the Send
// still ends within the budget.
func TestSyncMaxConcurrencyBudget(t *testing.T) {
	clock := clocktest.New(t0)
	var calls atomic.Int32
	a := attempterFunc{
		attempt: func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
			calls.Add(1)
			clock.Advance(time.Minute) // the first delivery takes the whole budget
			return transport.Attempt{Number: n, Outcome: transport.Success, StatusCode: 204}
		},
		backOff: func() backoff.BackOff {
			e := backoff.NewExponentialBackOff()
			e.MaxElapsedTime = time.Minute
			return e
		},
	}
	envs := []transport.Envelope{{DeliveryID: uuid.New()}, {DeliveryID: uuid.New(), AttemptOffset: 2}}
	res, err := transport.NewSync(transport.WithClock(clock), transport.WithMaxConcurrency(1)).Send(context.Background(), a, envs)
	require.NoError(t, err)
	assert.EqualValues(t, 1, calls.Load())
	assert.Equal(t, transport.StatusDelivered, res[0].Status)
	assert.Equal(t, transport.StatusFailed, res[1].Status)
	assert.Equal(t, 2, res[1].Attempts, "no attempt beyond the offset")
	assert.ErrorIs(t, res[1].Err, transport.ErrBudgetExceeded)
	var de *transport.DeliveryError
	require.ErrorAs(t, res[1].Err, &de)
	assert.True(t, de.Retryable)
}

type attempterFunc struct {
	attempt func(ctx context.Context, env transport.Envelope, n int) transport.Attempt
	backOff func() backoff.BackOff
}

func (a attempterFunc) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	return a.attempt(ctx, env, n)
}

func (a attempterFunc) NewBackOff() backoff.BackOff { return a.backOff() }
