package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *manualClock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func cachedHook(t *testing.T, s *sqlstore.Store) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: "cached", Triggers: []string{"t/x"}, URL: "https://example.com/hook"}
	require.NoError(t, s.Create(context.Background(), w))
	return w
}

// TestRecordCacheOtherProcess: a change made elsewhere (another Store on
// the database, as another process) reaches the cache's readers exactly
// when the TTL has passed since the read, not before.
func TestRecordCacheOtherProcess(t *testing.T) {
	changes := map[string]func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error{
		"disable": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
			_, err := other.Disable(ctx, w.ID, "test", time.Now())
			return err
		},
		"rotate": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
			_, err := webhook.RotateSecret(ctx, other, w.ID, time.Hour)
			return err
		},
		"delete": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
			return other.Delete(ctx, w.ID)
		},
	}
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		for name, change := range changes {
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				s, other := sqlstore.New(db, d), sqlstore.New(db, d)
				clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
				c := sqlstore.NewRecordCache(s, time.Second, sqlstore.WithCacheClock(clock.now))
				w := cachedHook(t, s)
				first, err := c.Get(ctx, w.ID)
				require.NoError(t, err)
				require.NoError(t, change(ctx, other, w))

				clock.add(time.Second - time.Nanosecond)
				got, err := c.Get(ctx, w.ID)
				require.NoError(t, err, "within the TTL the record read before the change is used")
				assert.Equal(t, first, got)

				clock.add(time.Nanosecond)
				got, err = c.Get(ctx, w.ID)
				fresh, ferr := s.Get(ctx, w.ID)
				if ferr != nil {
					assert.ErrorIs(t, err, webhook.ErrNotFound, "once the TTL passed, the change applies")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, fresh, got, "once the TTL passed, the change applies")
				assert.NotEqual(t, first.Version, got.Version)
			})
		}
	})
}

// TestRecordCacheSameStore: a change made through the cache's own Store
// applies to the next Get, without waiting for the TTL.
func TestRecordCacheSameStore(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		s := sqlstore.New(db, d)
		clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		c := sqlstore.NewRecordCache(s, time.Hour, sqlstore.WithCacheClock(clock.now))
		w := cachedHook(t, s)
		_, err := c.Get(ctx, w.ID)
		require.NoError(t, err)

		_, err = s.Disable(ctx, w.ID, "health", time.Now())
		require.NoError(t, err)
		got, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled, "disabled through the Store")

		got.Enable()
		require.NoError(t, s.Update(ctx, got))
		got, err = c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.False(t, got.Disabled, "updated through the Store")

		_, err = webhook.RotateSecret(ctx, s, w.ID, time.Hour)
		require.NoError(t, err)
		got, err = c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.NotEqual(t, w.Secret, got.Secret, "rotated through the Store")
		assert.Equal(t, w.Secret, got.PreviousSecret)

		require.NoError(t, s.Delete(ctx, w.ID))
		_, err = c.Get(ctx, w.ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound, "deleted through the Store")
	})
}

// TestRecordCacheCopiesAndErrors: Get returns copies; a missing record is
// not remembered; a TTL of 0 reads every time; expired records are dropped.
func TestRecordCacheCopiesAndErrors(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		s, other := sqlstore.New(db, d), sqlstore.New(db, d)
		clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		c := sqlstore.NewRecordCache(s, time.Second, sqlstore.WithCacheClock(clock.now))

		w := cachedHook(t, s)
		got, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		got.URL, got.Triggers[0] = "https://changed.example/", "t/changed"
		again, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w.URL, again.URL, "the caller's changes stay its own")
		assert.Equal(t, w.Triggers, again.Triggers)

		id := uuid.New()
		_, err = c.Get(ctx, id)
		require.ErrorIs(t, err, webhook.ErrNotFound)
		late := &webhook.Webhook{ID: id, Name: "late", Triggers: []string{"t/x"}, URL: "https://example.com/late"}
		require.NoError(t, other.Create(ctx, late))
		_, err = c.Get(ctx, id)
		assert.NoError(t, err, "not found is not remembered")

		off := sqlstore.NewRecordCache(s, 0, sqlstore.WithCacheClock(clock.now))
		_, err = off.Get(ctx, w.ID)
		require.NoError(t, err)
		_, err = other.Disable(ctx, w.ID, "test", time.Now())
		require.NoError(t, err)
		got, err = off.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled, "TTL 0: no cache")

		assert.Equal(t, 2, c.Len())
		clock.add(2 * time.Second)
		_, err = c.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, 1, c.Len(), "expired records are dropped")
	})
}
