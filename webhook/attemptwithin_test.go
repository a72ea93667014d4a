package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// The Sender folds Sync's budget and its attempt timeout into one deadline
// when it has no middleware; the earlier one still ends the attempt, and
// only the budget's makes it ErrBudgetExceeded. With middleware the budget
// bounds the middleware's waits, the attempt timeout only the request.
func TestSyncBudgetAndAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	store := webhook.NewMemoryStore()
	record(t, store, rc.URL)
	oneAttempt := func(budget time.Duration) func() backoff.BackOff {
		return func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.MaxElapsedTime = budget
			return transport.LimitAttempts(b, 1)
		}
	}
	var sawDeadline time.Duration // how far off the middleware's deadline was
	watch := func(next transport.AttemptFunc) transport.AttemptFunc {
		return func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
			if dl, ok := ctx.Deadline(); ok {
				sawDeadline = time.Until(dl)
			}
			return next(ctx, env, n)
		}
	}
	tests := []struct {
		name          string
		budget, tries time.Duration // the back-off's MaxElapsedTime, the attempt timeout
		middleware    bool
		budgetCut     bool
	}{
		{"budget first", 100 * time.Millisecond, time.Minute, false, true},
		{"attempt timeout first", time.Minute, 100 * time.Millisecond, false, false},
		{"budget first, with middleware", 100 * time.Millisecond, time.Minute, true, true},
		{"attempt timeout first, with middleware", time.Minute, 100 * time.Millisecond, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []webhook.DispatcherOption{loopback, webhook.WithBackOff(oneAttempt(tt.budget)), webhook.WithAttemptTimeout(tt.tries)}
			if tt.middleware {
				opts = append(opts, webhook.WithMiddleware(watch))
			}
			d := webhook.NewDispatcher(store, registry(t), opts...)
			deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
			require.NoError(t, err)
			require.Len(t, deliveries, 1)
			del := deliveries[0]
			assert.Equal(t, webhook.StatusFailed, del.Status)
			assert.Equal(t, 1, del.Attempts)
			assert.Equal(t, tt.budgetCut, errors.Is(del.Err, transport.ErrBudgetExceeded), "%v", del.Err)
			if tt.middleware {
				assert.Greater(t, sawDeadline, tt.budget/2, "the middleware is bounded by the budget, not the attempt timeout")
			}
		})
	}
}
