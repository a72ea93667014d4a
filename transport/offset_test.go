package transport_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
)

// numbers is an Attempter that fails until its third call and records the
// attempt numbers it was given.
type numbers struct {
	mu   sync.Mutex
	seen []int
}

func (a *numbers) Attempt(_ context.Context, _ transport.Envelope, n int) transport.Attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, n)
	if len(a.seen) < 3 {
		return transport.Attempt{Number: n, Outcome: transport.Retry, StatusCode: 503, Err: &transport.StatusError{StatusCode: 503}}
	}
	return transport.Attempt{Number: n, Outcome: transport.Success, StatusCode: 200}
}

func (a *numbers) NewBackOff() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 4)
}

func (a *numbers) numbers() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.seen...)
}

// A resent delivery continues its count: Sync and Memory number its attempts
// from Envelope.AttemptOffset+1, and report the attempts made in all.
func TestAttemptOffset(t *testing.T) {
	for _, offset := range []int{0, 2, -1} {
		want := []int{1, 2, 3}
		if offset > 0 {
			want = []int{offset + 1, offset + 2, offset + 3}
		}
		env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Trigger: "t/x", AttemptOffset: offset}

		a := &numbers{}
		rs, err := transport.Sync{}.Send(context.Background(), a, []transport.Envelope{env})
		require.NoError(t, err)
		assert.Equal(t, want, a.numbers(), "Sync, offset %d", offset)
		assert.Equal(t, want[2], rs[0].Attempts, "Sync, offset %d", offset)

		a = &numbers{}
		var c collector
		clock := clocktest.New(t0)
		m := transport.NewMemory(transport.WithClock(clock), transport.WithOnDone(c.done))
		_, err = m.Send(context.Background(), a, []transport.Envelope{env})
		require.NoError(t, err)
		drive(clock, c.reached(1))
		closeNow(t, m)
		r, _ := c.get(env.DeliveryID)
		assert.Equal(t, want, a.numbers(), "Memory, offset %d", offset)
		assert.Equal(t, want[2], r.Attempts, "Memory, offset %d", offset)
	}
}
