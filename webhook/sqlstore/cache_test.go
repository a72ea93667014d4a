package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
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

// otherChanges are changes made through another Store on the database, as
// another process makes them.
var otherChanges = map[string]func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error{
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
	"add a trigger": func(ctx context.Context, other *sqlstore.Store, w *webhook.Webhook) error {
		_, err := webhook.Modify(ctx, other, w.ID, func(w *webhook.Webhook) error {
			w.Triggers = append(w.Triggers, "t/y")
			return nil
		})
		return err
	},
}

// lookups are what a Cache serves: a record and a route's records.
var lookups = map[string]func(ctx context.Context, l webhook.Lookup, w *webhook.Webhook) (any, error){
	"get": func(ctx context.Context, l webhook.Lookup, w *webhook.Webhook) (any, error) { return l.Get(ctx, w.ID) },
	"list active": func(ctx context.Context, l webhook.Lookup, w *webhook.Webhook) (any, error) {
		return l.ListActive(ctx, webhook.Route{Trigger: "t/x"})
	},
}

// TestCacheOtherProcess: a change made elsewhere (another Store on the
// database, as another process) reaches the cache's readers at once on
// SQLite (the change count), on PostgreSQL at its notification (here an
// Invalidate by hand) or when the TTL has passed since the read, not before.
func TestCacheOtherProcess(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		for name, change := range otherChanges {
			for lname, lookup := range lookups {
				for _, notified := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/notified=%v", name, lname, notified), func(t *testing.T) {
						ctx := context.Background()
						s, other := sqlstore.New(db, d), sqlstore.New(db, d)
						clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
						c := sqlstore.NewCache(s, time.Second, sqlstore.WithCacheClock(clock.now))
						w := cachedHook(t, s)
						t.Cleanup(func() { _ = s.Delete(context.Background(), w.ID) })
						first, err := lookup(ctx, c, w)
						require.NoError(t, err)
						require.NoError(t, change(ctx, other, w))
						if notified {
							c.Invalidate()
						}

						fresh, ferr := lookup(ctx, s, w)
						clock.add(time.Second - time.Nanosecond)
						got, err := lookup(ctx, c, w)
						if d == sqlstore.Postgres && !notified {
							require.NoError(t, err, "within the TTL what was read before the change is used")
							assert.Equal(t, first, got)
							clock.add(time.Nanosecond)
							got, err = lookup(ctx, c, w)
						}
						if ferr != nil {
							assert.ErrorIs(t, err, webhook.ErrNotFound, "the change applies")
							return
						}
						require.NoError(t, err)
						assert.Equal(t, fresh, got, "the change applies")
						assert.NotEqual(t, first, got)
					})
				}
			}
		}
	})
}

// TestCacheSameStore: a change made through the cache's own Store applies
// to the next Get and ListActive, without waiting for the TTL.
func TestCacheSameStore(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		s := sqlstore.New(db, d)
		clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		c := sqlstore.NewCache(s, time.Hour, sqlstore.WithCacheClock(clock.now))
		route := webhook.Route{Trigger: "t/x"}
		ids := func() []uuid.UUID {
			ws, err := c.ListActive(ctx, route)
			require.NoError(t, err)
			var out []uuid.UUID
			for _, w := range ws {
				out = append(out, w.ID)
			}
			return out
		}
		assert.Empty(t, ids())
		w := cachedHook(t, s)
		assert.Equal(t, []uuid.UUID{w.ID}, ids(), "created through the Store")
		_, err := c.Get(ctx, w.ID)
		require.NoError(t, err)

		_, err = s.Disable(ctx, w.ID, "health", time.Now())
		require.NoError(t, err)
		got, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled, "disabled through the Store")
		assert.Empty(t, ids(), "disabled through the Store")

		got.Enable()
		require.NoError(t, s.Update(ctx, got))
		got, err = c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.False(t, got.Disabled, "updated through the Store")
		assert.Equal(t, []uuid.UUID{w.ID}, ids(), "updated through the Store")

		_, err = webhook.RotateSecret(ctx, s, w.ID, time.Hour)
		require.NoError(t, err)
		got, err = c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.NotEqual(t, w.Secret, got.Secret, "rotated through the Store")
		assert.Equal(t, w.Secret, got.PreviousSecret)

		require.NoError(t, s.Delete(ctx, w.ID))
		_, err = c.Get(ctx, w.ID)
		assert.ErrorIs(t, err, webhook.ErrNotFound, "deleted through the Store")
		assert.Empty(t, ids(), "deleted through the Store")
	})
}

// TestCachePause: a paused Cache reads the Store for every lookup and keeps
// nothing; Resume starts afresh.
func TestCachePause(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		s, other := sqlstore.New(db, d), sqlstore.New(db, d)
		c := sqlstore.NewCache(s, time.Hour, sqlstore.WithCachePaused())
		w := cachedHook(t, s)
		_, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		_, err = c.ListActive(ctx, webhook.Route{Trigger: "t/x"})
		require.NoError(t, err)
		assert.Zero(t, c.Len(), "paused: nothing kept")

		c.Resume()
		_, err = c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, 1, c.Len())
		c.Pause()
		assert.Zero(t, c.Len(), "Pause drops everything")
		_, err = other.Disable(ctx, w.ID, "test", time.Now())
		require.NoError(t, err)
		got, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled)
	})
}

// TestCacheCopiesAndErrors: lookups return copies; a missing record is not
// remembered; a TTL of 0 reads every time; expired entries are dropped;
// routes with the same channels in another order share an entry.
func TestCacheCopiesAndErrors(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		s, other := sqlstore.New(db, d), sqlstore.New(db, d)
		clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		c := sqlstore.NewCache(s, time.Second, sqlstore.WithCacheClock(clock.now))

		w := cachedHook(t, s)
		got, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		got.URL, got.Triggers[0] = "https://changed.example/", "t/changed"
		again, err := c.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w.URL, again.URL, "the caller's changes stay its own")
		assert.Equal(t, w.Triggers, again.Triggers)
		ws, err := c.ListActive(ctx, webhook.Route{Trigger: "t/x"})
		require.NoError(t, err)
		require.Len(t, ws, 1)
		ws[0].URL = "https://changed.example/"
		ws, err = c.ListActive(ctx, webhook.Route{Trigger: "t/x"})
		require.NoError(t, err)
		assert.Equal(t, w.URL, ws[0].URL, "the caller's changes stay its own")

		id := uuid.New()
		_, err = c.Get(ctx, id)
		require.ErrorIs(t, err, webhook.ErrNotFound)
		late := &webhook.Webhook{ID: id, Name: "late", Triggers: []string{"t/x"}, URL: "https://example.com/late"}
		require.NoError(t, other.Create(ctx, late))
		_, err = c.Get(ctx, id)
		assert.NoError(t, err, "not found is not remembered")

		off := sqlstore.NewCache(s, 0, sqlstore.WithCacheClock(clock.now))
		_, err = off.Get(ctx, w.ID)
		require.NoError(t, err)
		_, err = other.Disable(ctx, w.ID, "test", time.Now())
		require.NoError(t, err)
		got, err = off.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.True(t, got.Disabled, "TTL 0: no cache")
		assert.Zero(t, off.Len())

		c.Invalidate()
		_, err = c.ListActive(ctx, webhook.Route{Trigger: "t/x", Channels: []string{"b", "a", "b"}})
		require.NoError(t, err)
		_, err = c.ListActive(ctx, webhook.Route{Trigger: "t/x", Channels: []string{"a", "b"}})
		require.NoError(t, err)
		assert.Equal(t, 1, c.Len(), "one entry per set of channels")
		clock.add(2 * time.Second)
		_, err = c.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, 1, c.Len(), "expired entries are dropped")
	})
}

// TestChangeNotifications: on PostgreSQL every change of a record or the
// route index, through the Store or directly, notifies ChangeChannel with
// the table's schema.
func TestChangeNotifications(t *testing.T) {
	db, d := openDB(t, "postgres")
	ctx := context.Background()
	var search string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&search))
	conn, err := pgx.Connect(ctx, os.Getenv(pgtest.PostgresEnv))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, `LISTEN `+sqlstore.ChangeChannel)
	require.NoError(t, err)
	s := sqlstore.New(db, d)
	var w *webhook.Webhook
	changes := []struct {
		name   string
		change func() error
	}{
		{"create", func() error { w = cachedHook(t, s); return nil }},
		{"disable", func() error { _, err := s.Disable(ctx, w.ID, "test", time.Now()); return err }},
		{"update", func() error {
			_, err := webhook.Modify(ctx, s, w.ID, func(w *webhook.Webhook) error { w.Enable(); return nil })
			return err
		}},
		{"route index by hand", func() error {
			_, err := db.ExecContext(ctx, `DELETE FROM outhook_webhook_route WHERE webhook_id = $1`, w.ID.String())
			return err
		}},
		{"delete", func() error { return s.Delete(ctx, w.ID) }},
	}
	for _, c := range changes {
		require.NoError(t, c.change(), c.name)
		// Tests in other schemas notify the same channel: wait for ours.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for {
			n, err := conn.WaitForNotification(wctx)
			require.NoError(t, err, c.name)
			require.Equal(t, sqlstore.ChangeChannel, n.Channel, c.name)
			if n.Payload == search {
				break
			}
		}
		cancel()
	}
}
