package durable_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
)

// insertOnly returns a River client without workers on a fresh SQLite file.
func insertOnly(t *testing.T) (*river.Client[*sql.Tx], *sql.DB) {
	t.Helper()
	db := sqliteDB(t)
	client, err := river.NewClient(riversqlite.New(db), &river.Config{Logger: quiet()})
	require.NoError(t, err)
	return client, db
}

func keyed(key string) transport.Envelope {
	return transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Tenant: "acme", Trigger: "test/t",
		IdempotencyKey: key, Body: []byte(`{"n":1}`), CreatedAt: time.Now()}
}

func deliveryJobs(t *testing.T, client *river.Client[*sql.Tx]) []*rivertype.JobRow {
	t.Helper()
	res, err := client.JobList(context.Background(), river.NewJobListParams().Kinds(durable.Kind).First(1000))
	require.NoError(t, err)
	return res.Jobs
}

func sendOne(t *testing.T, tr transport.Transport, env transport.Envelope) transport.Result {
	t.Helper()
	rs, err := tr.Send(context.Background(), newScripted(transport.Success, 3), []transport.Envelope{env})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	return rs[0]
}

// The tenant and the idempotency key travel in the job's arguments, under
// their JSON names, and are left out when empty.
func TestArgsRoundTrip(t *testing.T) {
	env := keyed("order-7")
	env.CreatedAt = env.CreatedAt.UTC().Round(0)
	a := durable.NewArgs(env)
	assert.Equal(t, env, a.Envelope())
	b, err := json.Marshal(a)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"tenant":"acme"`)
	assert.Contains(t, string(b), `"idempotency_key":"order-7"`)

	env.Tenant, env.IdempotencyKey = "", ""
	b, err = json.Marshal(durable.NewArgs(env))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "tenant")
	assert.NotContains(t, string(b), "idempotency_key")
}

// A keyed delivery is unique over exactly its record, tenant, trigger and
// key: a repeat that differs only in the delivery ID, body or time inserts
// nothing and reports the first delivery, one that differs in any of the
// four inserts a job. This fails if the river:"unique" tags on Args or the
// unique options of Send are removed (or cover other fields).
func TestIdempotencyKeyIsUniqueByRecordTenantTriggerKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*transport.Envelope)
		dup    bool
	}{
		{"same key, other delivery ID, body and time", func(e *transport.Envelope) {
			e.Body, e.CreatedAt = []byte(`{"n":2}`), e.CreatedAt.Add(time.Hour)
		}, true},
		{"other record", func(e *transport.Envelope) { e.WebhookID = uuid.New() }, false},
		{"other tenant", func(e *transport.Envelope) { e.Tenant = "globex" }, false},
		{"no tenant", func(e *transport.Envelope) { e.Tenant = "" }, false},
		{"other trigger", func(e *transport.Envelope) { e.Trigger = "test/u" }, false},
		{"other key", func(e *transport.Envelope) { e.IdempotencyKey = "order-8" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := insertOnly(t)
			tr := durable.New(client)
			first := keyed("order-7")
			r1 := sendOne(t, tr, first)
			assert.Equal(t, transport.Result{DeliveryID: first.DeliveryID, Status: transport.StatusQueued}, r1)

			again := first
			again.DeliveryID = uuid.New()
			tc.change(&again)
			r2 := sendOne(t, tr, again)
			assert.Equal(t, tc.dup, r2.Duplicate)
			assert.Equal(t, transport.StatusQueued, r2.Status)
			if tc.dup {
				assert.Equal(t, first.DeliveryID, r2.DeliveryID, "the first delivery's ID")
				assert.Len(t, deliveryJobs(t, client), 1)
			} else {
				assert.Equal(t, again.DeliveryID, r2.DeliveryID)
				assert.Len(t, deliveryJobs(t, client), 2)
			}
		})
	}
}

// Keyed jobs are unique in every state, cancelled and discarded included, so
// that a dead letter is not created again; deliveries without a key are
// inserted as before, without a unique key, however often they repeat.
func TestUniqueOptionsOnlyForKeyedDeliveries(t *testing.T) {
	client, _ := insertOnly(t)
	tr := durable.New(client)
	plain := envelopes(uuid.New(), 1)[0]
	twin := plain
	twin.DeliveryID = uuid.New()
	rs, err := tr.Send(context.Background(), newScripted(transport.Success, 3), []transport.Envelope{plain, twin})
	require.NoError(t, err)
	for i, env := range []transport.Envelope{plain, twin} {
		assert.Equal(t, transport.Result{DeliveryID: env.DeliveryID, Status: transport.StatusQueued}, rs[i])
	}
	sendOne(t, tr, keyed("k"))

	jobs := deliveryJobs(t, client)
	require.Len(t, jobs, 3)
	for _, j := range jobs {
		var a durable.Args
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
		if a.IdempotencyKey == "" {
			assert.Empty(t, j.UniqueKey, "job %d", j.ID)
			continue
		}
		assert.NotEmpty(t, j.UniqueKey)
		assert.ElementsMatch(t, rivertype.JobStates(), j.UniqueStates)
	}
}

// Two envelopes with one unique key in one Send (which River refuses in a
// single batch) give one job; the second reports the first.
func TestDuplicatesInOneBatch(t *testing.T) {
	client, db := insertOnly(t)
	tr := durable.New(client)
	a := keyed("k")
	b := a
	b.DeliveryID = uuid.New()
	c := keyed("k") // another record
	plain := envelopes(a.WebhookID, 1)[0]
	envs := []transport.Envelope{a, b, c, plain}
	for _, send := range []func([]transport.Envelope) ([]transport.Result, error){
		func(envs []transport.Envelope) ([]transport.Result, error) {
			return tr.Send(context.Background(), newScripted(transport.Success, 3), envs)
		},
		func(envs []transport.Envelope) ([]transport.Result, error) { // the same in a transaction, again
			return inTx(t, db, func(tx *sql.Tx) ([]transport.Result, error) {
				return tr.InTx(tx).Send(context.Background(), newScripted(transport.Success, 3), envs)
			})
		},
	} {
		rs, err := send(envs)
		require.NoError(t, err)
		require.Len(t, rs, 4)
		for i, want := range []uuid.UUID{a.DeliveryID, a.DeliveryID, c.DeliveryID, plain.DeliveryID} {
			assert.Equal(t, want, rs[i].DeliveryID, "envelope %d", i)
			assert.Equal(t, transport.StatusQueued, rs[i].Status)
		}
		assert.True(t, rs[1].Duplicate)
		envs[3].DeliveryID = uuid.New()
		plain = envs[3]
	}
	// The second round's keyed envelopes were all duplicates.
	assert.Len(t, deliveryJobs(t, client), 4, "two keyed jobs and two plain ones")
}

// inTx runs fn in a transaction on db and commits it.
func inTx(t *testing.T, db *sql.DB, fn func(*sql.Tx) ([]transport.Result, error)) ([]transport.Result, error) {
	t.Helper()
	tx, err := db.Begin()
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rs, err := fn(tx)
	if err != nil {
		return nil, err
	}
	return rs, tx.Commit()
}

// Both the Transport and its InTx form are Deduplicators.
func TestDeduplicatesByKey(t *testing.T) {
	client, db := insertOnly(t)
	tr := durable.New(client)
	tx, err := db.Begin()
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // the test only looks
	for _, x := range []transport.Transport{tr, tr.InTx(tx)} {
		d, ok := x.(transport.Deduplicator)
		require.True(t, ok, "%T", x)
		assert.True(t, d.DeduplicatesByKey())
	}
}

// A repeat reports the first delivery as it stands: delivered, or failed
// (a dead letter, cancelled or discarded), without inserting anything.
func TestDuplicateReportsTheFirstDeliverysStatus(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outcome   transport.Outcome
		status    transport.Status
		retryable bool
	}{
		{"delivered", transport.Success, transport.StatusDelivered, false},
		{"cancelled", transport.Permanent, transport.StatusFailed, false},
		{"discarded", transport.Retry, transport.StatusFailed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a := newScripted(tc.outcome, 1)
			client := startRiver(t, sqliteDB(t), durable.NewWorker(a), 1)
			tr := durable.New(client)
			first := keyed("k")
			rs, err := tr.Send(ctx, a, []transport.Envelope{first})
			require.NoError(t, err)
			require.False(t, rs[0].Duplicate)
			require.Eventually(t, func() bool {
				jobs := deliveryJobs(t, client)
				return len(jobs) == 1 && jobs[0].FinalizedAt != nil
			}, 10*time.Second, 10*time.Millisecond)

			again := first
			again.DeliveryID = uuid.New()
			rs, err = tr.Send(ctx, a, []transport.Envelope{again})
			require.NoError(t, err)
			r := rs[0]
			assert.True(t, r.Duplicate)
			assert.Equal(t, first.DeliveryID, r.DeliveryID)
			assert.Equal(t, tc.status, r.Status)
			assert.Equal(t, 1, r.Attempts)
			if tc.status == transport.StatusFailed {
				var de *transport.DeliveryError
				require.ErrorAs(t, r.Err, &de)
				assert.Equal(t, first.DeliveryID, de.DeliveryID)
				assert.Equal(t, tc.retryable, de.Retryable)
				code := "410"
				if tc.retryable {
					code = "503"
				}
				assert.Contains(t, de.Error(), code, "the last attempt's error")

				dls, err := tr.DeadLetters(ctx, 10)
				require.NoError(t, err)
				require.Len(t, dls, 1)
				assert.Equal(t, "acme", dls[0].Tenant)
			}
			assert.Len(t, deliveryJobs(t, client), 1)
			assert.Len(t, a.numbersOf(again.DeliveryID), 0, "the repeat is never sent")
		})
	}
}

// RedeliverTx replays a keyed dead letter with its delivery ID and hands
// the key on to the replay; Redeliver, outside a transaction, replays it
// too but cannot keep the key.
func TestRedeliverKeyedDeadLetter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inTx     bool
		keepsKey bool
	}{
		{"RedeliverTx", true, true},
		{"Redeliver", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client, db := insertOnly(t)
			tr := durable.New(client)
			first := keyed("k")
			sendOne(t, tr, first)
			old := deliveryJobs(t, client)[0]
			_, err := client.JobCancel(ctx, old.ID) // a dead letter
			require.NoError(t, err)

			if tc.inTx {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				require.NoError(t, tr.RedeliverTx(ctx, tx, first.DeliveryID))
				require.NoError(t, tx.Commit())
			} else {
				require.NoError(t, tr.Redeliver(ctx, first.DeliveryID))
			}
			jobs := deliveryJobs(t, client)
			require.Len(t, jobs, 1, "the replay replaced the dead letter")
			assert.NotEqual(t, old.ID, jobs[0].ID)
			assert.Equal(t, rivertype.JobStateAvailable, jobs[0].State)
			var a durable.Args
			require.NoError(t, json.Unmarshal(jobs[0].EncodedArgs, &a))
			assert.Equal(t, first.DeliveryID, a.DeliveryID)
			assert.Equal(t, "k", a.IdempotencyKey)

			again := first
			again.DeliveryID = uuid.New()
			r := sendOne(t, tr, again)
			assert.Equal(t, tc.keepsKey, r.Duplicate)
			if tc.keepsKey {
				assert.Equal(t, first.DeliveryID, r.DeliveryID)
				assert.Equal(t, transport.StatusQueued, r.Status, "the replay is queued")
			}
		})
	}
}

// The worker's error logs name the tenant next to the delivery ID.
func TestWorkerLogsTheTenant(t *testing.T) {
	var buf bytes.Buffer
	w := durable.NewWorker(newScripted(transport.Success, 1), durable.WithAttemptLog(failingRecorder{}),
		durable.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	env := keyed("k")
	require.NoError(t, w.Work(context.Background(), job(env)))
	assert.Contains(t, buf.String(), "delivery_id="+env.DeliveryID.String()+" tenant=acme")
}

type failingRecorder struct{}

func (failingRecorder) RecordAttempt(context.Context, transport.Envelope, transport.Attempt) error {
	return assert.AnError
}

// The envelope's Meta (the dispatching span's trace context) travels in the
// job under "meta", comes back from the stored job, and takes no part in an
// idempotency key's uniqueness.
func TestArgsCarryMeta(t *testing.T) {
	env := keyed("order-9")
	env.CreatedAt = env.CreatedAt.UTC().Round(0)
	env.Meta = map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	a := durable.NewArgs(env)
	assert.Equal(t, env, a.Envelope())
	b, err := json.Marshal(a)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`)
	env.Meta = nil
	b, err = json.Marshal(durable.NewArgs(env))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "meta")

	client, _ := insertOnly(t)
	tr := durable.New(client)
	first := keyed("order-9")
	first.Meta = map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	sendOne(t, tr, first)
	jobs := deliveryJobs(t, client)
	require.Len(t, jobs, 1)
	var stored durable.Args
	require.NoError(t, json.Unmarshal(jobs[0].EncodedArgs, &stored))
	assert.Equal(t, first.Meta, stored.Envelope().Meta)

	again := first
	again.DeliveryID = uuid.New()
	again.Meta = map[string]string{"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
	assert.True(t, sendOne(t, tr, again).Duplicate, "another trace context does not make another delivery")
	assert.Len(t, deliveryJobs(t, client), 1)
}
