package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// jobsOf lists the River jobs of one delivery.
func jobsOf(t *testing.T, be *backend, id uuid.UUID) []int64 {
	t.Helper()
	res, err := be.jobs(context.Background(), river.NewJobListParams().Kinds(durable.Kind).First(10_000))
	require.NoError(t, err)
	var ids []int64
	for _, j := range res.Jobs {
		if strings.Contains(string(j.EncodedArgs), id.String()) {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

func TestDefaultBackOffSchedule(t *testing.T) {
	b := durable.DefaultBackOff()
	b.Reset()
	var total, longest time.Duration
	n := 1
	for d := b.NextBackOff(); d != backoff.Stop; d = b.NextBackOff() {
		if n == 1 {
			assert.InDelta(t, float64(15*time.Second), float64(d), float64(3*time.Second), "first retry after about 15 s")
		}
		n++
		total += d
		longest = max(longest, d)
		require.LessOrEqual(t, n, durable.MaxAttempts, "the schedule must end")
	}
	assert.Equal(t, durable.DefaultMaxAttempts, n)
	assert.LessOrEqual(t, longest, 4*time.Hour+48*time.Minute, "at most 4 h ±20 % between attempts")
	assert.Greater(t, total, 40*time.Hour, "a durable delivery outlasts a day-long outage")
	assert.Less(t, total, 80*time.Hour)
}

// The retry schedule is durable.DefaultBackOff unless the caller sets
// webhook.WithBackOff, and the job's MaxAttempts follows it.
func TestDurableDefaultBackOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []webhook.SenderOption
		want int
	}{
		{"default", nil, durable.DefaultMaxAttempts},
		{"caller's WithBackOff wins", []webhook.SenderOption{webhook.WithBackOff(testBackOff(3))}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			// Not testOptions: it sets a backoff.
			ob, err := outboxsqlite.Open(filepath.Join(t.TempDir(), "b.db"), registry(t), outbox.WithLogger(quietLogger()), outbox.WithSenderOptions(tc.opts...))
			require.NoError(t, err)
			defer ob.Close(ctx)
			require.NoError(t, ob.Migrate(ctx))
			createHook(t, ob.Store(), "https://example.com/hook")
			_, err = ob.Dispatch(ctx, PageUpdated{ID: 1})
			require.NoError(t, err)
			res, err := ob.Client().JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
			require.NoError(t, err)
			require.Len(t, res.Jobs, 1)
			assert.Equal(t, tc.want, res.Jobs[0].MaxAttempts)
		})
	}
}

func TestDeadLettersLimit(t *testing.T) {
	be := openSQLite(t)
	for _, limit := range []int{0, -1, durable.MaxDeadLetters + 1} {
		assert.NotPanics(t, func() {
			_, err := be.ob.DeadLetters(context.Background(), limit)
			assert.ErrorContains(t, err, fmt.Sprint(limit))
		})
	}
	dl, err := be.ob.DeadLetters(context.Background(), durable.MaxDeadLetters)
	require.NoError(t, err)
	assert.Empty(t, dl)
}

// Concurrent Redeliver calls for one dead letter enqueue it once.
func TestRedeliverConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		hook := createHook(t, be.store, "https://example.com/hook")
		ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 9})
		require.NoError(t, err)
		id := ds[0].ID
		// A deleted record cancels the job at its first attempt, no HTTP.
		require.NoError(t, be.store.Delete(ctx, hook.ID))
		require.NoError(t, be.ob.Start(ctx))
		be.waitDeadLetters(t, 1, 10*time.Second)
		require.NoError(t, be.ob.Stop(ctx)) // the new job stays queued

		const callers = 8
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = be.redeliver(ctx, id) }()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			assert.ErrorIs(t, err, durable.ErrInProgress)
		}
		assert.Equal(t, 1, ok, "one call redelivers: %v", errs)
		assert.Len(t, jobsOf(t, be, id), 1, "one job for the delivery")
		assert.ErrorIs(t, be.redeliver(ctx, id), durable.ErrInProgress, "the new job is queued")
		// The Transport's own, transactionless Redeliver agrees.
		var redeliver func(context.Context, uuid.UUID) error
		switch ob := be.ob.(type) {
		case *outboxsqlite.Outbox:
			redeliver = ob.Transport().Redeliver
		case *outboxpg.Outbox:
			redeliver = ob.Transport().Redeliver
		}
		assert.ErrorIs(t, redeliver(ctx, id), durable.ErrInProgress)
		assert.ErrorIs(t, redeliver(ctx, uuid.New()), durable.ErrDeliveryNotFound)
	})
}

// Redeliver's lookup uses the partial index Migrate creates: the query River
// sends is captured and explained after many deliveries were enqueued.
func TestRedeliverUsesIndexPostgres(t *testing.T) {
	schema, dsn := pgtest.NewSchema(t)
	ctx := context.Background()
	var mu sync.Mutex
	var lookups []pgx.TraceQueryStartData
	pcfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	pcfg.ConnConfig.Tracer = tracer(func(d pgx.TraceQueryStartData) {
		if strings.Contains(d.SQL, "args->>'delivery_id' = ") && !strings.HasPrefix(d.SQL, "EXPLAIN") {
			mu.Lock()
			lookups = append(lookups, d)
			mu.Unlock()
		}
	})
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	require.NoError(t, err)
	defer pool.Close()
	ob, err := outboxpg.New(pool, registry(t), testOptions(outbox.WithSchema(schema))...)
	require.NoError(t, err)
	defer ob.Close(ctx)
	require.NoError(t, ob.Migrate(ctx))

	envs := make([]transport.Envelope, 5000)
	for i := range envs {
		envs[i] = transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Trigger: pageTrigger, Body: []byte(`{}`)}
	}
	_, err = ob.Transport().Send(ctx, ob.Dispatcher().Sender(), envs)
	require.NoError(t, err)
	explain := func(when string) {
		t.Helper()
		require.ErrorIs(t, ob.Redeliver(ctx, uuid.New()), durable.ErrDeliveryNotFound)
		require.ErrorIs(t, ob.Redeliver(ctx, envs[7].DeliveryID), durable.ErrInProgress)
		mu.Lock()
		seen := lookups
		lookups = nil
		mu.Unlock()
		require.NotEmpty(t, seen)
		for _, q := range seen {
			rows, err := pool.Query(ctx, "EXPLAIN "+q.SQL, q.Args...)
			require.NoError(t, err)
			var plan []string
			for rows.Next() {
				var line string
				require.NoError(t, rows.Scan(&line))
				plan = append(plan, line)
			}
			require.NoError(t, rows.Err())
			assert.Contains(t, strings.Join(plan, "\n"), "outhook_river_job_delivery", "%s:\n%s", when, strings.Join(plan, "\n"))
		}
	}
	explain("before ANALYZE")
	_, err = pool.Exec(ctx, "ANALYZE river_job")
	require.NoError(t, err)
	explain("after ANALYZE")
}

type tracer func(pgx.TraceQueryStartData)

func (f tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	f(d)
	return ctx
}

func (tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A body with a NUL byte is valid UTF-8 but no jsonb string: it travels as
// bytes and arrives intact.
func TestBodyWithNULByte(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		ctx := context.Background()
		be := open(t)
		rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
		hook := createHook(t, be.store, rc.URL)
		require.NoError(t, be.ob.Start(ctx))
		env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: hook.ID, Trigger: pageTrigger, Body: []byte("a\x00b")}
		tr := transportOf(be)
		_, err := tr.Send(ctx, sender(be), []transport.Envelope{env})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return rc.Seen()[env.DeliveryID.String()].Count == 1 }, 10*time.Second, poll)
		assert.Equal(t, "a\x00b", rc.Seen()[env.DeliveryID.String()].Body)
	})
}

func TestSendNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backendFunc) {
		be := open(t)
		rs, err := transportOf(be).Send(context.Background(), sender(be), nil)
		require.NoError(t, err)
		assert.Empty(t, rs)
	})
}

func sender(be *backend) transport.Attempter {
	switch ob := be.ob.(type) {
	case *outboxsqlite.Outbox:
		return ob.Dispatcher().Sender()
	case *outboxpg.Outbox:
		return ob.Dispatcher().Sender()
	}
	panic("unknown backend")
}

// Close with a deadline that a hung attempt outlives cancels the attempt and
// leaves no River goroutine behind; the delivery is sent after a restart.
// The log reads 1, 2: the interrupted attempt says so, and the next one has
// the next number.
func TestCloseCancelsHungAttempt(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			hang := true
			started := make(chan struct{}, 1)
			rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
			rc.Handle = func(w http.ResponseWriter, r *http.Request, _ string, _ int) bool {
				mu.Lock()
				h := hang
				mu.Unlock()
				if h {
					started <- struct{}{}
					<-r.Context().Done()
					return false
				}
				return true
			}
			cfg := outbox.WithSenderOptions(webhook.WithAttemptTimeout(time.Minute))
			var reopen func() *backend
			switch kind {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "close.db")
				reopen = func() *backend { return openSQLiteAt(t, path, cfg) }
			case "postgres":
				schema, dsn := pgtest.NewSchema(t)
				reopen = func() *backend { return openPostgresAt(t, schema, dsn, cfg) }
			}
			be := reopen()
			createHook(t, be.store, rc.URL)
			require.NoError(t, be.ob.Start(ctx))
			ds, err := be.ob.Dispatch(ctx, PageUpdated{ID: 1})
			require.NoError(t, err)
			<-started

			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			begin := time.Now()
			err = be.close(cctx)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(begin), 15*time.Second)
			select {
			case <-be.client.Stopped():
			default:
				t.Fatal("Close returned with the River client still running")
			}

			mu.Lock()
			hang = false
			mu.Unlock()
			be = reopen()
			require.NoError(t, be.ob.Start(ctx))
			require.Eventually(t, func() bool { return rc.Seen()[ds[0].ID.String()].Count >= 2 }, 20*time.Second, poll)
			var log []sqlstoreAttempt
			require.Eventually(t, func() bool { log = attempts(t, be, ds[0].ID); return len(log) == 2 }, 5*time.Second, poll)
			assert.Equal(t, 1, log[0].Attempt)
			assert.Equal(t, "retry", log[0].Outcome)
			assert.Contains(t, log[0].Error, "interrupted")
			assert.Equal(t, sqlstoreAttempt{2, http.StatusNoContent, "success", ""}, log[1], "the log reads 1, 2")
		})
	}
}

// Without a job timeout, River's own stuck-job horizon stays: rescuing a job
// a minute after it started would send it twice at once.
func TestNoJobTimeoutKeepsRescueHorizon(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    time.Duration
	}{
		{0, river.JobTimeoutDefault + time.Minute},
		{5 * time.Second, 5*time.Second + time.Minute},
		{-1, 0}, // River's default
	} {
		var got time.Duration
		ob, err := outboxsqlite.Open(filepath.Join(t.TempDir(), "r.db"), registry(t), outbox.WithLogger(quietLogger()), outbox.WithJobTimeout(tc.timeout), outbox.WithRiverConfig(func(c *river.Config) { got = c.RescueStuckJobsAfter }))
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "JobTimeout %s", tc.timeout)
		require.NoError(t, ob.Close(context.Background()))
	}
}
