package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/outhook/outhook/webhook"
)

// The route index, outhook_webhook_route, holds one row per trigger and
// channel of every record: (tenant, trigger_id, channel, webhook_id), with
// channel "" for a record without channels. Its primary key starts with
// (tenant, trigger_id, channel), so ListActive reads the rows of one
// dispatch's route and nothing else, however many records the database
// holds. Create, Update and Delete rewrite a record's rows in the
// transaction that writes the record; Disable leaves them (ListActive skips
// disabled records when it joins outhook_webhook), so it stays one write.

// route is one row of outhook_webhook_route.
type route struct{ tenant, trigger, channel, webhookID string }

// routesOf returns the rows of outhook_webhook_route that index w.
func routesOf(w *webhook.Webhook) []route {
	channels := w.Channels
	if len(channels) == 0 {
		channels = []string{""}
	}
	id := w.ID.String()
	seen := make(map[[2]string]bool, len(w.Triggers)*len(channels))
	out := make([]route, 0, len(w.Triggers)*len(channels))
	for _, t := range w.Triggers {
		for _, c := range channels {
			if k := [2]string{t, c}; !seen[k] {
				seen[k] = true
				out = append(out, route{w.Tenant, t, c, id})
			}
		}
	}
	return out
}

// execer is what writes run on: a *sql.DB, *sql.Tx or *sql.Conn.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// routeBatch is how many routes one INSERT writes, well below the
// placeholder limits of SQLite (32766) and PostgreSQL (65535).
const routeBatch = 500

// insertRoutes writes rs to outhook_webhook_route.
func insertRoutes(ctx context.Context, ex execer, d Dialect, rs []route) error {
	for len(rs) > 0 {
		n := min(len(rs), routeBatch)
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")
		args := make([]any, 0, 4*n)
		for _, r := range rs[:n] {
			args = append(args, r.tenant, r.trigger, r.channel, r.webhookID)
		}
		q := `INSERT INTO outhook_webhook_route (tenant, trigger_id, channel, webhook_id) VALUES ` + values
		if _, err := ex.ExecContext(ctx, d.rebind(q), args...); err != nil {
			return fmt.Errorf("write route index: %w", err)
		}
		rs = rs[n:]
	}
	return nil
}

// deleteRoutes removes the routes of the record id.
func deleteRoutes(ctx context.Context, ex execer, d Dialect, id string) error {
	if _, err := ex.ExecContext(ctx, d.rebind(`DELETE FROM outhook_webhook_route WHERE webhook_id = ?`), id); err != nil {
		return fmt.Errorf("delete from route index: %w", err)
	}
	return nil
}

// listActiveQuery returns the query of Store.ListActive for r, rebound for
// d, and its arguments: the distinct records of r's tenant and trigger
// indexed under no channel or one of r's channels, then the enabled ones of
// them, oldest first. CROSS JOIN makes SQLite read the route index first
// (PostgreSQL plans it as an inner join).
func listActiveQuery(d Dialect, r webhook.Route) (string, []any) {
	args := []any{r.Tenant, r.Trigger, ""}
	seen := map[string]bool{"": true}
	for _, c := range r.Channels {
		if !seen[c] {
			seen[c] = true
			args = append(args, c)
		}
	}
	q := `SELECT ` + rowColumns + ` FROM (
	SELECT DISTINCT webhook_id FROM outhook_webhook_route
	WHERE tenant = ? AND trigger_id = ? AND channel IN (` + placeholders(len(args)-2) + `)
) r CROSS JOIN outhook_webhook w
WHERE w.id = r.webhook_id AND w.disabled = ?
ORDER BY w.created_us, w.id`
	return d.rebind(q), append(args, false)
}

// listQuery returns the query of Store.List for q, rebound for d, and its
// arguments: one record more than a page holds, so that List knows whether
// another page follows. Records at or before after (when not nil) are
// skipped by a keyset condition that seeks in the index on (tenant,
// created_us, id), or (created_us, id) for all tenants. IDs are canonical
// UUID text (lowercase hex at fixed places), which every collation orders
// as webhook.Cursor does.
func listQuery(d Dialect, q webhook.ListQuery, after *webhook.Cursor) (string, []any) {
	var where []string
	var args []any
	if !q.AllTenants {
		where = append(where, `tenant = ?`)
		args = append(args, q.Tenant)
	}
	if after != nil {
		us, id := after.CreatedAt.UnixMicro(), after.ID.String()
		// The first term lets the index seek; the second skips the
		// records of the cursor's microsecond up to its ID.
		where = append(where, `created_us >= ? AND (created_us > ? OR id > ?)`)
		args = append(args, us, us, id)
	}
	s := `SELECT ` + rowColumns + ` FROM outhook_webhook`
	if len(where) > 0 {
		s += ` WHERE ` + strings.Join(where, ` AND `)
	}
	s += ` ORDER BY created_us, id LIMIT ?`
	return d.rebind(s), append(args, q.PageSize()+1)
}

// tenantLockClass is the first key of the PostgreSQL advisory locks that
// serialize the Creates of one tenant when the store limits its records.
const tenantLockClass = 0x6f687431 // "oht1"

// lockTenant makes concurrent Creates in tenant take turns until tx ends,
// so that counting its records and inserting one is atomic. SQLite needs
// no lock: a write transaction excludes every other writer, and Create
// counts after its INSERT, which waits for that lock.
func lockTenant(ctx context.Context, tx *sql.Tx, d Dialect, tenant string) error {
	if !d.dollar {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(tenant))
	// The two-key form: a key space apart from Migrate's one-key lock.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(tenantLockClass), int32(h.Sum32())); err != nil {
		return fmt.Errorf("lock tenant %q: %w", tenant, err)
	}
	return nil
}

// inTx runs f in a transaction on the writer, committed when f returns nil
// and rolled back otherwise.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
