package outbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
)

const poll = 10 * time.Millisecond

// RawPage is a message whose body is sent as it is: unsorted keys and
// spacing show that the stored job keeps the exact bytes.
type RawPage struct{ JSON string }

func (p RawPage) JSONSerialize() any { return json.RawMessage(p.JSON) }

func forEachBackend(t *testing.T, f func(t *testing.T, open backendFunc)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.open)
		})
	}
}

func TestDeliver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		w := createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))

		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 42, Title: "<Home> & more"})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, webhook.StatusQueued, ds[0].Status)
		assert.Equal(t, w.ID, ds[0].WebhookID)
		id := ds[0].ID.String()

		require.Eventually(t, func() bool { return rc.Seen()[id].Count == 1 }, 10*time.Second, poll)
		assert.Equal(t, `{"id":42,"title":"<Home> & more"}`, rc.Seen()[id].Body)

		var log []sqlstoreAttempt
		require.Eventually(t, func() bool { log = attempts(t, be, ds[0].ID); return len(log) == 1 }, 5*time.Second, poll)
		assert.Equal(t, sqlstoreAttempt{1, http.StatusNoContent, "success", ""}, log[0])
	})
}

func TestBodyBytesKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		reg := registryWithRaw(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		w := &webhook.Webhook{Name: "raw", Triggers: []string{"test/raw"}, URL: rc.URL}
		require.NoError(t, be.store.Create(ctx, w))
		require.NoError(t, be.ob.Start(ctx))
		// PageUpdated's keys "title" after "id" would survive jsonb; raw bytes
		// with unsorted keys and spaces would not.
		d := webhook.NewDispatcher(be.store, reg, webhook.WithTransport(transportOf(be)))
		body := `{"zeta": 1, "alpha": [true, null], "id":  "ü\u00e9"}`
		ds, err := d.Dispatch(ctx, RawPage{JSON: body})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, w.ID, ds[0].WebhookID)
		require.Eventually(t, func() bool { return rc.Seen()[ds[0].ID.String()].Count == 1 }, 10*time.Second, poll)
		assert.Equal(t, body, rc.Seen()[ds[0].ID.String()].Body)
	})
}

func TestRetriesThenDeadLetterAndRedeliver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		var mu sync.Mutex
		healthy := false
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
			mu.Lock()
			defer mu.Unlock()
			if !healthy {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return false
			}
			return true
		}
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1})
		require.NoError(t, err)
		id := ds[0].ID

		dead := be.waitDeadLetters(t, 1, 15*time.Second)
		assert.Equal(t, id, dead[0].DeliveryID)
		assert.Equal(t, rivertype.JobStateDiscarded, dead[0].State)
		assert.Equal(t, 3, dead[0].Attempts)
		assert.Contains(t, dead[0].LastError, "503")
		assert.Equal(t, 3, rc.Seen()[id.String()].Count)
		log := attempts(t, be, id)
		require.Len(t, log, 3)
		for i, a := range log {
			assert.Equal(t, sqlstoreAttempt{i + 1, 503, "retry", "receiver answered HTTP 503"}, a)
		}

		assert.ErrorIs(t, be.redeliver(ctx, uuid.New()), durable.ErrDeliveryNotFound)
		mu.Lock()
		healthy = true
		mu.Unlock()
		require.NoError(t, be.redeliver(ctx, id))
		require.Eventually(t, func() bool { return rc.Seen()[id.String()].Count == 4 }, 10*time.Second, poll)
		require.Eventually(t, func() bool { return len(attempts(t, be, id)) == 4 }, 5*time.Second, poll)
		assert.Equal(t, sqlstoreAttempt{4, 204, "success", ""}, attempts(t, be, id)[3])
		dead, err = be.ob.DeadLetters(ctx, 10)
		require.NoError(t, err)
		assert.Empty(t, dead)
	})
}

func TestPermanentFailuresCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
			http.Error(w, "no such hook", http.StatusGone)
			return false
		}
		gone := createHook(t, be.store, rc.URL)
		disabled := createHook(t, be.store, rc.URL)
		deleted := createHook(t, be.store, rc.URL)
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 2})
		require.NoError(t, err)
		require.Len(t, ds, 3)
		// Queued work sees the record as it is at send time.
		disabled.Disabled = true
		require.NoError(t, be.store.Update(ctx, disabled))
		require.NoError(t, be.store.Delete(ctx, deleted.ID))
		require.NoError(t, be.ob.Start(ctx))

		dead := be.waitDeadLetters(t, 3, 10*time.Second)
		byHook := map[uuid.UUID]durable.DeadLetter{}
		for _, d := range dead {
			assert.Equal(t, rivertype.JobStateCancelled, d.State)
			assert.Equal(t, 1, d.Attempts)
			byHook[d.WebhookID] = d
		}
		assert.Contains(t, byHook[gone.ID].LastError, "HTTP 410")
		assert.Contains(t, byHook[disabled.ID].LastError, webhook.ErrWebhookDisabled.Error())
		assert.Contains(t, byHook[deleted.ID].LastError, webhook.ErrWebhookGone.Error())
		assert.Equal(t, 1, rc.Distinct(), "only the enabled record is sent to")
		for _, d := range ds {
			log := attempts(t, be, d.ID)
			require.Len(t, log, 1)
			assert.Equal(t, "permanent", log[0].Outcome)
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		var mu sync.Mutex
		var times []time.Time
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, n int) bool {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return false
			}
			return true
		}
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 3})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(attempts(t, be, ds[0].ID)) == 2 }, 10*time.Second, poll)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, times, 2)
		assert.GreaterOrEqual(t, times[1].Sub(times[0]), 900*time.Millisecond, "Retry-After: 1 beats the 10 ms backoff")
		log := attempts(t, be, ds[0].ID)
		assert.Equal(t, []int{1, 2}, []int{log[0].Attempt, log[1].Attempt}, "the wait counts as an attempt, unlike a snooze")
	})
}

func TestDispatchTx(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))

		rolledBack, err := be.dispatchTx(ctx, PageUpdated{ID: 1, Title: "rolled back"}, false)
		require.NoError(t, err)
		require.Len(t, rolledBack, 1)
		committed, err := be.dispatchTx(ctx, PageUpdated{ID: 2, Title: "committed"}, true)
		require.NoError(t, err)
		require.Len(t, committed, 1)
		plain, err := be.ob.Dispatch(ctx, PageUpdated{ID: 2, Title: "committed"})
		require.NoError(t, err)

		require.Eventually(t, func() bool {
			s := rc.Seen()
			return s[committed[0].ID.String()].Count == 1 && s[plain[0].ID.String()].Count == 1
		}, 10*time.Second, poll)
		s := rc.Seen()
		assert.Equal(t, s[plain[0].ID.String()].Body, s[committed[0].ID.String()].Body, "sent exactly as a plain Dispatch")
		assert.NotContains(t, s, rolledBack[0].ID.String())
		assert.Equal(t, 2, rc.Distinct())
		assert.Empty(t, attempts(t, be, rolledBack[0].ID))
	})
}

func TestAttemptRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t, outbox.WithAttemptRetention(time.Hour))
		old, recent := uuid.New(), uuid.New()
		recordAt(t, be, old, time.Now().Add(-2*time.Hour))
		recordAt(t, be, recent, time.Now().Add(-time.Minute))
		require.NoError(t, be.ob.Start(ctx)) // the prune job runs on start
		require.Eventually(t, func() bool { return len(attempts(t, be, old)) == 0 }, 10*time.Second, poll)
		assert.Len(t, attempts(t, be, recent), 1)
	})
}

func TestDeferSnoozesWithoutCountingAnAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		var mu sync.Mutex
		deferrals := 0
		deferTwice := func(next transport.AttemptFunc) transport.AttemptFunc {
			return func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
				mu.Lock()
				defer mu.Unlock()
				if deferrals < 2 {
					deferrals++
					return transport.Attempt{Number: n, Outcome: transport.Defer, RetryAfter: 20 * time.Millisecond}
				}
				return next(ctx, env, n)
			}
		}
		be := open(t, outbox.WithSenderOptions(webhook.WithMiddleware(deferTwice)))
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 5})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		id := ds[0].ID

		require.Eventually(t, func() bool { return rc.Seen()[id.String()].Count == 1 }, 10*time.Second, poll)
		require.Eventually(t, func() bool { return len(attempts(t, be, id)) == 1 }, 5*time.Second, poll)
		assert.Equal(t, sqlstoreAttempt{1, http.StatusNoContent, "success", ""}, attempts(t, be, id)[0],
			"deferrals are neither attempts nor log rows")
		mu.Lock()
		assert.Equal(t, 2, deferrals)
		mu.Unlock()
	})
}
