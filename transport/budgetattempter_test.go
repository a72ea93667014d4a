package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
)

// withinBudget is a BudgetAttempter: Sync hands it the rest of the budget
// instead of bounding its attempts with a context of its own.
type withinBudget struct {
	budgeted
	lefts []time.Duration
	cut   bool
}

func (w *withinBudget) Attempt(context.Context, transport.Envelope, int) transport.Attempt {
	panic("Sync calls AttemptWithin on a BudgetAttempter")
}

func (w *withinBudget) AttemptWithin(ctx context.Context, env transport.Envelope, n int, left time.Duration) (transport.Attempt, bool) {
	w.lefts = append(w.lefts, left)
	_, hasDeadline := ctx.Deadline()
	if hasDeadline {
		panic("Sync added a deadline of its own")
	}
	return transport.Attempt{Number: n, Outcome: transport.Retry, Err: errors.New("cut off")}, w.cut
}

func (w *withinBudget) NewBackOff() backoff.BackOff {
	return transport.LimitAttempts(w.budgeted.NewBackOff(), 1)
}

func TestSyncHandsTheBudgetToABudgetAttempter(t *testing.T) {
	for _, cut := range []bool{true, false} {
		a := &withinBudget{budgeted: budgeted{scripted: scripted{interval: time.Millisecond}, maxElapsed: time.Hour}, cut: cut}
		res, err := transport.Sync{}.Send(context.Background(), a, []transport.Envelope{{DeliveryID: uuid.New()}})
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.Len(t, a.lefts, 1)
		assert.True(t, a.lefts[0] > 0 && a.lefts[0] <= time.Hour, "the rest of the budget: %s", a.lefts[0])
		assert.Equal(t, transport.StatusFailed, res[0].Status)
		assert.Equal(t, cut, errors.Is(res[0].Err, transport.ErrBudgetExceeded), "%v", res[0].Err)
	}
}
