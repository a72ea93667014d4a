package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
)

// One slow endpoint does not starve the others: 24 deliveries to a receiver
// that hangs hold only their record's fair share of the workers, and a
// delivery to another record arrives while they still hang. The deadline is
// a generous bound, not a measurement: without the share every worker hangs
// until the release.
func TestSlowEndpointDoesNotStarveOthers(t *testing.T) {
	const workers, hung = 4, 24
	for _, tc := range []struct {
		name  string
		opts  []outbox.Option
		share int
	}{
		{"default share", nil, durable.FairShare(workers)},
		{"WithPerEndpoint", []outbox.Option{outbox.WithPerEndpoint(3)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) { testSlowEndpoint(t, workers, hung, tc.opts, tc.share) })
	}
}

func testSlowEndpoint(t *testing.T, workers, hung int, opts []outbox.Option, share int) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t, append(opts, outbox.WithWorkers(workers), outbox.WithSenderOptions(webhook.WithAttemptTimeout(time.Minute)))...)
		release := make(chan struct{})
		var releaseOnce sync.Once
		unhang := func() { releaseOnce.Do(func() { close(release) }) }
		t.Cleanup(unhang)
		var mu sync.Mutex
		inflight, peak := 0, 0
		slow := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		slow.Handle = func(w http.ResponseWriter, r *http.Request, _ string, _ int) bool {
			mu.Lock()
			inflight++
			peak = max(peak, inflight)
			mu.Unlock()
			defer func() { mu.Lock(); inflight--; mu.Unlock() }()
			select {
			case <-release:
				return true
			case <-r.Context().Done():
				return false
			}
		}
		fast := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		slowHook, fastHook := createHook(t, be.store, slow.URL), createHook(t, be.store, fast.URL)
		require.NoError(t, be.ob.Start(ctx))

		send := func(hook uuid.UUID, n int) []transport.Envelope {
			envs := make([]transport.Envelope, n)
			for i := range envs {
				envs[i] = transport.Envelope{DeliveryID: uuid.New(), WebhookID: hook, Trigger: pageTrigger,
					Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: time.Now()}
			}
			_, err := transportOf(be).Send(ctx, sender(be), envs)
			require.NoError(t, err)
			return envs
		}
		slowEnvs := send(slowHook.ID, hung)
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return peak >= share }, 10*time.Second, poll,
			"the slow record takes its share")
		fastEnv := send(fastHook.ID, 1)[0]

		require.Eventually(t, func() bool { return fast.Seen()[fastEnv.DeliveryID.String()].Count == 1 }, 20*time.Second, poll,
			"the other record's delivery waits for the slow one's")
		mu.Lock()
		assert.Equal(t, share, peak, "the slow record holds its share of the workers, no more")
		mu.Unlock()

		unhang()
		require.Eventually(t, func() bool { return slow.Distinct() == hung }, 30*time.Second, poll)
		for _, env := range slowEnvs {
			var log []sqlstoreAttempt
			require.Eventually(t, func() bool { log = attempts(t, be, env.DeliveryID); return len(log) > 0 }, 5*time.Second, poll)
			assert.Equal(t, sqlstoreAttempt{1, http.StatusNoContent, "success", ""}, log[0], "waiting for a share costs no attempt")
		}
	})
}
