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
// No webhook record may have more than its share of the workers (FairShare:
// a quarter, unless WithPerEndpoint says otherwise) sending at once: a
// receiver that hangs delays its own deliveries, not the other records'.
package durable
