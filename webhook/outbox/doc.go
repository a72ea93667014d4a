// Package outbox is the ready-made durable setup: a River client working
// the River transport's queue (package transport/durable), a
// webhook.Dispatcher wired to it, the record store and the delivery log
// (package webhook/sqlstore), all in one database, so that a delivery is
// enqueued in the same database as the application's data and survives
// crashes and restarts.
//
// The shortest use is a ready-made Outbox from a driver package:
//
//	ob, err := outboxsqlite.Open("outhook.db", reg) // or outboxpg.New(pool, reg)
//	defer ob.Close(ctx)
//	err = ob.Migrate(ctx)
//	err = ob.Start(ctx)
//	deliveries, err := ob.Dispatch(ctx, PageUpdated{ID: 42})     // StatusQueued
//	deliveries, err = ob.DispatchTx(ctx, tx, PageUpdated{ID: 42}) // if and only if tx commits
//
// Dispatch and DispatchTx take webhook.DispatchOptions: WithTenant,
// WithChannels and WithIdempotencyKey. An idempotency key is held in the
// database by River's unique jobs, across restarts and processes: a repeat
// with the same key, tenant and trigger creates no delivery for a record
// that has one, and returns that delivery marked Duplicate, for as long as
// its job is kept (at least WithCompletedRetention, 24 hours, after it was
// delivered, and WithDeadLetterRetention, 7 days, after it gave up; see
// package durable for the exact rules). A key used in a transaction that
// rolls back leaves nothing behind.
//
// Retries follow durable.DefaultBackOff (25 attempts over about two and a
// half days) unless WithSenderOptions gives webhook.WithBackOff. Every
// attempt is written to the delivery log (Log); deliveries that gave up are
// listed by DeadLetters, reported as they give up to the WithOnDeadLetter
// function, and sent again, with the same delivery ID, by Redeliver.
//
// No webhook record gets more than a fair share of the workers (a quarter,
// at least one; WithPerEndpoint changes it): a receiver that hangs delays
// its own deliveries, not the other records'.
package outbox
