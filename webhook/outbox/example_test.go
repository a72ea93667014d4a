package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// An embedded, crash-safe outbox on a SQLite file.
func Example() {
	ctx := context.Background()
	received := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Get(webhook.HeaderTrigger)
	}))
	defer srv.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "a page was saved")
	dir, _ := os.MkdirTemp("", "outhook-example")
	defer os.RemoveAll(dir)

	ob, err := outboxsqlite.Open(filepath.Join(dir, "outhook.db"), reg, outbox.WithLogger(quietLogger()),
		// The default client refuses loopback addresses; the receiver here is one.
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))),
	)
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	_ = ob.Store().Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: srv.URL})
	if err := ob.Start(ctx); err != nil {
		panic(err)
	}
	ds, err := ob.Dispatch(ctx, PageUpdated{ID: 42})
	if err != nil {
		panic(err)
	}
	fmt.Println(ds[0].Status)
	fmt.Println(<-received)
	// Output:
	// queued
	// myapp/page-updated
}

// The transactional outbox on PostgreSQL: the webhook is enqueued if and
// only if the application's transaction commits.
//
// It needs a PostgreSQL database (DATABASE_URL), so it is compiled, not run.
func ExampleOutbox_DispatchTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "a page was saved")
	ob, err := outboxpg.New(pool, reg)
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)

	tx, err := pool.Begin(ctx)
	if err != nil {
		panic(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE pages SET title = $1 WHERE id = $2", "Home", 42); err != nil {
		panic(err)
	}
	if _, err := ob.DispatchTx(ctx, tx, PageUpdated{ID: 42, Title: "Home"}); err != nil {
		panic(err)
	}
	if err := tx.Commit(ctx); err != nil {
		panic(err)
	}
}

// Bring your own River client: add outhook's worker and queue to it, and
// dispatch through the River transport (durable.New) instead of an Outbox.
//
// It needs a PostgreSQL database (DATABASE_URL), so it is compiled, not run.
func Example_bringYourOwnRiver() {
	ctx := context.Background()
	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	db, _ := sql.Open("pgx", os.Getenv("DATABASE_URL")) // outhook's tables, through database/sql
	reg := trigger.NewRegistry()
	store := sqlstore.New(db, sqlstore.Postgres)

	sender := webhook.NewSender(store)
	workers := river.NewWorkers()
	river.AddWorker(workers, durable.NewWorker(sender, durable.WithAttemptLog(sqlstore.NewLog(db, sqlstore.Postgres)),
		durable.WithQueueWorkers(32))) // the Queue's MaxWorkers below: each record's fair share is 8
	// ... the app's own workers ...
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Workers: workers,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 10},
			durable.Queue:      {MaxWorkers: 32},
		},
	})
	if err != nil {
		panic(err)
	}
	if err := durable.Migrate(ctx, riverpgxv5.New(pool), db, "", nil); err != nil {
		panic(err)
	}
	if err := sqlstore.Migrate(ctx, db, sqlstore.Postgres); err != nil {
		panic(err)
	}
	d := webhook.NewDispatcher(store, reg, webhook.WithTransport(durable.New(client)))
	_ = client.Start(ctx)
	_, _ = d.Dispatch(ctx, PageUpdated{ID: 1})

	// In the app's own transaction: sent if and only if tx commits.
	tx, _ := pool.Begin(ctx)
	_, _ = d.DispatchVia(ctx, durable.New(client).InTx(tx), PageUpdated{ID: 2})
	_ = tx.Commit(ctx)
}

// A delivery that failed for good is a dead letter until it is sent again
// with the same delivery ID.
func ExampleOutbox_Redeliver() {
	ctx := context.Background()
	var accept atomic.Bool
	received := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !accept.Load() {
			w.WriteHeader(http.StatusGone) // a permanent failure: no retry
			received <- "410"
			return
		}
		received <- "204"
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "a page was saved")
	dir, _ := os.MkdirTemp("", "outhook-example")
	defer os.RemoveAll(dir)
	ob, err := outboxsqlite.Open(filepath.Join(dir, "outhook.db"), reg, outbox.WithLogger(quietLogger()),
		outbox.WithFetchPollInterval(10*time.Millisecond),
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))))
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	_ = ob.Store().Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: srv.URL})
	if err := ob.Start(ctx); err != nil {
		panic(err)
	}
	ds, _ := ob.Dispatch(ctx, PageUpdated{ID: 42})
	fmt.Println("first attempt:", <-received)

	var dead []durable.DeadLetter
	for len(dead) == 0 { // the job is cancelled just after the attempt
		time.Sleep(5 * time.Millisecond) // poll
		dead, _ = ob.DeadLetters(ctx, 10)
	}
	fmt.Println("dead letter:", dead[0].DeliveryID == ds[0].ID, dead[0].State, dead[0].Attempts)

	accept.Store(true)
	if err := ob.Redeliver(ctx, ds[0].ID); err != nil {
		panic(err)
	}
	fmt.Println("redelivered:", <-received)
	// Output:
	// first attempt: 410
	// dead letter: true cancelled 1
	// redelivered: 204
}

// The application hears of each delivery that gives up, without polling
// DeadLetters. This outbox is in memory: for tests and demos.
func ExampleWithOnDeadLetter() {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "a page was saved")
	gaveUp := make(chan transport.Result, 1)
	ob, err := outboxsqlite.Open(":memory:", reg, outbox.WithLogger(quietLogger()),
		outbox.WithOnDeadLetter(func(ctx context.Context, env transport.Envelope, res transport.Result) {
			gaveUp <- res // e.g. tell the record's owner, or disable the record
		}),
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
			webhook.WithBackOff(func() backoff.BackOff { // three attempts, quickly
				return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), 2)
			})))
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	_ = ob.Store().Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: srv.URL})
	if err := ob.Start(ctx); err != nil {
		panic(err)
	}
	ds, _ := ob.Dispatch(ctx, PageUpdated{ID: 42})

	res := <-gaveUp
	fmt.Println(res.DeliveryID == ds[0].ID, res.Status, res.Attempts, res.Last.StatusCode)
	// Output:
	// true failed 3 503
}

// A dispatch with an idempotency key, repeated (a client retrying its
// request, a job run twice), creates no second delivery: it returns the
// first one, marked Duplicate. The key is kept in the database, so this
// holds across restarts too.
func ExampleOutbox_Dispatch_idempotencyKey() {
	ctx := context.Background()
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "a page was saved")
	ob, err := outboxsqlite.Open(":memory:", reg, outbox.WithLogger(quietLogger()))
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	_ = ob.Store().Create(ctx, &webhook.Webhook{Name: "CRM", Tenant: "acme", Triggers: []string{"myapp/page-updated"},
		URL: "https://crm.example/hooks"})

	opts := []webhook.DispatchOption{webhook.WithTenant("acme"), webhook.WithIdempotencyKey("page-42-v7")}
	first, err := ob.Dispatch(ctx, PageUpdated{ID: 42}, opts...)
	if err != nil {
		panic(err)
	}
	again, err := ob.Dispatch(ctx, PageUpdated{ID: 42}, opts...)
	if err != nil {
		panic(err)
	}
	fmt.Println(first[0].Duplicate, again[0].Duplicate, again[0].ID == first[0].ID)
	// Output:
	// false true true
}
