package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// Migrate creates outhook's tables and indexes if they do not exist yet. It is
// idempotent and safe to run at every start. Tables: outhook_webhook (the
// records) and outhook_attempt (the delivery log).
func Migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS outhook_webhook (
	id TEXT PRIMARY KEY,
	disabled ` + d.boolType + ` NOT NULL,
	created_us BIGINT NOT NULL,
	data TEXT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS outhook_webhook_created ON outhook_webhook (created_us, id)`,
		`CREATE TABLE IF NOT EXISTS outhook_attempt (
	id ` + d.serial + `,
	delivery_id TEXT NOT NULL,
	webhook_id TEXT NOT NULL,
	trigger_id TEXT NOT NULL,
	attempt INTEGER NOT NULL,
	start_us BIGINT NOT NULL,
	duration_us BIGINT NOT NULL,
	status_code INTEGER NOT NULL,
	outcome TEXT NOT NULL,
	error TEXT NOT NULL,
	excerpt TEXT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS outhook_attempt_delivery ON outhook_attempt (delivery_id, id)`,
		`CREATE INDEX IF NOT EXISTS outhook_attempt_webhook ON outhook_attempt (webhook_id, start_us)`,
		`CREATE INDEX IF NOT EXISTS outhook_attempt_start ON outhook_attempt (start_us)`,
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate (%s): %w", d, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d.dollar {
		// Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL;
		// processes starting together take turns.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7301152026)`); err != nil {
			return fmt.Errorf("sqlstore: migrate (%s): lock: %w", d, err)
		}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("sqlstore: migrate (%s): %w", d, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: migrate (%s): %w", d, err)
	}
	return nil
}
