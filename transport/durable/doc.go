// Package durable delivers webhooks through River (github.com/riverqueue/river),
// the PostgreSQL and SQLite job queue: each delivery is a River job, so it
// survives crashes and restarts, is retried on outhook's backoff schedule,
// can be enqueued inside the application's own transaction (DispatchTx), and
// is sent by one of many processes at a time.
//
// The shortest use is a ready-made Outbox from a driver package:
//
//	ob, err := durablesqlite.Open("outhook.db", reg, durable.Config{}) // or durablepg.Open(pool, ...)
//	defer ob.Close(ctx)
//	err = ob.Migrate(ctx)
//	err = ob.Start(ctx)
//	deliveries, err := ob.Dispatch(ctx, PageUpdated{ID: 42}) // StatusQueued
//
// An app that already runs River brings its own client: it adds a Worker to
// its river.Workers, gives the Queue some workers, and hands New(client) to
// webhook.WithTransport:
//
//	river.AddWorker(workers, durable.NewWorker(sender, durable.WithAttemptLog(sqlstore.NewLog(db, dialect))))
//
// Jobs carry identifiers and the body, never a secret: the worker loads the
// record when it sends, so rotation, disabling and deletion apply to queued
// work. Retries follow the Dispatcher's backoff; an Outbox defaults to
// DefaultBackOff (25 attempts over about two and a half days). A permanent
// failure cancels the job; the last failed retry discards it. Both are dead
// letters (DeadLetters), and Redeliver sends one again with the same
// delivery ID. Every attempt is written to the delivery log (sqlstore.Log).
package durable
