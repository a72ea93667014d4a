package outbox_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
)

// Resend is Redeliver: after the delivery gave up, it goes out again with
// the same ID, its attempts numbered on in the outbox's log, read as a
// webhook.DeliveryLog; an unknown delivery is webhook.ErrDeliveryNotFound,
// one still in progress webhook.ErrDeliveryInProgress.
func TestResendIsRedeliver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		var healthy atomic.Bool
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
			if !healthy.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return false
			}
			return true
		}
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1})
		require.NoError(t, err)
		id := ds[0].ID
		r, ok := be.ob.(webhook.Resender)
		require.True(t, ok, "%T is a webhook.Resender", be.ob)
		err = r.Resend(ctx, id)
		assert.ErrorIs(t, err, webhook.ErrDeliveryInProgress, "still queued or retrying")
		assert.ErrorIs(t, err, durable.ErrInProgress, "Redeliver's error is kept")
		be.waitDeadLetters(t, 1, 15*time.Second)

		err = r.Resend(ctx, uuid.New())
		assert.ErrorIs(t, err, webhook.ErrDeliveryNotFound)
		assert.ErrorIs(t, err, durable.ErrDeliveryNotFound, "Redeliver's error is kept")

		healthy.Store(true)
		require.NoError(t, r.Resend(ctx, id))
		require.Eventually(t, func() bool { return rc.Seen()[id.String()].Count == 4 }, 10*time.Second, poll)
		var dl webhook.DeliveryLog = be.log
		var page webhook.AttemptPage
		require.Eventually(t, func() bool {
			page, err = dl.Attempts(ctx, webhook.AttemptQuery{DeliveryID: id})
			require.NoError(t, err)
			return len(page.Attempts) == 4
		}, 5*time.Second, poll)
		for i, a := range page.Attempts {
			assert.Equal(t, 4-i, a.Attempt, "newest first, numbered on")
			assert.Equal(t, id, a.DeliveryID)
		}
		assert.Equal(t, "success", page.Attempts[0].Outcome)
	})
}
