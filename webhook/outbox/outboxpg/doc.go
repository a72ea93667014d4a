// Package outboxpg runs the outbox on PostgreSQL, for apps with many
// instances: River's riverpgxv5 driver over a pgxpool.Pool. Every process
// that starts the Outbox works deliveries; River's row locks make sure each
// delivery is sent by one of them at a time, and DispatchTx enqueues inside
// the application's own pgx transaction.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	ob, err := outboxpg.New(pool, reg)
//	defer ob.Close(ctx)
//	err = ob.Migrate(ctx)
//	err = ob.Start(ctx)
//	tx, err := pool.Begin(ctx)
//	// ... the app's own writes ...
//	deliveries, err := ob.DispatchTx(ctx, tx, OrderPaid{ID: 7})
//	err = tx.Commit(ctx) // the webhooks exist if and only if this commits
//
// NewSQL does the same over a *sql.DB (riverdatabasesql), for apps whose
// transactions are *sql.Tx.
package outboxpg
