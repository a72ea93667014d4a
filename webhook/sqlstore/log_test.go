package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/storetest"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// TestDeliveryLogContract runs the contract of every webhook.DeliveryLog,
// each test on a database of its own.
func TestDeliveryLogContract(t *testing.T) {
	for _, name := range dialects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.RunDeliveryLog(t, func(t *testing.T) webhook.DeliveryLog {
				db, d := openDB(t, name)
				return sqlstore.NewLog(db, d)
			})
		})
	}
}

// insertAttempts writes n attempt rows (a multiple of 2,000) to 200
// tenants of ten records each, in deliveries of three attempts, interleaved,
// and returns a tenant, one of its records and one of its deliveries.
func insertAttempts(t *testing.T, db *sql.DB, d sqlstore.Dialect, n int) (tenant string, hook, del uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	hookID := func(r int) uuid.UUID { return uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint("w", r))) }
	delID := func(r, m int) uuid.UUID { return uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint("d", r, "/", m/3))) }
	const batch = 200
	for i := 0; i < n; i += batch {
		var vals []string
		var args []any
		for j := i; j < min(i+batch, n); j++ {
			r, m := j%2000, j/2000 // record r, its attempt row m
			vals = append(vals, "(?, ?, 't/x', ?, ?, 1000, 200, ?, '', '', ?)")
			args = append(args, delID(r, m).String(), hookID(r).String(), 1+m%3, int64(j)*1000,
				[]string{"success", "retry", "permanent"}[m%3], fmt.Sprintf("tenant-%03d", r%200))
		}
		_, err := tx.ExecContext(ctx, rebind(d, `INSERT INTO outhook_attempt
	(delivery_id, webhook_id, trigger_id, attempt, start_us, duration_us, status_code, outcome, error, excerpt, tenant)
	VALUES `+strings.Join(vals, ", ")), args...)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	return "tenant-047", hookID(847), delID(847, n/4000)
}

// TestAttemptQueryPlans checks that Log.Attempts reads an index in the
// order of the page, by delivery, record, tenant or ID, never every row and
// never a sort: on SQLite with and without ANALYZE's statistics, on
// PostgreSQL with them.
func TestAttemptQueryPlans(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		tenant, hook, del := insertAttempts(t, db, d, 60_000)
		const before = 40_000
		tests := []struct {
			name       string
			q          webhook.AttemptQuery
			sqlite, pg string
		}{
			{"tenant", webhook.AttemptQuery{Tenant: tenant},
				"SEARCH outhook_attempt USING INDEX outhook_attempt_tenant (tenant=? AND id<?)", "outhook_attempt_tenant"},
			{"tenant and outcome", webhook.AttemptQuery{Tenant: tenant, Outcome: "retry"},
				"SEARCH outhook_attempt USING INDEX outhook_attempt_tenant (tenant=? AND id<?)", "outhook_attempt_tenant"},
			{"record", webhook.AttemptQuery{Tenant: tenant, WebhookID: hook},
				"SEARCH outhook_attempt USING INDEX outhook_attempt_webhook_id (webhook_id=? AND id<?)", "outhook_attempt_webhook(_id)?"},
			{"record of every tenant", webhook.AttemptQuery{AllTenants: true, WebhookID: hook},
				"SEARCH outhook_attempt USING INDEX outhook_attempt_webhook_id (webhook_id=? AND id<?)", "outhook_attempt_webhook_id"},
			{"delivery", webhook.AttemptQuery{Tenant: tenant, DeliveryID: del},
				"SEARCH outhook_attempt USING INDEX outhook_attempt_delivery (delivery_id=? AND id<?)", "outhook_attempt_delivery"},
			{"every tenant", webhook.AttemptQuery{AllTenants: true},
				"SEARCH outhook_attempt USING INTEGER PRIMARY KEY (rowid<?)", "outhook_attempt_pkey"},
		}
		check := func(stats string) {
			for _, tt := range tests {
				q, args := sqlstore.AttemptsQuery(d, tt.q, before, 51)
				plan := explain(t, db, d, q, args)
				t.Logf("%s, %s:\n%s", tt.name, stats, plan)
				if d == sqlstore.SQLite {
					assert.Contains(t, plan, tt.sqlite, "%s, %s", tt.name, stats)
					assert.NotContains(t, plan, "TEMP B-TREE", "%s, %s: the index gives the order", tt.name, stats)
					continue
				}
				// An index scan, backward in the page's order, or a bitmap
				// scan and a sort where few rows match.
				assert.Regexp(t, `Index Scan (Backward )?(using|on) `+tt.pg+` `, plan, tt.name)
				assert.NotContains(t, plan, "Seq Scan", tt.name)
			}
		}
		if d == sqlstore.SQLite {
			check("without statistics")
		}
		_, err := db.ExecContext(context.Background(), "ANALYZE")
		require.NoError(t, err)
		check("after ANALYZE")

		page, err := sqlstore.NewLog(db, d).Attempts(context.Background(), webhook.AttemptQuery{Tenant: tenant, WebhookID: hook, Limit: 4})
		require.NoError(t, err)
		require.Len(t, page.Attempts, 4)
		assert.Equal(t, hook, page.Attempts[0].WebhookID)
		assert.NotEmpty(t, page.Next)
	})
}
