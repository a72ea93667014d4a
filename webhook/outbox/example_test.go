package durable_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/transport/durable/durablepg"
	"github.com/outhook/outhook/transport/durable/durablesqlite"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
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

	ob, err := durablesqlite.Open(filepath.Join(dir, "outhook.db"), reg, durable.Config{
		Logger: quietLogger(),
		// The default client refuses loopback addresses; the receiver here is one.
		DispatcherOptions: []webhook.Option{webhook.WithGuard(netguard.New(netguard.AllowLoopback()))},
	})
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	_ = ob.Store.Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: srv.URL})
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
func ExampleTransport_DispatchTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "a page was saved")
	ob, err := durablepg.Open(pool, reg, durable.Config{})
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

// Bring your own River client: add outhook's worker and queue to it.
func ExampleNewWorker() {
	ctx := context.Background()
	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	db, _ := sql.Open("pgx", os.Getenv("DATABASE_URL")) // outhook's tables, through database/sql
	reg := trigger.NewRegistry()
	store := sqlstore.New(db, sqlstore.Postgres)

	sender := webhook.NewSender(store)
	workers := river.NewWorkers()
	river.AddWorker(workers, durable.NewWorker(sender, durable.WithAttemptLog(sqlstore.NewLog(db, sqlstore.Postgres))))
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
	d := webhook.NewDispatcher(store, reg, webhook.WithTransport(durable.New(client)))
	_ = client.Start(ctx)
	_, _ = d.Dispatch(ctx, PageUpdated{ID: 1})
}
