package outbox_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
)

// TestFlakyReceiver: half the attempts get a 5xx, some a connection reset,
// some time out. Every delivery ends delivered or dead-lettered, and its log
// holds every attempt.
func TestFlakyReceiver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		const total, maxTries = 200, 4
		ctx := context.Background()
		be := open(t, outbox.WithWorkers(32), outbox.WithSenderOptions(webhook.WithAttemptTimeout(300*time.Millisecond),
			webhook.WithBackOff(testBackOff(maxTries))))
		var mu sync.Mutex
		rnd := rand.New(rand.NewPCG(1, 2))
		delivered := map[string]bool{}
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, r *http.Request, id string, _ int) bool {
			mu.Lock()
			p := rnd.Float64()
			mu.Unlock()
			switch {
			case p < 0.5:
				http.Error(w, "flaky", http.StatusBadGateway)
			case p < 0.6:
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
					conn.Close()
				}
			case p < 0.65:
				<-r.Context().Done() // the sender's attempt timeout ends it
			default:
				mu.Lock()
				delivered[id] = true
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			}
			return false
		}
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		ids := make([]uuid.UUID, 0, total)
		for i := 0; i < total; i++ {
			ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: i})
			require.NoError(t, err)
			ids = append(ids, ds[0].ID)
		}
		dead := map[uuid.UUID]durable.DeadLetter{}
		require.Eventually(t, func() bool {
			dls, err := be.ob.DeadLetters(ctx, 10_000)
			require.NoError(t, err)
			mu.Lock()
			n := len(delivered)
			mu.Unlock()
			if n+len(dls) < total {
				return false
			}
			for _, d := range dls {
				dead[d.DeliveryID] = d
			}
			return true
		}, 60*time.Second, 50*time.Millisecond)

		nDead := 0
		for _, id := range ids {
			log := attempts(t, be, id)
			require.NotEmpty(t, log, id)
			for i, a := range log {
				assert.Equal(t, i+1, a.Attempt, "attempts are numbered 1, 2, ...")
			}
			last := log[len(log)-1]
			mu.Lock()
			ok := delivered[id.String()]
			mu.Unlock()
			if d, isDead := dead[id]; isDead {
				nDead++
				assert.False(t, ok)
				assert.Len(t, log, maxTries, "a dead letter used every attempt")
				assert.Equal(t, maxTries, d.Attempts)
				assert.Equal(t, "retry", last.Outcome)
			} else {
				assert.True(t, ok, "delivery %s is neither delivered nor dead", id)
				assert.Equal(t, "success", last.Outcome)
				assert.Equal(t, http.StatusOK, last.StatusCode)
			}
		}
		t.Logf("%d delivered, %d dead-lettered", total-nDead, nDead)
	})
}
