package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// insertAt inserts a delivery job (or one in another queue) scheduled at
// at, with a priority, on the backend's River client, which is not started.
// River inserts it as scheduled; a due one is then made available, as
// River's scheduler would.
func insertAt(t *testing.T, be *backend, at time.Time, priority int, queue string) {
	t.Helper()
	ctx := context.Background()
	args := durable.NewArgs(transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Trigger: pageTrigger,
		Body: []byte(`{}`), CreatedAt: at})
	opts := &river.InsertOpts{Queue: queue, ScheduledAt: at, Priority: priority}
	due := at.Before(time.Now())
	var err error
	switch ob := be.ob.(type) {
	case *outboxsqlite.Outbox:
		var res *rivertype.JobInsertResult
		if res, err = ob.Client().Insert(ctx, args, opts); err == nil && due {
			_, err = ob.DB().ExecContext(ctx, "UPDATE river_job SET state = 'available' WHERE id = ?", res.Job.ID)
		}
	case *outboxpg.Outbox:
		var res *rivertype.JobInsertResult
		if res, err = ob.Client().Insert(ctx, args, opts); err == nil && due {
			_, err = ob.Pool().Exec(ctx, "UPDATE river_job SET state = 'available' WHERE id = $1", res.Job.ID)
		}
	}
	require.NoError(t, err)
}

type lagger interface {
	QueueLag(ctx context.Context) (time.Duration, error)
}

// QueueLag is the age of the oldest due job of the delivery queue, whatever
// its priority; jobs scheduled for later and other queues' jobs do not
// count, and an empty queue has no lag.
func TestQueueLag(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		be := open(t)
		ctx := context.Background()
		ob := be.ob.(lagger)
		lag, err := ob.QueueLag(ctx)
		require.NoError(t, err)
		assert.Zero(t, lag, "an empty queue")

		now := time.Now()
		insertAt(t, be, now.Add(time.Hour), 1, durable.Queue)    // scheduled, not due
		insertAt(t, be, now.Add(-time.Hour), 1, "other")         // another queue
		insertAt(t, be, now.Add(-time.Minute), 1, durable.Queue) // due
		lag, err = ob.QueueLag(ctx)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, lag, time.Minute-time.Second)
		assert.Less(t, lag, time.Minute+30*time.Second)

		insertAt(t, be, now.Add(-3*time.Minute), 4, durable.Queue) // older, lowest priority
		lag, err = ob.QueueLag(ctx)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, lag, 3*time.Minute-time.Second)
		assert.Less(t, lag, 3*time.Minute+30*time.Second)

		require.NoError(t, be.close(ctx))
		_, err = ob.QueueLag(ctx)
		assert.ErrorIs(t, err, outbox.ErrClosed)
	})
}
