// Package outboxsqlite runs the outbox on an embedded SQLite file: River's
// riversqlite driver over modernc.org/sqlite (pure Go, no cgo), with WAL, a
// busy timeout and fetch settings tuned for throughput. Deliveries survive
// crashes and restarts; one process works them.
//
//	ob, err := outboxsqlite.Open("outhook.db", reg)
//	defer ob.Close(ctx)
//	err = ob.Migrate(ctx)
//	err = ob.Start(ctx)
//	deliveries, err := ob.Dispatch(ctx, PageUpdated{ID: 42}) // StatusQueued
//
// For many processes on one database, use outboxpg.
package outboxsqlite
