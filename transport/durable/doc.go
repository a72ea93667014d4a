// Package durable is the River transport (github.com/riverqueue/river, the
// PostgreSQL and SQLite job queue): each webhook delivery is a River job, so
// it survives crashes and restarts, is retried on the Attempter's backoff
// schedule, can be enqueued inside the application's own transaction, and is
// sent by one of many processes at a time.
//
// It needs only package transport and River. The ready-made setup that wires
// it to a record store, the delivery log and a Dispatcher is package
// github.com/outhook/outhook/webhook/outbox. An app that already runs River
// brings its own client: it adds a Worker to its river.Workers, gives the
// Queue some workers (and tells the Worker how many, for each record's fair
// share), and dispatches through New(client):
//
//	river.AddWorker(workers, durable.NewWorker(dispatcher.Sender(), durable.WithAttemptLog(log), durable.WithQueueWorkers(16)))
//	d := webhook.NewDispatcher(store, reg, webhook.WithTransport(durable.New(client)))
//	deliveries, err := d.DispatchVia(ctx, durable.New(client).InTx(tx), msg) // in the app's transaction
//
// Jobs carry identifiers and the body, never a secret: the worker loads the
// record when it sends, so rotation, disabling and deletion apply to queued
// work. A permanent failure cancels the job; the last failed retry discards
// it. Both are dead letters (DeadLetters), Redeliver sends one again with
// the same delivery ID, and WithOnDeadLetter hears of each as it happens.
//
// # Idempotency
//
// Transport is a transport.Deduplicator. A delivery dispatched with an
// idempotency key (webhook.WithIdempotencyKey) is a River unique job, unique
// by its record, tenant, trigger and key (the river:"unique" fields of Args)
// in every job state. Dispatching the same message again with the same key
// and tenant inserts no job for a record that has one: it returns that
// delivery, with its delivery ID, marked Duplicate, in the status it has
// reached (queued, delivered, or failed for a dead letter). Deliveries
// without a key are plain jobs.
//
// The key holds for as long as the delivery's job row exists: while it is
// queued, running or waiting for a retry, and after it ends until River's
// job cleaner deletes it, CompletedJobRetentionPeriod after it was delivered
// and DiscardedJobRetentionPeriod or CancelledJobRetentionPeriod after it
// gave up (the outbox: 24 hours and 7 days; River's defaults: 24 hours, 7
// days for discarded, 24 hours for cancelled). With those retentions a
// repeat within 24 hours of the dispatch (webhook.DefaultIdempotencyWindow)
// is always caught, and one later may be too; it is not a sliding window of
// its own. A retention shorter than 24 hours shortens it, -1 (keep forever)
// keeps keys forever. River's UniqueOpts.ByPeriod is not used: its periods
// are buckets aligned to multiples of the period, so a repeat a minute after
// the first dispatch, across a bucket's end, would be sent again.
//
// Keys are per record: a record that starts to match after the first
// dispatch gets a delivery from a repeat. On PostgreSQL a repeat that runs
// while the first dispatch's transaction is open waits for it (and inserts
// if it rolls back); SQLite has one writer. RedeliverTx hands the key on to
// the replay; Redeliver, outside a transaction, cannot, and after it the
// key no longer holds. River's Config.Test.DisableUniqueEnforcement turns
// the de-duplication off.
//
// No webhook record may have more than its share of the workers (FairShare:
// a quarter, unless WithPerEndpoint says otherwise) sending at once: a
// receiver that hangs delays its own deliveries, not the other records'.
package durable
