package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

func openDB(t *testing.T, name string) (*sql.DB, sqlstore.Dialect) {
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
		w.URL = "https://example.com/hook"
		w.Method = "POST"
		w.Headers = map[string]string{"X-Tenant": "42"}
		w.Signing = signer.Config{Algorithm: "sha512"} // the TYPO3 scheme takes no other parameter
		require.NoError(t, w.Validate(), "make the filled record valid for the new field")
		store := sqlstore.New(db, d)
		want := w.Clone()
		require.NoError(t, store.Create(ctx, &w))
		want.CreatedAt, want.UpdatedAt = w.CreatedAt, w.UpdatedAt
		got, err := store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		for i := 0; i < reflect.TypeOf(*got).NumField(); i++ {
			f := reflect.TypeOf(*got).Field(i)
			assert.False(t, reflect.ValueOf(*got).Field(i).IsZero(), "field %s was not stored", f.Name)
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
		assert.Equal(t, []string{"a", "b"}, names(store.List(ctx)))
		assert.Equal(t, []string{"a", "b"}, names(store.ListActive(ctx, "t/one")))
		assert.Equal(t, []string{"b"}, names(store.ListActive(ctx, "t/two")))

		a.Disabled, a.Secret = true, ""
		require.NoError(t, store.Update(ctx, a))
		got, err := store.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled)
		assert.NotEmpty(t, got.Secret, "an empty secret keeps the stored one")
		assert.True(t, got.UpdatedAt.After(got.CreatedAt))
		assert.Equal(t, []string{"b"}, names(store.ListActive(ctx, "t/one")))

		require.NoError(t, store.Delete(ctx, b.ID))
		_, err = store.Get(ctx, b.ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound)
		assert.ErrorIs(t, store.Delete(ctx, b.ID), webhook.ErrNotFound)
		assert.ErrorIs(t, store.Update(ctx, b), webhook.ErrNotFound)
	})
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
	active, _ := store.ListActive(ctx, "shop/order-paid")
	fmt.Println(len(active), active[0].Name)
	// Output: 1 CRM
}
