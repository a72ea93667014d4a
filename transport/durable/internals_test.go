package durable_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
)

// retryLater fails every attempt with a Retry-After far longer than its own
// backoff, so the two are easy to tell apart in the job's next run time.
type retryLater struct {
	retryAfter time.Duration
	attempts   chan int
}

func (a *retryLater) Attempt(_ context.Context, _ transport.Envelope, n int) transport.Attempt {
	a.attempts <- n
	return transport.Attempt{Number: n, StatusCode: 429, Outcome: transport.Retry, RetryAfter: a.retryAfter,
		Err: &transport.StatusError{StatusCode: 429}}
}

func (a *retryLater) NewBackOff() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Second), 5)
}

// riverOnSQLite starts a River client on a fresh SQLite file with w working
// the delivery queue.
func riverOnSQLite(t *testing.T, w *durable.Worker) *river.Client[*sql.Tx] {
	t.Helper()
	return startRiver(t, sqliteDB(t), w, 1)
}

// sqliteDB opens and migrates a fresh SQLite file.
func sqliteDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "r.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, durable.Migrate(context.Background(), riversqlite.New(db), db, "", quiet()))
	return db
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startRiver starts a River client on db with w working the delivery queue
// with workers workers; it is stopped when t ends.
func startRiver(t *testing.T, db *sql.DB, w *durable.Worker, workers int) *river.Client[*sql.Tx] {
	t.Helper()
	workerSet := river.NewWorkers()
	river.AddWorker(workerSet, w)
	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Logger: quiet(), Workers: workerSet,
		Queues: map[string]river.QueueConfig{durable.Queue: {MaxWorkers: workers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond}},
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.StopAndCancel(ctx)
	})
	return client
}

// The Worker hands the delay it chose in Work (backoff or Retry-After,
// whichever is longer) to NextRetry through the job's arguments. That works
// only because River calls NextRetry with the very *river.Job it gave Work.
// If a River upgrade stops doing so, NextRetry falls back to the backoff
// alone and this test fails: the job would run again after 1 s, not 1 h.
func TestWorkAndNextRetryShareTheJob(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &retryLater{retryAfter: time.Hour, attempts: make(chan int, 1)}
	client := riverOnSQLite(t, durable.NewWorker(a, durable.WithClock(func() time.Time { return now })))

	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Trigger: "test/t", Body: []byte(`{}`)}
	_, err := durable.New(client).Send(ctx, a, []transport.Envelope{env})
	require.NoError(t, err)
	select {
	case n := <-a.attempts:
		require.Equal(t, 1, n)
	case <-time.After(10 * time.Second):
		t.Fatal("the worker made no attempt")
	}

	var job *rivertype.JobRow
	require.Eventually(t, func() bool {
		res, err := client.JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		job = res.Jobs[0]
		return job.State == rivertype.JobStateRetryable
	}, 10*time.Second, 10*time.Millisecond)
	assert.WithinDuration(t, now.Add(time.Hour), job.ScheduledAt, time.Second,
		"NextRetry must see the Retry-After that Work saw on the same job")
	require.Len(t, job.Errors, 1)
	assert.Contains(t, job.Errors[0].Error, "429")
}
