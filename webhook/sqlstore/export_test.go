package sqlstore

import (
	"context"
	"database/sql"

	"github.com/outhook/outhook/webhook"
)

// ListActiveQuery is the query Store.ListActive runs, for the EXPLAIN tests.
func ListActiveQuery(d Dialect, r webhook.Route) (string, []any) { return listActiveQuery(d, r) }

// ListQuery is the query Store.List runs, for the EXPLAIN tests.
func ListQuery(d Dialect, q webhook.ListQuery, after *webhook.Cursor) (string, []any) {
	return listQuery(d, q, after)
}

// bulkBatch is how many records one INSERT of BulkInsert writes.
const bulkBatch = 500

// BulkInsert writes ws, prepared with webhook.PrepareCreate, in one
// transaction with the rows and routes Create writes, many records to a
// statement: the benchmarks' fixtures load fast, and TestBulkInsertIsCreate
// checks that they are what Create writes.
func BulkInsert(ctx context.Context, db *sql.DB, d Dialect, ws []*webhook.Webhook) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for len(ws) > 0 {
		n := min(len(ws), bulkBatch)
		q := `INSERT INTO outhook_webhook (` + insertColumns + `) VALUES `
		var args []any
		var routes []route
		for i, w := range ws[:n] {
			r, err := encodeRow(w, nil)
			if err != nil {
				return err
			}
			if i > 0 {
				q += ", "
			}
			q += "(" + placeholders(13) + ")"
			args = append(args, r.values(w.CreatedAt.UnixMicro())...)
			routes = append(routes, routesOf(w)...)
		}
		if _, err := tx.ExecContext(ctx, d.rebind(q), args...); err != nil {
			return err
		}
		if err := insertRoutes(ctx, tx, d, routes); err != nil {
			return err
		}
		ws = ws[n:]
	}
	return tx.Commit()
}
