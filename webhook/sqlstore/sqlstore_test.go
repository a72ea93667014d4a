package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/internal/storetest"
	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// dialects names the databases every test runs on.
var dialects = []string{"sqlite", "postgres"}

func openDB(t testing.TB, name string) (*sql.DB, sqlstore.Dialect) {
	t.Helper()
	var (
		db  *sql.DB
		d   sqlstore.Dialect
		err error
	)
	switch name {
	case "sqlite":
		db, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "s.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		d = sqlstore.SQLite
	case "postgres":
		_, dsn := pgtest.NewSchema(t)
		db, err = sql.Open("pgx", dsn)
		d = sqlstore.Postgres
	}
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, sqlstore.Migrate(context.Background(), db, d))
	require.NoError(t, sqlstore.Migrate(context.Background(), db, d), "Migrate is idempotent")
	return db, d
}

func forEach(t *testing.T, f func(t *testing.T, db *sql.DB, d sqlstore.Dialect)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, d := openDB(t, name)
			f(t, db, d)
		})
	}
}

// fill sets every field of w (recursively) to a non-zero value, so a field
// added to webhook.Webhook that the store drops fails TestRoundTripEveryField.
func fill(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, path+".key")
		fill(t, e, path+".value")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), path)
		v.Set(p)
	case reflect.Array: // uuid.UUID
		for i := 0; i < v.Len(); i++ {
			fill(t, v.Index(i), path)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	default:
		t.Fatalf("fill: %s has kind %s; teach fill about it", path, v.Kind())
	}
}

func TestRoundTripEveryField(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		var w webhook.Webhook
		fill(t, reflect.ValueOf(&w).Elem(), "Webhook")
		// Make it valid where validation looks; every field stays non-zero.
		w.Triggers = []string{"test/a"}
		w.Channels = []string{"campaign/x"}
		w.URL = "https://example.com/hook"
		w.Method = "POST"
		w.Headers = map[string]string{"X-Tenant": "42"}
		w.Signing = signer.Config{Algorithm: "sha512"} // the TYPO3 scheme takes no other parameter
		require.NoError(t, w.Validate(), "make the filled record valid for the new field")
		for name, opts := range map[string][]sqlstore.StoreOption{
			"plaintext": nil,
			"encrypted": {sqlstore.WithEncryption(keyring(t, key("k1", 1)))},
		} {
			store := sqlstore.New(db, d, opts...)
			w := *w.Clone()
			w.ID = uuid.New()
			want := w.Clone()
			require.NoError(t, store.Create(ctx, &w))
			want.CreatedAt, want.UpdatedAt, want.Version = w.CreatedAt, w.UpdatedAt, w.Version
			got, err := store.Get(ctx, w.ID)
			require.NoError(t, err)
			assert.Equal(t, want, got, name)
			for i := 0; i < reflect.TypeOf(*got).NumField(); i++ {
				f := reflect.TypeOf(*got).Field(i)
				assert.False(t, reflect.ValueOf(*got).Field(i).IsZero(), "%s: field %s was not stored", name, f.Name)
			}
		}
	})
}

func TestStoreCRUD(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		store := sqlstore.New(db, d, sqlstore.WithClock(func() time.Time { now = now.Add(time.Second); return now }))
		a := &webhook.Webhook{Name: "a", Triggers: []string{"t/one"}, URL: "https://a.example/"}
		b := &webhook.Webhook{Name: "b", Triggers: []string{"t/one", "t/two"}, URL: "https://b.example/"}
		require.NoError(t, store.Create(ctx, a))
		require.NoError(t, store.Create(ctx, b))
		assert.NotEmpty(t, a.Secret)
		assert.ErrorIs(t, store.Create(ctx, a), webhook.ErrExists)
		assert.ErrorIs(t, store.Create(ctx, &webhook.Webhook{Name: ""}), webhook.ErrInvalidWebhook)

		names := func(ws []*webhook.Webhook, err error) []string {
			require.NoError(t, err)
			out := []string{}
			for _, w := range ws {
				out = append(out, w.Name)
			}
			return out
		}
		page, err := store.List(ctx, webhook.ListQuery{})
		assert.Equal(t, []string{"a", "b"}, names(page.Records, err))
		assert.Equal(t, []string{"a", "b"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/one"})))
		assert.Equal(t, []string{"b"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/two"})))

		a.Disabled, a.Secret = true, ""
		require.NoError(t, store.Update(ctx, a))
		got, err := store.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled)
		assert.NotEmpty(t, got.Secret, "an empty secret keeps the stored one")
		assert.True(t, got.UpdatedAt.After(got.CreatedAt))
		assert.Equal(t, []string{"b"}, names(store.ListActive(ctx, webhook.Route{Trigger: "t/one"})))

		require.NoError(t, store.Delete(ctx, b.ID))
		_, err = store.Get(ctx, b.ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound)
		assert.ErrorIs(t, store.Delete(ctx, b.ID), webhook.ErrNotFound)
		assert.ErrorIs(t, store.Update(ctx, b), webhook.ErrNotFound)
	})
}

// rebind is the store's placeholder rewrite, for the tests' raw SQL.
func rebind(d sqlstore.Dialect, q string) string {
	if d != sqlstore.Postgres {
		return q
	}
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
	}
	return q
}

// TestStoreContract runs the concurrency contract of every webhook.Store.
func TestStoreContract(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		storetest.Run(t, func(*testing.T) webhook.Store { return sqlstore.New(db, d) }, 200)
	})
}

// TestTenantContract runs the tenant contract of every webhook.Store, each
// test on a database of its own: the contract counts every record.
func TestTenantContract(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.RunTenants(t,
				func(t *testing.T) webhook.Store {
					db, d := openDB(t, name)
					return sqlstore.New(db, d)
				},
				func(t *testing.T, perTenant int) webhook.Store {
					db, d := openDB(t, name)
					return sqlstore.New(db, d, sqlstore.WithMaxRecordsPerTenant(perTenant))
				})
		})
	}
}

func TestUpdateVersions(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		store := sqlstore.New(db, d, sqlstore.WithClock(func() time.Time { now = now.Add(time.Second); return now }))
		w := &webhook.Webhook{Name: "v", Triggers: []string{"t/one"}, URL: "https://a.example/"}
		require.NoError(t, store.Create(ctx, w))
		created, secret := w.CreatedAt, w.Secret

		stale := w.Clone()
		w.Description, w.Secret, w.CreatedAt = "edited", "", time.Time{}
		require.NoError(t, store.Update(ctx, w))
		assert.EqualValues(t, 2, w.Version)
		assert.Equal(t, secret.Reveal(), w.Secret.Reveal(), "Update sets the kept secret on the record")
		assert.True(t, w.CreatedAt.Equal(created), "CreatedAt is kept")
		assert.True(t, w.UpdatedAt.After(created))

		stale.Description = "stale"
		err := store.Update(ctx, stale)
		require.ErrorIs(t, err, webhook.ErrConflict)
		assert.Contains(t, err.Error(), "at version 1, stored version 2")
		assert.EqualValues(t, 1, stale.Version, "a refused Update leaves the record as it was")

		got, err := store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w, got)

		at := time.Date(2026, 6, 1, 2, 3, 4, 5, time.FixedZone("CEST", 7200))
		ok, err := store.Disable(ctx, w.ID, "endpoint failing", at)
		require.NoError(t, err)
		require.True(t, ok)
		got, err = store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.EqualValues(t, 3, got.Version)
		assert.Equal(t, at.UTC(), got.DisabledAt, "DisabledAt keeps its nanoseconds")
		assert.True(t, got.UpdatedAt.After(w.UpdatedAt), "Disable sets UpdatedAt")
		assert.Equal(t, "edited", got.Description, "Disable changes nothing else")
		active, err := store.ListActive(ctx, webhook.Route{Trigger: "t/one"})
		require.NoError(t, err)
		assert.Empty(t, active)

		got.Enable()
		require.NoError(t, store.Update(ctx, got), "an administrator re-enables the record")
		got, err = store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.False(t, got.Disabled)
		assert.Empty(t, got.DisabledReason)
		assert.True(t, got.DisabledAt.IsZero())
		active, err = store.ListActive(ctx, webhook.Route{Trigger: "t/one"})
		require.NoError(t, err)
		assert.Len(t, active, 1)
	})
}

// legacyTable is outhook_webhook as Migrate created it before records had a
// version: the whole record, secrets included, in the JSON document.
func legacyTable(d sqlstore.Dialect) []string {
	boolType := "INTEGER"
	if d == sqlstore.Postgres {
		boolType = "BOOLEAN"
	}
	return []string{`CREATE TABLE outhook_webhook (
	id TEXT PRIMARY KEY,
	disabled ` + boolType + ` NOT NULL,
	created_us BIGINT NOT NULL,
	data TEXT NOT NULL
)`}
}

// openLegacyDB opens an empty database and creates the tables of an
// earlier version in it.
func openLegacyDB(t *testing.T, name string, schema func(sqlstore.Dialect) []string) (*sql.DB, sqlstore.Dialect) {
	t.Helper()
	var (
		db  *sql.DB
		d   sqlstore.Dialect
		err error
	)
	switch name {
	case "sqlite":
		db, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "s.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		d = sqlstore.SQLite
	case "postgres":
		_, dsn := pgtest.NewSchema(t)
		db, err = sql.Open("pgx", dsn)
		d = sqlstore.Postgres
	}
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	for _, s := range schema(d) {
		_, err = db.Exec(s)
		require.NoError(t, err)
	}
	return db, d
}

func TestMigrateEarlierSchema(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, d := openLegacyDB(t, name, legacyTable)
			id := uuid.New()
			created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
			secret, err := signer.GenerateSecret("")
			require.NoError(t, err)
			previous, err := signer.GenerateSecret("")
			require.NoError(t, err)
			// The document as the store wrote it when Secret was a string.
			data, err := json.Marshal(map[string]any{
				"id": id, "name": "legacy", "triggers": []string{"t/one"}, "url": "https://old.example/hook",
				"secret": secret, "previous_secret": previous, "previous_secret_expires_at": created.Add(time.Hour),
				"headers": map[string]string{"X-Tenant": "42"}, "disabled": true, "disabled_reason": "failing",
				"disabled_at": created.Add(time.Minute), "signing": map[string]any{},
				"created_at": created, "updated_at": created.Add(time.Minute),
			})
			require.NoError(t, err)
			_, err = db.Exec(rebind(d, `INSERT INTO outhook_webhook (id, disabled, created_us, data) VALUES (?, ?, ?, ?)`),
				id.String(), true, created.UnixMicro(), string(data))
			require.NoError(t, err)

			require.NoError(t, sqlstore.Migrate(ctx, db, d))
			require.NoError(t, sqlstore.Migrate(ctx, db, d), "Migrate is idempotent")

			store := sqlstore.New(db, d)
			got, err := store.Get(ctx, id)
			require.NoError(t, err)
			assert.EqualValues(t, 1, got.Version, "earlier records get version 1")
			assert.Equal(t, "legacy", got.Name)
			assert.Equal(t, secret, got.Secret.Reveal())
			assert.Equal(t, previous, got.PreviousSecret.Reveal())
			assert.Equal(t, created.Add(time.Hour), got.PreviousSecretExpiresAt)
			assert.Equal(t, map[string]string{"X-Tenant": "42"}, got.Headers)
			assert.True(t, got.Disabled)
			assert.Equal(t, "failing", got.DisabledReason)
			assert.Equal(t, created.Add(time.Minute), got.DisabledAt)
			assert.Equal(t, created, got.CreatedAt)
			assert.Equal(t, created.Add(time.Minute), got.UpdatedAt)

			var doc string
			require.NoError(t, db.QueryRow(rebind(d, `SELECT data FROM outhook_webhook WHERE id = ?`), id.String()).Scan(&doc))
			assert.NotContains(t, doc, secret, "the secrets left the JSON document")
			assert.NotContains(t, doc, previous)

			got.Enable()
			require.NoError(t, store.Update(ctx, got))
			assert.EqualValues(t, 2, got.Version)
			active, err := store.ListActive(ctx, webhook.Route{Trigger: "t/one"})
			require.NoError(t, err)
			require.Len(t, active, 1)
			assert.Equal(t, secret, active[0].Secret.Reveal())
			ok, err := store.Disable(ctx, id, "again", created)
			require.NoError(t, err)
			assert.True(t, ok)
		})
	}
}

// TestMigrateConcurrently has processes that start together migrate a
// database of the earlier schema at once.
func TestMigrateConcurrently(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, d := openLegacyDB(t, name, legacyTable)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { errs[i] = sqlstore.Migrate(context.Background(), db, d) })
			}
			wg.Wait()
			for _, err := range errs {
				assert.NoError(t, err)
			}
			w := &webhook.Webhook{Name: "after", Triggers: []string{"t/one"}, URL: "https://a.example/"}
			require.NoError(t, sqlstore.New(db, d).Create(context.Background(), w))
		})
	}
}

func TestLog(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		log := sqlstore.NewLog(db, d)
		del, hook := uuid.New(), uuid.New()
		start := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
		for n := 1; n <= 3; n++ {
			at := transportAttempt(n, start.Add(time.Duration(n)*time.Minute))
			require.NoError(t, log.RecordAttempt(ctx, envelope(del, hook), at))
		}
		require.NoError(t, log.RecordAttempt(ctx, envelope(uuid.New(), uuid.New()), transportAttempt(1, start)))

		rows, err := log.ByDelivery(ctx, del)
		require.NoError(t, err)
		require.Len(t, rows, 3)
		r := rows[2]
		assert.Equal(t, 3, r.Attempt)
		assert.Equal(t, hook, r.WebhookID)
		assert.Equal(t, "t/x", r.Trigger)
		assert.True(t, start.Add(3*time.Minute).Equal(r.Start))
		assert.Equal(t, 1500*time.Millisecond, r.Duration)
		assert.Equal(t, 503, r.StatusCode)
		assert.Equal(t, "retry", r.Outcome)
		assert.Equal(t, "attempt 3 failed", r.Error)
		assert.Equal(t, "bad\uFFFD gateway", r.Excerpt, "invalid UTF-8 and NUL bytes are cleaned")

		byHook, err := log.ByWebhook(ctx, hook, 2)
		require.NoError(t, err)
		require.Len(t, byHook, 2)
		assert.Equal(t, 3, byHook[0].Attempt, "newest first")
		last, err := log.LastAttempt(ctx, del)
		require.NoError(t, err)
		assert.Equal(t, 3, last)

		n, err := log.DeleteBefore(ctx, start.Add(150*time.Second))
		require.NoError(t, err)
		assert.EqualValues(t, 3, n)
		rows, err = log.ByDelivery(ctx, del)
		require.NoError(t, err)
		assert.Len(t, rows, 1)
	})
}

func Example() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(exampleDir(), "example.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db, sqlstore.SQLite); err != nil {
		panic(err)
	}
	store := sqlstore.New(db, sqlstore.SQLite)
	w := &webhook.Webhook{Name: "CRM", Triggers: []string{"shop/order-paid"}, URL: "https://crm.example/hooks"}
	if err := store.Create(ctx, w); err != nil {
		panic(err)
	}
	active, _ := store.ListActive(ctx, webhook.Route{Trigger: "shop/order-paid"})
	fmt.Println(len(active), active[0].Name)
	// Output: 1 CRM
}
