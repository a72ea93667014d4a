package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// Every tenant of a scale fixture holds the same mix of records, so that a
// route reaches as many records whatever the number of tenants.
var (
	scaleTriggers = [][]string{{"shop/order-paid"}, {"shop/order-paid", "shop/order-shipped"}, {"shop/order-shipped"}, {"crm/contact-added"}}
	scaleChannels = [][]string{nil, {"c1"}, nil, {"c2", "c3"}, nil}
	// scaleRoute is a dispatch of a tenant every fixture holds.
	scaleRoute = webhook.Route{Tenant: "tenant-00042", Trigger: "shop/order-paid", Channels: []string{"c1"}}
)

// scaleRecords returns n records, prepared as Create prepares them, over
// tenants tenants ("tenant-00000"...), created one millisecond apart with
// the tenants interleaved.
func scaleRecords(t testing.TB, n, tenants int) []*webhook.Webhook {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*webhook.Webhook, n)
	for i := range out {
		k := i / tenants // the record's place in its tenant
		w := &webhook.Webhook{
			Name:     fmt.Sprintf("r%d", i),
			Tenant:   fmt.Sprintf("tenant-%05d", i%tenants),
			Triggers: scaleTriggers[k%len(scaleTriggers)],
			Channels: scaleChannels[k%len(scaleChannels)],
			URL:      "https://example.com/hook",
			Disabled: k%7 == 6,
		}
		require.NoError(t, webhook.PrepareCreate(w, start.Add(time.Duration(i)*time.Millisecond)))
		out[i] = w
	}
	return out
}

// matching returns the IDs of the records of ws that route r reaches.
func matching(ws []*webhook.Webhook, r webhook.Route) []string {
	out := []string{}
	for _, w := range ws {
		if w.Matches(r) {
			out = append(out, w.ID.String())
		}
	}
	return out
}

func idsOf(ws []*webhook.Webhook) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.ID.String())
	}
	return out
}

// TestBulkInsertIsCreate checks that the benchmarks' fixtures are what
// Create writes: the same rows in outhook_webhook and the route index.
func TestBulkInsertIsCreate(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		recs := scaleRecords(t, 60, 7)
		bulkDB, _ := openDB(t, d.String())
		require.NoError(t, sqlstore.BulkInsert(ctx, bulkDB, d, recs))
		now := recs[0].CreatedAt
		store := sqlstore.New(db, d, sqlstore.WithClock(func() time.Time { return now }))
		for _, w := range recs {
			c := w.Clone()
			now = w.CreatedAt
			require.NoError(t, store.Create(ctx, c))
		}
		for _, q := range []string{
			`SELECT * FROM outhook_webhook ORDER BY id`,
			`SELECT * FROM outhook_webhook_route ORDER BY webhook_id, trigger_id, channel`,
		} {
			assert.Equal(t, dump(t, db, q), dump(t, bulkDB, q), q)
		}
		got, err := sqlstore.New(bulkDB, d).ListActive(ctx, webhook.Route{Tenant: "tenant-00003", Trigger: "shop/order-paid", Channels: []string{"c1"}})
		require.NoError(t, err)
		assert.Equal(t, matching(recs, webhook.Route{Tenant: "tenant-00003", Trigger: "shop/order-paid", Channels: []string{"c1"}}), idsOf(got))
	})
}

// dump returns every row q selects, as text.
func dump(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	var out []string
	for _, vals := range query(t, db, q) {
		out = append(out, fmt.Sprintf("%v", vals))
	}
	return out
}

// query returns every row q selects, each as its column values.
func query(t *testing.T, db *sql.DB, q string, args ...any) [][]any {
	t.Helper()
	rows, err := db.Query(q, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

// explain returns the plan of q: SQLite's EXPLAIN QUERY PLAN, or
// PostgreSQL's EXPLAIN, one line per node.
func explain(t *testing.T, db *sql.DB, d sqlstore.Dialect, q string, args []any) string {
	t.Helper()
	prefix := "EXPLAIN "
	if d == sqlstore.SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	var lines []string
	for _, vals := range query(t, db, prefix+q, args...) {
		lines = append(lines, fmt.Sprint(vals[len(vals)-1])) // SQLite: the detail column
	}
	return strings.Join(lines, "\n")
}

// TestQueryPlans checks that ListActive reads the route index and List of
// one tenant its index, never every row of outhook_webhook: on SQLite with
// and without ANALYZE's statistics, on PostgreSQL with them.
func TestQueryPlans(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		recs := scaleRecords(t, 5000, 500)
		require.NoError(t, sqlstore.BulkInsert(ctx, db, d, recs))
		after := webhook.CursorAfter(recs[1042])
		active, activeArgs := sqlstore.ListActiveQuery(d, webhook.Route{Tenant: "tenant-00042", Trigger: "shop/order-paid", Channels: []string{"c1", "c2"}})
		page, pageArgs := sqlstore.ListQuery(d, webhook.ListQuery{Tenant: "tenant-00042", Limit: 3}, &after)
		check := func(stats string) {
			plan := explain(t, db, d, active, activeArgs)
			t.Logf("ListActive, %s:\n%s", stats, plan)
			listPlan := explain(t, db, d, page, pageArgs)
			t.Logf("List of a tenant after a cursor, %s:\n%s", stats, listPlan)
			if d == sqlstore.SQLite {
				assert.Contains(t, plan, "SEARCH outhook_webhook_route USING PRIMARY KEY (tenant=? AND trigger_id=? AND channel=?)", stats)
				assert.Contains(t, plan, "SEARCH w USING INDEX sqlite_autoindex_outhook_webhook_1 (id=?)", stats)
				assert.NotContains(t, plan, "SCAN w", stats)
				assert.Contains(t, listPlan, "SEARCH outhook_webhook USING INDEX outhook_webhook_tenant (tenant=? AND created_us>?)", stats)
				assert.NotContains(t, listPlan, "TEMP B-TREE", "the index gives the order")
				return
			}
			// An index scan or a bitmap index scan of the route index.
			assert.Regexp(t, `Index (Only )?Scan (using|on) outhook_webhook_route_pkey`, plan)
			assert.Contains(t, plan, "Index Scan using outhook_webhook_pkey on outhook_webhook w")
			assert.NotContains(t, plan, "Seq Scan")
			assert.Contains(t, listPlan, "Index Scan using outhook_webhook_tenant on outhook_webhook")
			assert.NotContains(t, listPlan, "Seq Scan")
			assert.NotContains(t, listPlan, "Sort", "the index gives the order")
		}
		if d == sqlstore.SQLite {
			check("without statistics")
		}
		_, err := db.ExecContext(ctx, "ANALYZE")
		require.NoError(t, err)
		check("after ANALYZE")
	})
}

// scaleSizes are the fixtures of BenchmarkListActiveScale: ten records per
// tenant, ten times as many tenants in the second.
var scaleSizes = []struct {
	name             string
	records, tenants int
}{
	{"10k", 10_000, 1_000},
	{"100k", 100_000, 10_000},
}

// BenchmarkListActiveScale times ListActive for one tenant's trigger in
// databases of 10,000 and 100,000 records (ten per tenant): through the
// route index, both cost the same. The second size reports its cost over
// the first's as the metric "x-10k" (run both sizes for it):
//
//	go test -run '^$' -bench ListActiveScale -benchtime=2000x
func BenchmarkListActiveScale(b *testing.B) {
	for _, name := range dialects {
		var base float64 // ns/op of the first size, at its latest run
		for i, size := range scaleSizes {
			b.Run(name+"/"+size.name, func(b *testing.B) {
				ctx := context.Background()
				db, d := openDB(b, name) // PostgreSQL: a schema of its own
				recs := scaleRecords(b, size.records, size.tenants)
				require.NoError(b, sqlstore.BulkInsert(ctx, db, d, recs))
				if d == sqlstore.Postgres {
					// As autovacuum would, and so that it does not run
					// during the timing.
					_, err := db.ExecContext(ctx, "VACUUM ANALYZE")
					require.NoError(b, err)
				}
				want := len(matching(recs, scaleRoute))
				store := sqlstore.New(db, d)
				for b.Loop() {
					got, err := store.ListActive(ctx, scaleRoute)
					if err != nil || len(got) != want {
						b.Fatalf("ListActive: %d records, want %d (%v)", len(got), want, err)
					}
				}
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				switch {
				case i == 0:
					base = ns
				case base > 0:
					b.ReportMetric(ns/base, "x-"+scaleSizes[0].name)
				}
			})
		}
	}
}
