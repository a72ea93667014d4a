package outbox_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
)

// WithOnDeadLetter hears once of each delivery that gives up, after its last
// attempt is logged: one whose retries ran out, one whose record was deleted
// before it was sent; never of a delivered one.
func TestOnDeadLetter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		type call struct {
			res    transport.Result
			logged int // log rows of the delivery when the hook ran
		}
		var mu sync.Mutex
		calls := map[uuid.UUID][]call{}
		var be *backend
		hook := func(ctx context.Context, env transport.Envelope, res transport.Result) {
			rows, err := be.log.ByDelivery(ctx, env.DeliveryID)
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			calls[env.DeliveryID] = append(calls[env.DeliveryID], call{res, len(rows)})
		}
		be = open(t, outbox.WithOnDeadLetter(hook))
		down := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		down.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return false
		}
		up := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		downHook, upHook, goneHook := createHook(t, be.store, down.URL), createHook(t, be.store, up.URL), createHook(t, be.store, up.URL)
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1})
		require.NoError(t, err)
		require.Len(t, ds, 3)
		byHook := map[uuid.UUID]uuid.UUID{}
		for _, d := range ds {
			byHook[d.WebhookID] = d.ID
		}
		require.NoError(t, be.store.Delete(ctx, goneHook.ID))
		require.NoError(t, be.ob.Start(ctx))

		require.Eventually(t, func() bool {
			dl, err := be.ob.DeadLetters(ctx, 10)
			require.NoError(t, err)
			return len(dl) == 2 && up.Distinct() == 1
		}, 15*time.Second, poll)
		require.NoError(t, be.ob.Stop(ctx)) // every call has returned
		mu.Lock()
		defer mu.Unlock()
		assert.Len(t, calls, 2, "the delivered one is not reported")

		retried := calls[byHook[downHook.ID]]
		require.Len(t, retried, 1, "once")
		assert.Equal(t, transport.StatusFailed, retried[0].res.Status)
		assert.Equal(t, 3, retried[0].res.Attempts)
		assert.Equal(t, 3, retried[0].logged, "after the last attempt is logged")
		assert.Equal(t, http.StatusServiceUnavailable, retried[0].res.Last.StatusCode)
		var de *transport.DeliveryError
		require.ErrorAs(t, retried[0].res.Err, &de)
		assert.True(t, de.Retryable)
		assert.Equal(t, byHook[downHook.ID], de.DeliveryID)

		gone := calls[byHook[goneHook.ID]]
		require.Len(t, gone, 1, "once")
		assert.True(t, errors.Is(gone[0].res.Err, webhook.ErrWebhookGone), "%v", gone[0].res.Err)
		assert.Equal(t, 1, gone[0].res.Attempts)
		assert.Equal(t, 1, gone[0].logged)
		assert.NotContains(t, calls, byHook[upHook.ID])
	})
}
