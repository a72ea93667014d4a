package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// previousSchema is the schema Migrate created before tenants: no tenant
// columns, no route index.
func previousSchema(d sqlstore.Dialect) []string {
	boolType, serial := "INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"
	if d == sqlstore.Postgres {
		boolType, serial = "BOOLEAN", "BIGSERIAL PRIMARY KEY"
	}
	return []string{
		`CREATE TABLE outhook_webhook (
	id TEXT PRIMARY KEY,
	disabled ` + boolType + ` NOT NULL,
	created_us BIGINT NOT NULL,
	data TEXT NOT NULL,
	version BIGINT NOT NULL DEFAULT 1,
	updated_at TEXT NOT NULL DEFAULT '',
	disabled_reason TEXT NOT NULL DEFAULT '',
	disabled_at TEXT NOT NULL DEFAULT '',
	key_id TEXT NOT NULL DEFAULT '',
	secret TEXT NOT NULL DEFAULT '',
	previous_secret TEXT NOT NULL DEFAULT '',
	headers TEXT NOT NULL DEFAULT ''
)`,
		`CREATE INDEX outhook_webhook_created ON outhook_webhook (created_us, id)`,
		`CREATE TABLE outhook_attempt (
	id ` + serial + `,
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
		`CREATE INDEX outhook_attempt_delivery ON outhook_attempt (delivery_id, id)`,
		`CREATE INDEX outhook_attempt_webhook ON outhook_attempt (webhook_id, start_us)`,
		`CREATE INDEX outhook_attempt_start ON outhook_attempt (start_us)`,
	}
}

// insertPrevious writes a record as the previous Create did: the document
// without secrets, headers, disabling, update time and version, which have
// columns.
func insertPrevious(t *testing.T, db *sql.DB, d sqlstore.Dialect, name string, triggers []string, disabled bool, created time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	secret, err := signer.GenerateSecret("")
	require.NoError(t, err)
	data, err := json.Marshal(map[string]any{
		"id": id, "name": name, "triggers": triggers, "url": "https://old.example/" + name,
		"signing": map[string]any{}, "created_at": created, "updated_at": time.Time{}, "version": 0,
	})
	require.NoError(t, err)
	_, err = db.Exec(rebind(d, `INSERT INTO outhook_webhook
	(id, disabled, created_us, data, version, updated_at, disabled_reason, disabled_at, key_id, secret, previous_secret, headers)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		id.String(), disabled, created.UnixMicro(), string(data), 1, created.Format(time.RFC3339Nano), "", "", "", secret, "", "")
	require.NoError(t, err)
	return id
}

// namesOf returns a func that returns the names of the records a List or
// ListActive returned, failing t on its error.
func namesOf(t *testing.T) func(ws []*webhook.Webhook, err error) []string {
	return func(ws []*webhook.Webhook, err error) []string {
		t.Helper()
		require.NoError(t, err)
		out := []string{}
		for _, w := range ws {
			out = append(out, w.Name)
		}
		return out
	}
}

func countRoutes(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM outhook_webhook_route`).Scan(&n))
	return n
}

// TestMigratePreviousSchema migrates, by processes starting together, a
// database of the schema before tenants: its records belong to the tenant
// "", get routes, and are found by ListActive; its attempts have the tenant
// "".
func TestMigratePreviousSchema(t *testing.T) {
	for _, name := range dialects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, d := openLegacyDB(t, name, previousSchema)
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			a := insertPrevious(t, db, d, "a", []string{"t/one", "t/two"}, false, t0)
			insertPrevious(t, db, d, "b", []string{"t/one"}, true, t0.Add(time.Second))
			insertPrevious(t, db, d, "c", []string{"t/two"}, false, t0.Add(2*time.Second))
			del := uuid.New()
			_, err := db.Exec(rebind(d, `INSERT INTO outhook_attempt
	(delivery_id, webhook_id, trigger_id, attempt, start_us, duration_us, status_code, outcome, error, excerpt)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), del.String(), a.String(), "t/one", 1, t0.UnixMicro(), 1000, 200, "success", "", "ok")
			require.NoError(t, err)

			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { assert.NoError(t, sqlstore.Migrate(ctx, db, d)) })
			}
			wg.Wait()
			require.NoError(t, sqlstore.Migrate(ctx, db, d), "Migrate is idempotent")
			assert.Equal(t, 4, countRoutes(t, db), "a: two triggers, b and c: one")

			store, names := sqlstore.New(db, d), namesOf(t)
			assert.Equal(t, []string{"a"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/one"})))
			assert.Equal(t, []string{"a", "c"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/two"})))
			assert.Equal(t, []string{"a"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/one", Channels: []string{"c1"}})),
				"records without channels get every message")
			assert.Empty(t, names(store.ListActive(ctx, webhook.Route{Tenant: "org", Trigger: "t/one"})))
			got, err := store.Get(ctx, a)
			require.NoError(t, err)
			assert.Equal(t, "", got.Tenant)
			assert.Nil(t, got.Channels)
			page, err := store.List(ctx, webhook.ListQuery{Limit: 2})
			assert.Equal(t, []string{"a", "b"}, names(page.Records, err))
			page, err = store.List(ctx, webhook.ListQuery{Limit: 2, After: page.Next})
			assert.Equal(t, []string{"c"}, names(page.Records, err))
			assert.Empty(t, page.Next)

			attempts, err := sqlstore.NewLog(db, d).ByDelivery(ctx, del)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			assert.Equal(t, "", attempts[0].Tenant)
			assert.Equal(t, "ok", attempts[0].Excerpt)

			// The migrated records are written like new ones.
			got.Channels = []string{"c1"}
			require.NoError(t, store.Update(ctx, got))
			assert.Equal(t, []string{"c"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/two"})))
			assert.Equal(t, []string{"a", "c"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/two", Channels: []string{"c1"}})))
			require.NoError(t, store.Delete(ctx, a))
			assert.Equal(t, 2, countRoutes(t, db))
			require.NoError(t, sqlstore.Migrate(ctx, db, d))
			assert.Equal(t, 2, countRoutes(t, db), "a Migrate after the first leaves the route index alone")
		})
	}
}

func TestLogTenant(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		log := sqlstore.NewLog(db, d)
		del, hook := uuid.New(), uuid.New()
		env := envelope(del, hook)
		env.Tenant = "org/42"
		require.NoError(t, log.RecordAttempt(ctx, env, transportAttempt(1, time.Now())))
		require.NoError(t, log.RecordAttempt(ctx, envelope(del, hook), transportAttempt(2, time.Now())))
		rows, err := log.ByDelivery(ctx, del)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		assert.Equal(t, "org/42", rows[0].Tenant)
		assert.Equal(t, "", rows[1].Tenant)
		byHook, err := log.ByWebhook(ctx, hook, 0)
		require.NoError(t, err)
		require.Len(t, byHook, 2)
		assert.ElementsMatch(t, []string{"org/42", ""}, []string{byHook[0].Tenant, byHook[1].Tenant})
	})
}
