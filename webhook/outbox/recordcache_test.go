package outbox_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
)

// With a record cache of an hour, a record disabled through the Outbox's
// Store between two attempts still stops the next one: writes through the
// store invalidate what the worker has cached.
func TestRecordCacheSeesWritesThroughTheStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		// The retry waits long enough for the disable to come first.
		slow := webhook.WithBackOff(func() backoff.BackOff {
			return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Second), 2)
		})
		be := open(t, outbox.WithCache(time.Hour), outbox.WithSenderOptions(slow))
		var answered atomic.Int32
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
			if answered.Add(1) == 1 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return false
			}
			return true
		}
		hook := createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(attempts(t, be, ds[0].ID)) == 1 }, 10*time.Second, poll)
		_, err = be.store.Disable(ctx, hook.ID, "test", time.Now())
		require.NoError(t, err)

		dead := be.waitDeadLetters(t, 1, 10*time.Second)
		assert.Equal(t, rivertype.JobStateCancelled, dead[0].State)
		assert.Contains(t, dead[0].LastError, webhook.ErrWebhookDisabled.Error())
		assert.EqualValues(t, 1, answered.Load(), "no request after the disable")
	})
}
