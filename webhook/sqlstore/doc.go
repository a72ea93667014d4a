// Package sqlstore keeps outhook's data in a SQL database: webhook records
// (a webhook.Store) and the delivery log of every attempt. It speaks SQLite
// and PostgreSQL through database/sql and imports no driver: open the
// *sql.DB with the driver of your choice (modernc.org/sqlite, pgx's stdlib)
// and name its Dialect.
//
//	db, _ := sql.Open("sqlite", "file:outhook.db?_pragma=busy_timeout(10000)")
//	if err := sqlstore.Migrate(ctx, db, sqlstore.SQLite); err != nil { ... }
//	store := sqlstore.New(db, sqlstore.SQLite)
//	d := webhook.NewDispatcher(store, reg)
//
// The outbox (webhook/outbox) keeps its records here and writes the delivery
// log through a Log; its Migrate calls this package's Migrate. The River
// worker (transport/durable) takes a Log as its attempt recorder.
package sqlstore
