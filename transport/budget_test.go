package transport_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
)

// budgeted retries every interval for at most maxElapsed in all, and says so
// through transport.ElapsedLimiter.
type budgeted struct {
	scripted
	maxElapsed time.Duration
	hang       bool // attempts block until their context ends
}

func (b *budgeted) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	if b.hang {
		<-ctx.Done()
		return transport.Attempt{Number: n, Outcome: transport.Retry, Err: context.Cause(ctx)}
	}
	return b.scripted.Attempt(ctx, env, n)
}

func (b *budgeted) NewBackOff() backoff.BackOff {
	e := backoff.NewExponentialBackOff()
	e.InitialInterval, e.RandomizationFactor, e.Multiplier = b.interval, 0, 1
	e.MaxElapsedTime = b.maxElapsed
	return transport.LimitAttempts(e, 100)
}

func TestSyncStaysWithinTheBackOffsMaxElapsedTime(t *testing.T) {
	tests := []struct {
		name     string
		a        *budgeted
		attempts int
		waits    []time.Duration
	}{
		{"a Retry-After past the budget ends the delivery now",
			&budgeted{scripted: scripted{outcomes: []transport.Attempt{{Outcome: transport.Retry, StatusCode: 503, RetryAfter: time.Hour,
				Err: &transport.StatusError{StatusCode: 503}}}, interval: 10 * time.Second}, maxElapsed: time.Minute},
			1, nil},
		{"a back-off wait past the budget ends the delivery now",
			&budgeted{scripted: scripted{outcomes: []transport.Attempt{flaky}, interval: 10 * time.Second}, maxElapsed: 35 * time.Second},
			4, repeat(10*time.Second, 3)},
		{"a deferral past the budget ends the delivery now",
			&budgeted{scripted: scripted{outcomes: []transport.Attempt{{Outcome: transport.Defer, RetryAfter: 50 * time.Second}}, interval: time.Second},
				maxElapsed: 2 * time.Minute},
			0, repeat(50*time.Second, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(t0)
			s := transport.NewSync(transport.WithClock(clock), transport.WithMaxDefer(time.Hour))
			var res []transport.Result
			waits := runWaits(clock, func() {
				res, _ = s.Send(context.Background(), tt.a, []transport.Envelope{{DeliveryID: uuid.New()}})
			})
			require.Len(t, res, 1)
			assert.Equal(t, transport.StatusFailed, res[0].Status)
			assert.Equal(t, tt.attempts, res[0].Attempts)
			assert.Equal(t, tt.waits, waits)
			assert.ErrorIs(t, res[0].Err, transport.ErrBudgetExceeded)
			var de *transport.DeliveryError
			require.ErrorAs(t, res[0].Err, &de)
			assert.True(t, de.Retryable, "ending early is a retryable failure")
			assert.False(t, clock.Now().After(t0.Add(tt.a.maxElapsed)), "no wait crossed the budget")
		})
	}
}

// An attempt still running when the budget ends is cut off.
func TestSyncCutsTheAttemptAtTheBudget(t *testing.T) {
	a := &budgeted{scripted: scripted{interval: time.Second}, maxElapsed: 50 * time.Millisecond, hang: true}
	res, err := transport.Sync{}.Send(context.Background(), a, []transport.Envelope{{DeliveryID: uuid.New()}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, transport.StatusFailed, res[0].Status)
	assert.Equal(t, 1, res[0].Attempts)
	assert.ErrorIs(t, res[0].Err, transport.ErrBudgetExceeded)
}

// A delivery ended by its context reports the context's error and the last
// attempt's on one line.
func TestSyncContextErrorIsOneLine(t *testing.T) {
	clock := clocktest.New(t0)
	ctx, cancel := context.WithCancel(context.Background())
	a := &scripted{outcomes: []transport.Attempt{flaky}, maxTries: 5}
	done := make(chan []transport.Result)
	go func() {
		res, _ := transport.NewSync(transport.WithClock(clock)).Send(ctx, a, []transport.Envelope{{DeliveryID: uuid.New()}})
		done <- res
	}()
	require.True(t, clock.WaitTimers(1, nil))
	cancel()
	res := <-done
	require.Len(t, res, 1)
	msg := res[0].Err.Error()
	assert.NotContains(t, msg, "\n")
	assert.ErrorIs(t, res[0].Err, context.Canceled)
	var se *transport.StatusError
	assert.ErrorAs(t, res[0].Err, &se, "the last attempt's error is still there")
	assert.True(t, strings.Contains(msg, "last attempt"), msg)
}

func TestLimitAttempts(t *testing.T) {
	e := backoff.NewExponentialBackOff()
	e.MaxElapsedTime = 7 * time.Second
	b := transport.LimitAttempts(e, 3)
	assert.NotEqual(t, backoff.Stop, b.NextBackOff())
	assert.NotEqual(t, backoff.Stop, b.NextBackOff())
	assert.Equal(t, backoff.Stop, b.NextBackOff(), "three attempts: two retries")
	b.Reset()
	assert.NotEqual(t, backoff.Stop, b.NextBackOff(), "Reset starts over")
	require.Implements(t, (*transport.ElapsedLimiter)(nil), b)
	assert.Equal(t, 7*time.Second, b.(transport.ElapsedLimiter).MaxElapsedTime())
	assert.Equal(t, backoff.Stop, transport.LimitAttempts(e, 0).NextBackOff())
}
