package outboxpg_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// TestCacheFollowsOtherProcesses: with a cache whose TTL is far longer
// than the test, a record changed by another process (a Store of its own
// on the database) stops being dispatched to once the change is notified,
// not when the TTL runs out. Before Start nothing is cached; after Close
// neither.
func TestCacheFollowsOtherProcesses(t *testing.T) {
	changes := map[string]func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error{
		"disable": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
			_, err := other.Disable(ctx, w.ID, "test", time.Now())
			return err
		},
		"delete": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
			return other.Delete(ctx, w.ID)
		},
		"drop the trigger": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
			_, err := webhook.Modify(ctx, other, w.ID, func(w *webhook.Webhook) error {
				w.Triggers = []string{"shop/other"}
				return nil
			})
			return err
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			schema, dsn := pgtest.NewSchema(t)
			ob, err := outboxpg.New(pgtest.NewPool(t, dsn), registry(t), append(options(schema), outbox.WithCache(time.Hour))...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = ob.Close(context.Background()) })
			require.NoError(t, ob.Migrate(ctx))
			w := &webhook.Webhook{Name: "a", Triggers: []string{orderPaid}, URL: "http://127.0.0.1:1/hook"}
			require.NoError(t, ob.Store().Create(ctx, w))

			_, err = ob.Dispatch(ctx, OrderPaid{ID: 1})
			require.NoError(t, err)
			assert.Zero(t, ob.Cache().Len(), "not listening yet: nothing cached")

			require.NoError(t, ob.Start(ctx))
			require.Eventually(t, func() bool {
				_, err := ob.Dispatch(ctx, OrderPaid{ID: 2})
				require.NoError(t, err)
				return ob.Cache().Len() > 0
			}, 10*time.Second, 10*time.Millisecond, "listening: the route is cached")

			db, err := sql.Open("pgx", dsn)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			require.NoError(t, change(ctx, sqlstore.New(db, sqlstore.Postgres), w))
			require.Eventually(t, func() bool {
				ds, err := ob.Dispatch(ctx, OrderPaid{ID: 3})
				require.NoError(t, err)
				return len(ds) == 0
			}, 10*time.Second, 10*time.Millisecond, "the notification drops the cache")

			require.NoError(t, ob.Close(ctx))
			assert.Zero(t, ob.Cache().Len(), "closed: the cache is paused")
		})
	}
}
