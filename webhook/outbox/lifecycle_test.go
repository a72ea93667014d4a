package outbox_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// lifecycleAPI is what the lifecycle tests call on every driver's Outbox.
type lifecycleAPI interface {
	outboxAPI
	Close(ctx context.Context) error
	Redeliver(ctx context.Context, id uuid.UUID) error
}

// unmigrated is an Outbox that Migrate has not prepared, with a way to
// dispatch in an app transaction.
type unmigrated struct {
	ob         lifecycleAPI
	dispatchTx func(ctx context.Context, msg trigger.Message) ([]webhook.Delivery, error)
}

// unmigratedOutboxes opens, without migrating, an Outbox of every driver:
// SQLite, PostgreSQL through pgx, PostgreSQL through database/sql.
func unmigratedOutboxes() []struct {
	name string
	open func(t *testing.T) unmigrated
} {
	return []struct {
		name string
		open func(t *testing.T) unmigrated
	}{
		{"sqlite", func(t *testing.T) unmigrated {
			ob, err := outboxsqlite.Open(filepath.Join(t.TempDir(), "u.db"), registry(t), testOptions()...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = ob.Close(context.Background()) })
			return unmigrated{ob: ob, dispatchTx: func(ctx context.Context, msg trigger.Message) ([]webhook.Delivery, error) {
				tx, err := ob.DB().BeginTx(ctx, nil)
				require.NoError(t, err)
				defer tx.Rollback() //nolint:errcheck // the test only reads the error
				return ob.DispatchTx(ctx, tx, msg)
			}}
		}},
		{"postgres", func(t *testing.T) unmigrated {
			schema, dsn := pgtest.NewSchema(t)
			pool := pgtest.NewPool(t, dsn)
			ob, err := outboxpg.New(pool, registry(t), testOptions(outbox.WithSchema(schema))...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = ob.Close(context.Background()) })
			return unmigrated{ob: ob, dispatchTx: func(ctx context.Context, msg trigger.Message) ([]webhook.Delivery, error) {
				tx, err := pool.Begin(ctx)
				require.NoError(t, err)
				defer tx.Rollback(ctx) //nolint:errcheck // the test only reads the error
				return ob.DispatchTx(ctx, tx, msg)
			}}
		}},
		{"postgres database/sql", func(t *testing.T) unmigrated {
			schema, dsn := pgtest.NewSchema(t)
			db, err := sql.Open("pgx", dsn)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			ob, err := outboxpg.NewSQL(db, registry(t), testOptions(outbox.WithSchema(schema))...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = ob.Close(context.Background()) })
			return unmigrated{ob: ob, dispatchTx: func(ctx context.Context, msg trigger.Message) ([]webhook.Delivery, error) {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				defer tx.Rollback() //nolint:errcheck // the test only reads the error
				return ob.DispatchTx(ctx, tx, msg)
			}}
		}},
	}
}

// After Close, every method says the Outbox is closed, on every driver; in
// particular Start does not start a worker on closed handles.
func TestClosedOutbox(t *testing.T) {
	for _, d := range unmigratedOutboxes() {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			u := d.open(t)
			require.NoError(t, u.ob.Migrate(ctx))
			require.NoError(t, u.ob.Start(ctx))
			require.NoError(t, u.ob.Close(ctx))

			assert.ErrorIs(t, u.ob.Start(ctx), outbox.ErrClosed, "Start")
			assert.ErrorIs(t, u.ob.Stop(ctx), outbox.ErrClosed, "Stop")
			assert.ErrorIs(t, u.ob.Migrate(ctx), outbox.ErrClosed, "Migrate")
			_, err := u.ob.Dispatch(ctx, PageUpdated{ID: 1})
			assert.ErrorIs(t, err, outbox.ErrClosed, "Dispatch")
			_, err = u.ob.DeadLetters(ctx, 10)
			assert.ErrorIs(t, err, outbox.ErrClosed, "DeadLetters")
			assert.ErrorIs(t, u.ob.Redeliver(ctx, uuid.New()), outbox.ErrClosed, "Redeliver")
			assert.ErrorIs(t, u.ob.Close(ctx), outbox.ErrClosed, "a second Close")
			if d.name != "sqlite" { // Close closed SQLite's database: no transaction to begin
				_, err = u.dispatchTx(ctx, PageUpdated{ID: 1})
				assert.ErrorIs(t, err, outbox.ErrClosed, "DispatchTx")
			}
		})
	}
}

// Dispatch, DispatchTx and Start on a database that Migrate has not
// prepared say to call Migrate, on every driver.
func TestNotMigrated(t *testing.T) {
	for _, d := range unmigratedOutboxes() {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			u := d.open(t)
			_, err := u.ob.Dispatch(ctx, PageUpdated{ID: 1})
			require.ErrorIs(t, err, outbox.ErrNotMigrated, "Dispatch")
			assert.Contains(t, err.Error(), "call Migrate")
			_, err = u.dispatchTx(ctx, PageUpdated{ID: 1})
			assert.ErrorIs(t, err, outbox.ErrNotMigrated, "DispatchTx")
			assert.ErrorIs(t, u.ob.Start(ctx), outbox.ErrNotMigrated, "Start")

			require.NoError(t, u.ob.Migrate(ctx))
			ds, err := u.ob.Dispatch(ctx, PageUpdated{ID: 1})
			assert.NoError(t, err, "no record yet, no delivery, no error")
			assert.Empty(t, ds)
			assert.NoError(t, u.ob.Start(ctx))
		})
	}
}
