package durable

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
)

// Migrate runs River's migrations with driver (in schema, "" for the
// default) and adds to River's job table, through db (a *sql.DB on the same
// database), a partial index that Redeliver uses (outhook_river_job_delivery;
// it holds only outhook's delivery jobs, so the app's other River jobs do
// not pay for it). It is idempotent. An app that brings its own River client
// calls it from its own migration step; the ready-made outbox calls it from
// its Migrate. Run it again after upgrading River.
//
// The index is the one thing outhook adds to a table River owns. A River
// upgrade that renamed the table, the kind column or the args column would
// make it fail here, loudly, rather than leave Redeliver scanning the table
// (TestDeliveryIndexSQLite here and TestRedeliverUsesIndexPostgres in
// webhook/outbox check that it exists and that queries use it).
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], db *sql.DB, schema string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return fmt.Errorf("durable: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("durable: migrate river: %w", err)
	}
	return migrateDeliveryIndex(ctx, db, driver.DatabaseName() == riverdriver.DatabaseNamePostgres, schema)
}

// deliveryIndex is the name of the partial index on River's job table that
// finds a delivery's jobs by delivery ID (Redeliver) without a full scan.
const deliveryIndex = "outhook_river_job_delivery"

// migrateDeliveryIndex creates deliveryIndex. It holds only outhook's
// delivery jobs, so the app's other River jobs do not pay for it; the query
// must repeat its predicate literally (deliveryWhere) for the planner to use
// it. A River migration that rebuilds the table drops it, and the next
// Migrate, which runs River's migrations first, creates it again.
func migrateDeliveryIndex(ctx context.Context, db *sql.DB, postgres bool, schema string) error {
	// id after the delivery ID hands the rows over newest first, so that
	// "ORDER BY id DESC LIMIT 1" stops at the first entry: without it
	// PostgreSQL prefers walking the primary key backwards and filtering,
	// which reads the whole table for a delivery that is not there.
	const expr, where = "(args->>'delivery_id'), id", "WHERE kind = '" + Kind + "'"
	var q string
	switch {
	case postgres:
		table := "river_job"
		if schema != "" {
			table = `"` + strings.ReplaceAll(schema, `"`, `""`) + `".river_job`
		}
		q = "CREATE INDEX IF NOT EXISTS " + deliveryIndex + " ON " + table + " (" + expr + ") " + where
	default: // SQLite names the index's schema, not the table's
		name := deliveryIndex
		if schema != "" {
			name = `"` + strings.ReplaceAll(schema, `"`, `""`) + `".` + name
		}
		q = "CREATE INDEX IF NOT EXISTS " + name + " ON river_job (" + expr + ") " + where
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("durable: migrate delivery index: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if postgres {
		// Concurrent CREATE INDEX IF NOT EXISTS can collide; take turns.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7301152027)`); err != nil {
			return fmt.Errorf("durable: migrate delivery index: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("durable: migrate delivery index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("durable: migrate delivery index: %w", err)
	}
	return nil
}
