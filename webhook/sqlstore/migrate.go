package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

// column is a column Migrate adds to a table of an earlier version.
type column struct{ name, def string }

// webhookColumns are the columns of outhook_webhook added after its first
// schema (id, disabled, created_us, data); Migrate adds those missing.
var webhookColumns = []column{
	{"version", "BIGINT NOT NULL DEFAULT 1"},
	{"updated_at", "TEXT NOT NULL DEFAULT ''"},
	{"disabled_reason", "TEXT NOT NULL DEFAULT ''"},
	{"disabled_at", "TEXT NOT NULL DEFAULT ''"},
	{"key_id", "TEXT NOT NULL DEFAULT ''"},
	{"secret", "TEXT NOT NULL DEFAULT ''"},
	{"previous_secret", "TEXT NOT NULL DEFAULT ''"},
	{"headers", "TEXT NOT NULL DEFAULT ''"},
	{"tenant", "TEXT NOT NULL DEFAULT ''"},
}

// attemptColumnsAdded are the columns of outhook_attempt added after its
// first schema; Migrate adds those missing.
var attemptColumnsAdded = []column{
	{"tenant", "TEXT NOT NULL DEFAULT ''"},
}

// Migrate creates outhook's tables and indexes if they do not exist yet, and
// brings tables of earlier versions up to date. It is idempotent and safe to
// run at every start, by several processes at once too. Tables:
// outhook_webhook (the records), outhook_webhook_route (the route index of
// ListActive) and outhook_attempt (the delivery log). So that a Cache
// notices every change of the first two, by any process, it adds triggers
// on them: on SQLite they count the changes in outhook_webhook_version; on
// PostgreSQL they notify ChangeChannel (and a function,
// outhook_webhook_notify, does it).
//
// Records written before the version column existed get Version 1, and their
// secrets and headers move out of the JSON document into their columns, in
// plaintext as they were (Store.Reencrypt encrypts them). Records written
// before tenants existed belong to the tenant "" and have no channels, and
// the Migrate that creates the route index fills it with them. Stop
// processes of earlier versions before migrating: they write records without
// updating the route index, so ListActive would miss or misroute them.
func Migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	if err := migrate(ctx, db, d); err != nil {
		return fmt.Errorf("sqlstore: migrate (%s): %w", d, err)
	}
	return nil
}

// execQuerier is what a migration runs on: a *sql.Tx or a *sql.Conn.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	if d.dollar {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after Commit
		// Concurrent CREATE ... IF NOT EXISTS can still collide in
		// PostgreSQL; processes starting together take turns.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7301152026)`); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if err := migrateIn(ctx, tx, d); err != nil {
			return err
		}
		return tx.Commit()
	}
	// SQLite: the migration reads the schema before it alters it, so it
	// takes the write lock first (BEGIN IMMEDIATE, which database/sql's
	// BeginTx cannot ask for); processes starting together take turns.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	err = migrateIn(ctx, conn, d)
	if err == nil {
		if _, err = conn.ExecContext(ctx, `COMMIT`); err == nil {
			return nil
		}
	}
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); rerr != nil {
		// Never hand a connection inside a transaction back to the pool.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return err
}

func migrateIn(ctx context.Context, q execQuerier, d Dialect) error {
	// The route index is filled once, when it is created; later, Create,
	// Update and Delete keep it, and Migrate at every start stays cheap.
	hadRoutes, err := tableExists(ctx, q, d, "outhook_webhook_route")
	if err != nil {
		return err
	}
	for _, s := range createTables(d) {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	// Tables of earlier versions get their new columns before the indexes
	// that name them.
	if err := addColumns(ctx, q, d, "outhook_webhook", webhookColumns); err != nil {
		return err
	}
	if err := addColumns(ctx, q, d, "outhook_attempt", attemptColumnsAdded); err != nil {
		return err
	}
	for _, s := range indexes {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	if err := moveLegacyRows(ctx, q, d); err != nil {
		return err
	}
	if err := addChangeTriggers(ctx, q, d); err != nil {
		return err
	}
	if hadRoutes {
		return nil
	}
	return addMissingRoutes(ctx, q, d)
}

// tableExists reports whether the table exists (in the current schema, on
// PostgreSQL).
func tableExists(ctx context.Context, q execQuerier, d Dialect, table string) (bool, error) {
	query := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if d.dollar {
		// The schema CREATE TABLE IF NOT EXISTS looks in.
		query = `SELECT COUNT(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relname = $1 AND c.relkind = 'r' AND n.nspname = current_schema()`
	}
	rows, err := q.QueryContext(ctx, query, table)
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", table, err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", table, err)
	}
	return n > 0, nil
}

// createTables returns the CREATE TABLE statements of the current schema.
func createTables(d Dialect) []string {
	cols := []string{"id TEXT PRIMARY KEY", "disabled " + d.boolType + " NOT NULL", "created_us BIGINT NOT NULL", "data TEXT NOT NULL"}
	for _, c := range webhookColumns {
		cols = append(cols, c.name+" "+c.def)
	}
	return []string{
		"CREATE TABLE IF NOT EXISTS outhook_webhook (\n\t" + strings.Join(cols, ",\n\t") + "\n)",
		`CREATE TABLE IF NOT EXISTS outhook_webhook_route (
	tenant TEXT NOT NULL,
	trigger_id TEXT NOT NULL,
	channel TEXT NOT NULL,
	webhook_id TEXT NOT NULL,
	PRIMARY KEY (tenant, trigger_id, channel, webhook_id)
)` + d.clustered,
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
	excerpt TEXT NOT NULL,
	tenant TEXT NOT NULL DEFAULT ''
)`,
	}
}

// indexes are the CREATE INDEX statements of the current schema.
var indexes = []string{
	// List of all tenants.
	`CREATE INDEX IF NOT EXISTS outhook_webhook_created ON outhook_webhook (created_us, id)`,
	// List of one tenant, and the count of WithMaxRecordsPerTenant.
	`CREATE INDEX IF NOT EXISTS outhook_webhook_tenant ON outhook_webhook (tenant, created_us, id)`,
	// Update and Delete rewrite a record's routes.
	`CREATE INDEX IF NOT EXISTS outhook_webhook_route_webhook ON outhook_webhook_route (webhook_id)`,
	`CREATE INDEX IF NOT EXISTS outhook_attempt_delivery ON outhook_attempt (delivery_id, id)`,
	`CREATE INDEX IF NOT EXISTS outhook_attempt_webhook ON outhook_attempt (webhook_id, start_us)`,
	// Log.Attempts of a record and of a tenant, newest first.
	`CREATE INDEX IF NOT EXISTS outhook_attempt_webhook_id ON outhook_attempt (webhook_id, id)`,
	`CREATE INDEX IF NOT EXISTS outhook_attempt_tenant ON outhook_attempt (tenant, id)`,
	`CREATE INDEX IF NOT EXISTS outhook_attempt_start ON outhook_attempt (start_us)`,
}

// addColumns adds the columns of cols that table, of an earlier version,
// lacks.
func addColumns(ctx context.Context, q execQuerier, d Dialect, table string, cols []column) error {
	if d.dollar {
		for _, c := range cols {
			if _, err := q.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN IF NOT EXISTS `+c.name+` `+c.def); err != nil {
				return fmt.Errorf("add column %s: %w", c.name, err)
			}
		}
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_table_info('`+table+`')`)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read columns: %w", err)
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	for _, c := range cols {
		if have[c.name] {
			continue
		}
		if _, err := q.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+c.name+` `+c.def); err != nil {
			return fmt.Errorf("add column %s: %w", c.name, err)
		}
	}
	return nil
}

// moveLegacyRows rewrites the rows of an earlier version, whose updated_at
// column is empty because the whole record, secrets included, was in the
// JSON document: the document keeps what it keeps today, and the rest moves
// to the columns, secrets in plaintext.
func moveLegacyRows(ctx context.Context, q execQuerier, d Dialect) error {
	rows, err := q.QueryContext(ctx, `SELECT id, data FROM outhook_webhook WHERE updated_at = ''`)
	if err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	type legacy struct{ id, data string }
	var old []legacy
	for rows.Next() {
		var l legacy
		if err := rows.Scan(&l.id, &l.data); err != nil {
			rows.Close()
			return fmt.Errorf("read records: %w", err)
		}
		old = append(old, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	for _, l := range old {
		var doc record
		if err := json.Unmarshal([]byte(l.data), &doc); err != nil {
			return fmt.Errorf("record %s: decode: %w", l.id, err)
		}
		r, err := encodeRow((*webhook.Webhook)(&doc), nil)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, d.rebind(`UPDATE outhook_webhook
	SET data = ?, updated_at = ?, disabled_reason = ?, disabled_at = ?, secret = ?, previous_secret = ?, headers = ?
	WHERE id = ? AND updated_at = ''`),
			r.data, r.updatedAt, r.disabledReason, r.disabledAt, r.secret, r.previousSecret, r.headers, l.id)
		if err != nil {
			return fmt.Errorf("record %s: %w", l.id, err)
		}
	}
	return nil
}

// addMissingRoutes indexes the records that have no routes: those written
// before the route index existed. Every record subscribes to a trigger, so
// every record has routes.
func addMissingRoutes(ctx context.Context, q execQuerier, d Dialect) error {
	rows, err := q.QueryContext(ctx, `SELECT id, tenant, data FROM outhook_webhook w
	WHERE NOT EXISTS (SELECT 1 FROM outhook_webhook_route r WHERE r.webhook_id = w.id)`)
	if err != nil {
		return fmt.Errorf("read records without routes: %w", err)
	}
	var missing []route
	for rows.Next() {
		var id, tenant, data string
		if err := rows.Scan(&id, &tenant, &data); err != nil {
			rows.Close()
			return fmt.Errorf("read records without routes: %w", err)
		}
		var doc record
		if err := json.Unmarshal([]byte(data), &doc); err != nil {
			rows.Close()
			return fmt.Errorf("record %s: decode: %w", id, err)
		}
		w := (*webhook.Webhook)(&doc)
		// The columns are authoritative: a legacy document lacks the
		// tenant.
		w.Tenant = tenant
		if w.ID, err = uuid.Parse(id); err != nil {
			rows.Close()
			return fmt.Errorf("record %q: %w", id, err)
		}
		missing = append(missing, routesOf(w)...)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read records without routes: %w", err)
	}
	return insertRoutes(ctx, q, d, missing)
}

// ChangeChannel is the PostgreSQL notification channel on which the
// triggers Migrate adds notify every transaction that changes a record or
// the route index, with the table's schema as the payload (PostgreSQL
// delivers one per transaction and schema). A listener calls
// Cache.Invalidate for each; outboxpg runs one.
const ChangeChannel = "outhook_webhook_changed"

// changeTables are the tables whose changes a Cache must notice.
var changeTables = []string{"outhook_webhook", "outhook_webhook_route"}

// addChangeTriggers makes every change of changeTables known to caches: on
// SQLite, triggers count them in outhook_webhook_version, in the changing
// transaction; on PostgreSQL, statement triggers notify ChangeChannel.
func addChangeTriggers(ctx context.Context, q execQuerier, d Dialect) error {
	if d.dollar {
		return addNotifyTriggers(ctx, q)
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS outhook_webhook_version (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL)`,
		`INSERT INTO outhook_webhook_version (id, v) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM outhook_webhook_version)`,
	}
	for _, table := range changeTables {
		for _, op := range []string{"INSERT", "UPDATE", "DELETE"} {
			stmts = append(stmts, `CREATE TRIGGER IF NOT EXISTS `+table+`_count_`+strings.ToLower(op)+` AFTER `+op+` ON `+table+`
BEGIN UPDATE outhook_webhook_version SET v = v + 1 WHERE id = 1; END`)
		}
	}
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("change count: %w", err)
		}
	}
	return nil
}

// addNotifyTriggers adds the PostgreSQL notification triggers where they
// are missing (a trigger is not dropped and created again, which would
// lock the table against writes).
func addNotifyTriggers(ctx context.Context, q execQuerier) error {
	_, err := q.ExecContext(ctx, `CREATE OR REPLACE FUNCTION outhook_webhook_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('`+ChangeChannel+`', TG_TABLE_SCHEMA);
	RETURN NULL;
END
$$`)
	if err != nil {
		return fmt.Errorf("change notification function: %w", err)
	}
	for _, table := range changeTables {
		rows, err := q.QueryContext(ctx, `SELECT COUNT(*) FROM pg_catalog.pg_trigger WHERE tgrelid = $1::regclass AND tgname = $2`,
			table, table+"_notify")
		if err != nil {
			return fmt.Errorf("look for the change trigger of %s: %w", table, err)
		}
		n := 0
		if rows.Next() {
			err = rows.Scan(&n)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return fmt.Errorf("look for the change trigger of %s: %w", table, err)
		}
		if n > 0 {
			continue
		}
		_, err = q.ExecContext(ctx, `CREATE TRIGGER `+table+`_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON `+table+`
	FOR EACH STATEMENT EXECUTE FUNCTION outhook_webhook_notify()`)
		if err != nil {
			return fmt.Errorf("change trigger of %s: %w", table, err)
		}
	}
	return nil
}
