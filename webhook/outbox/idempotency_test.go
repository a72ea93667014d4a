package outbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// createTenantHook creates a record of tenant subscribed to pageTrigger.
func createTenantHook(t testing.TB, store webhook.Store, tenant, url string) *webhook.Webhook {
	w := &webhook.Webhook{Name: "test", Tenant: tenant, Triggers: []string{pageTrigger}, URL: url}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

// byRecord indexes deliveries by their record.
func byRecord(ds []webhook.Delivery) map[uuid.UUID]webhook.Delivery {
	m := make(map[uuid.UUID]webhook.Delivery, len(ds))
	for _, d := range ds {
		m[d.WebhookID] = d
	}
	return m
}

// sentOnce waits until every delivery of ds reached rc once.
func sentOnce(t *testing.T, rc *outboxtest.Receiver, ds []webhook.Delivery) {
	t.Helper()
	require.Eventually(t, func() bool {
		s := rc.Seen()
		for _, d := range ds {
			if s[d.ID.String()].Count != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, poll)
}

// jobArgs returns the arguments of the delivery jobs, by delivery ID.
func jobArgs(t *testing.T, be *backend) map[uuid.UUID]durable.Args {
	t.Helper()
	res, err := be.jobs(context.Background(), river.NewJobListParams().Kinds(durable.Kind).First(1000))
	require.NoError(t, err)
	out := map[uuid.UUID]durable.Args{}
	for _, j := range res.Jobs {
		var a durable.Args
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
		out[a.DeliveryID] = a
	}
	return out
}

// The same idempotency key twice gives one set of deliveries: the second
// dispatch returns the first one's, marked Duplicate, and each record gets
// one request. Another key or another tenant makes new deliveries. The
// tenant travels in the job and reaches the delivery log.
func TestIdempotencyKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		a1 := createTenantHook(t, be.store, "acme", rc.URL)
		a2 := createTenantHook(t, be.store, "acme", rc.URL)
		own := createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		acme := webhook.WithTenant("acme")

		first, err := be.ob.Dispatch(ctx, PageUpdated{ID: 7}, acme, webhook.WithIdempotencyKey("order-7"))
		require.NoError(t, err)
		require.Len(t, first, 2)
		again, err := be.ob.Dispatch(ctx, PageUpdated{ID: 7, Title: "retried"}, acme, webhook.WithIdempotencyKey("order-7"))
		require.NoError(t, err)
		require.Len(t, again, 2)
		for rec, d := range byRecord(first) {
			assert.False(t, d.Duplicate)
			assert.Equal(t, "acme", d.Tenant)
			dup := byRecord(again)[rec]
			assert.True(t, dup.Duplicate)
			assert.Equal(t, d.ID, dup.ID, "the first dispatch's delivery")
		}
		assert.ElementsMatch(t, []uuid.UUID{a1.ID, a2.ID}, []uuid.UUID{first[0].WebhookID, first[1].WebhookID})

		otherKey, err := be.ob.Dispatch(ctx, PageUpdated{ID: 8}, acme, webhook.WithIdempotencyKey("order-8"))
		require.NoError(t, err)
		otherTenant, err := be.ob.Dispatch(ctx, PageUpdated{ID: 7}, webhook.WithIdempotencyKey("order-7"))
		require.NoError(t, err)
		require.Len(t, otherKey, 2)
		require.Len(t, otherTenant, 1)
		assert.Equal(t, own.ID, otherTenant[0].WebhookID)
		for _, d := range append(otherKey, otherTenant...) {
			assert.False(t, d.Duplicate)
			assert.NotContains(t, []uuid.UUID{first[0].ID, first[1].ID}, d.ID)
		}

		all := append(append(first, otherKey...), otherTenant...)
		sentOnce(t, rc, all)
		assert.Equal(t, 5, rc.Distinct(), "one request per record and key")
		assert.JSONEq(t, `{"id":7,"title":""}`, rc.Seen()[first[0].ID.String()].Body, "the first dispatch's body")

		args := jobArgs(t, be)
		assert.Len(t, args, 5, "one job per record and key")
		assert.Equal(t, "acme", args[first[0].ID].Tenant)
		assert.Equal(t, "order-7", args[first[0].ID].IdempotencyKey)
		assert.Equal(t, "", args[otherTenant[0].ID].Tenant)
		require.Eventually(t, func() bool { return len(logRows(t, be, first[0].ID)) == 1 }, 5*time.Second, poll)
		assert.Equal(t, "acme", logRows(t, be, first[0].ID)[0].Tenant)
	})
}

// Concurrent dispatches with one key, and one Send holding one key twice
// (which River refuses in a single batch), give one delivery per record.
func TestIdempotencyKeyConcurrentAndInOneBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		w := createHook(t, be.store, "http://127.0.0.1:9/never-started")
		var wg sync.WaitGroup
		ids := make([]uuid.UUID, 8)
		dups := make([]bool, len(ids))
		for i := range ids {
			wg.Go(func() {
				ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: i}, webhook.WithIdempotencyKey("burst"))
				if assert.NoError(t, err) && assert.Len(t, ds, 1) {
					ids[i], dups[i] = ds[0].ID, ds[0].Duplicate
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			assert.Equal(t, ids[0], id)
		}
		assert.Equal(t, 1, count(dups, false), "one dispatch created the delivery")

		env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: pageTrigger, IdempotencyKey: "batch",
			Body: []byte(`{}`), CreatedAt: time.Now()}
		twin := env
		twin.DeliveryID = uuid.New()
		rs, err := transportOf(be).Send(ctx, webhook.NewSender(be.store), []transport.Envelope{env, twin})
		require.NoError(t, err)
		require.Len(t, rs, 2)
		assert.Equal(t, env.DeliveryID, rs[0].DeliveryID)
		assert.False(t, rs[0].Duplicate)
		assert.Equal(t, env.DeliveryID, rs[1].DeliveryID)
		assert.True(t, rs[1].Duplicate)
		assert.Len(t, jobArgs(t, be), 2, "one job for the burst, one for the batch")
	})
}

func count(bs []bool, v bool) int {
	n := 0
	for _, b := range bs {
		if b == v {
			n++
		}
	}
	return n
}

// The key is kept in the database: after a restart (a new Outbox on the same
// SQLite file or PostgreSQL schema) a dispatch with it still creates no
// delivery and reports the first one, delivered.
func TestIdempotencyKeyAcrossRestart(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var open func() *backend
			if name == "sqlite" {
				path := filepath.Join(t.TempDir(), "outhook.db")
				open = func() *backend { return openSQLiteAt(t, path) }
			} else {
				schema, dsn := pgtest.NewSchema(t)
				open = func() *backend { return openPostgresAt(t, schema, dsn) }
			}
			ctx := context.Background()
			rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
			be := open()
			createTenantHook(t, be.store, "acme", rc.URL)
			require.NoError(t, be.ob.Start(ctx))
			first, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1}, webhook.WithTenant("acme"), webhook.WithIdempotencyKey("k"))
			require.NoError(t, err)
			require.Len(t, first, 1)
			sentOnce(t, rc, first)
			require.Eventually(t, func() bool { return len(logRows(t, be, first[0].ID)) == 1 }, 5*time.Second, poll)
			require.NoError(t, be.close(ctx))

			be = open()
			require.NoError(t, be.ob.Start(ctx))
			again, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1}, webhook.WithTenant("acme"), webhook.WithIdempotencyKey("k"))
			require.NoError(t, err)
			require.Len(t, again, 1)
			assert.True(t, again[0].Duplicate)
			assert.Equal(t, first[0].ID, again[0].ID)
			assert.Equal(t, webhook.StatusDelivered, again[0].Status)
			assert.Equal(t, 1, again[0].Attempts)
			assert.Len(t, jobArgs(t, be), 1)
			assert.Equal(t, 1, rc.Distinct())
			assert.Equal(t, 1, rc.Seen()[first[0].ID.String()].Count)
		})
	}
}

// A key used in a transaction that rolls back leaves no trace: a later
// dispatch with it delivers. One that commits holds the key.
func TestIdempotencyKeyInTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))

		rolledBack, err := be.dispatchTx(ctx, PageUpdated{ID: 1}, false, webhook.WithIdempotencyKey("k"))
		require.NoError(t, err)
		require.Len(t, rolledBack, 1)
		later, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1}, webhook.WithIdempotencyKey("k"))
		require.NoError(t, err)
		require.Len(t, later, 1)
		assert.False(t, later[0].Duplicate, "the rolled-back key does not hold")
		assert.NotEqual(t, rolledBack[0].ID, later[0].ID)

		committed, err := be.dispatchTx(ctx, PageUpdated{ID: 2}, true, webhook.WithIdempotencyKey("k2"))
		require.NoError(t, err)
		again, err := be.dispatchTx(ctx, PageUpdated{ID: 2}, true, webhook.WithIdempotencyKey("k2"))
		require.NoError(t, err)
		require.Len(t, again, 1)
		assert.True(t, again[0].Duplicate)
		assert.Equal(t, committed[0].ID, again[0].ID)

		sentOnce(t, rc, append(later, committed...))
		assert.Equal(t, 2, rc.Distinct())
		assert.NotContains(t, rc.Seen(), rolledBack[0].ID.String())
	})
}

// A dead letter keeps its key: a repeat reports it failed and sends nothing.
// The dead letter carries the tenant. Redeliver replays it with its delivery
// ID (the key does not get in the way) and the replay keeps the key.
func TestIdempotencyKeyDeadLetterAndRedeliver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		var mu sync.Mutex
		gone := true
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool {
			mu.Lock()
			defer mu.Unlock()
			if gone {
				http.Error(w, "gone", http.StatusGone)
				return false
			}
			return true
		}
		be := open(t)
		createTenantHook(t, be.store, "acme", rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		opts := []webhook.DispatchOption{webhook.WithTenant("acme"), webhook.WithIdempotencyKey("k")}
		first, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1}, opts...)
		require.NoError(t, err)
		id := first[0].ID

		dead := be.waitDeadLetters(t, 1, 10*time.Second)
		assert.Equal(t, id, dead[0].DeliveryID)
		assert.Equal(t, "acme", dead[0].Tenant)
		assert.Equal(t, rivertype.JobStateCancelled, dead[0].State)

		again, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1}, opts...)
		require.NoError(t, err)
		require.Len(t, again, 1)
		assert.True(t, again[0].Duplicate)
		assert.Equal(t, id, again[0].ID)
		assert.Equal(t, webhook.StatusFailed, again[0].Status)
		assert.ErrorContains(t, again[0].Err, "410")

		mu.Lock()
		gone = false
		mu.Unlock()
		require.NoError(t, be.redeliver(ctx, id))
		require.Eventually(t, func() bool { return rc.Seen()[id.String()].Count == 2 }, 10*time.Second, poll)
		require.Eventually(t, func() bool {
			ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1}, opts...)
			require.NoError(t, err)
			require.Len(t, ds, 1)
			require.True(t, ds[0].Duplicate, "the replay holds the key")
			require.Equal(t, id, ds[0].ID)
			return ds[0].Status == webhook.StatusDelivered
		}, 10*time.Second, poll)
		assert.Equal(t, 1, rc.Distinct())
		assert.Len(t, jobArgs(t, be), 1)
	})
}

// logRows returns the delivery log rows of id.
func logRows(t *testing.T, be *backend, id uuid.UUID) []sqlstore.AttemptRecord {
	t.Helper()
	rows, err := be.log.ByDelivery(context.Background(), id)
	require.NoError(t, err)
	return rows
}
