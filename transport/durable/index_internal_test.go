package durable

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// SQLite uses the partial index Migrate creates for Redeliver's lookup, in
// the shape riversqlite's JobList gives it (PostgreSQL's plan is checked on
// the query River actually sends, in TestRedeliverUsesIndexPostgres).
func TestDeliveryIndexSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "i.db"))
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	require.NoError(t, Migrate(ctx, riversqlite.New(db), db, "", log))
	require.NoError(t, Migrate(ctx, riversqlite.New(db), db, "", log), "Migrate is idempotent")

	q := "EXPLAIN QUERY PLAN SELECT * FROM river_job WHERE " +
		strings.Replace(deliveryWhere, "@delivery_id", "?", 1) +
		" AND state IN ('available', 'completed', 'discarded') ORDER BY id DESC LIMIT 1"
	rows, err := db.QueryContext(ctx, q, "0197a0d4-0000-7000-8000-000000000000")
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, strings.Join(plan, "\n"), "USING INDEX "+deliveryIndex, "%s", strings.Join(plan, "\n"))
	assert.NotContains(t, strings.Join(plan, "\n"), "TEMP B-TREE", "the index gives the order")
}
