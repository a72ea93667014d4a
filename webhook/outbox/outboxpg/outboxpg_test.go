package outboxpg_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
)

type OrderPaid struct {
	ID int `json:"id"`
}

func (o OrderPaid) JSONSerialize() any { return o }

const orderPaid = "shop/order-paid"

func options(schema string) []outbox.Option {
	return []outbox.Option{
		outbox.WithSchema(schema),
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
			webhook.WithBackOff(func() backoff.BackOff {
				return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), 2)
			})),
		outbox.WithFetchPollInterval(20 * time.Millisecond),
	}
}

func registry(t *testing.T) *trigger.Registry {
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[OrderPaid](reg, orderPaid, "an order was paid"))
	return reg
}

// OpenDB runs the Outbox over database/sql: DispatchTx takes the app's
// *sql.Tx, and the deliveries exist if and only if it commits.
func TestOpenDB(t *testing.T) {
	ctx := context.Background()
	schema, dsn := pgtest.NewSchema(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	ob, err := outboxpg.NewSQL(db, registry(t), options(schema)...)
	require.NoError(t, err)
	require.NoError(t, ob.Migrate(ctx))
	require.NoError(t, ob.Migrate(ctx), "Migrate is idempotent")
	_, err = db.ExecContext(ctx, `CREATE TABLE app_order (id INT PRIMARY KEY)`)
	require.NoError(t, err)
	rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
	require.NoError(t, ob.Store().Create(ctx, &webhook.Webhook{Name: "shop", Triggers: []string{orderPaid}, URL: rc.URL}))
	require.NoError(t, ob.Start(ctx))

	dispatchTx := func(id int, commit bool) uuid.UUID {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `INSERT INTO app_order (id) VALUES ($1)`, id)
		require.NoError(t, err)
		ds, err := ob.DispatchTx(ctx, tx, OrderPaid{ID: id})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, webhook.StatusQueued, ds[0].Status)
		if commit {
			require.NoError(t, tx.Commit())
		} else {
			require.NoError(t, tx.Rollback())
		}
		return ds[0].ID
	}
	rolledBack := dispatchTx(1, false)
	committed := dispatchTx(2, true)
	plain, err := ob.Dispatch(ctx, OrderPaid{ID: 3})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		s := rc.Seen()
		return s[committed.String()].Count == 1 && s[plain[0].ID.String()].Count == 1
	}, 10*time.Second, 10*time.Millisecond)
	s := rc.Seen()
	assert.Equal(t, `{"id":2}`, s[committed.String()].Body)
	assert.Equal(t, `{"id":3}`, s[plain[0].ID.String()].Body)
	assert.NotContains(t, s, rolledBack.String(), "a rolled back delivery is never sent")
	res, err := ob.Client().JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
	require.NoError(t, err)
	assert.Len(t, res.Jobs, 2, "the rolled back delivery has no job")
	var orders int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM app_order`).Scan(&orders))
	assert.Equal(t, 1, orders)

	// Redeliver runs in a *sql.Tx of its own.
	require.Eventually(t, func() bool { return ob.Redeliver(ctx, committed) == nil }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return rc.Seen()[committed.String()].Count == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.ErrorIs(t, ob.Redeliver(ctx, rolledBack), durable.ErrDeliveryNotFound)

	require.NoError(t, ob.Close(ctx))
	assert.NoError(t, db.PingContext(ctx), "Close leaves the caller's db open")
}

// Close stops the Outbox and leaves the caller's pool open.
func TestOpenCloseLeavesPoolOpen(t *testing.T) {
	ctx := context.Background()
	schema, dsn := pgtest.NewSchema(t)
	pool := pgtest.NewPool(t, dsn)
	ob, err := outboxpg.New(pool, registry(t), options(schema)...)
	require.NoError(t, err)
	require.NoError(t, ob.Migrate(ctx))
	require.NoError(t, ob.Start(ctx))
	require.NoError(t, ob.Close(ctx))
	assert.NoError(t, pool.Ping(ctx))
}

// The transactional outbox over database/sql: an order and its webhook
// commit together.
//
// It needs a PostgreSQL database (DATABASE_URL), so it is compiled, not run.
func ExampleNewSQL() {
	ctx := context.Background()
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	reg := trigger.NewRegistry()
	_ = trigger.Register[OrderPaid](reg, orderPaid, "an order was paid")
	ob, err := outboxpg.NewSQL(db, reg)
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx) // leaves db open
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	if err := ob.Start(ctx); err != nil {
		panic(err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET paid = true WHERE id = $1`, 7); err != nil {
		panic(err)
	}
	if _, err := ob.DispatchTx(ctx, tx, OrderPaid{ID: 7}); err != nil {
		panic(err)
	}
	if err := tx.Commit(); err != nil {
		panic(err)
	}
}

// Many app instances share one PostgreSQL database; each delivery is sent by
// one of them at a time.
//
// It needs a PostgreSQL database (DATABASE_URL), so it is compiled, not run.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	reg := trigger.NewRegistry()
	_ = trigger.Register[OrderPaid](reg, orderPaid, "an order was paid")
	ob, err := outboxpg.New(pool, reg)
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx) // leaves the pool open
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	if err := ob.Start(ctx); err != nil {
		panic(err)
	}
	if _, err := ob.Dispatch(ctx, OrderPaid{ID: 7}); err != nil {
		panic(err)
	}
}

// The package's defaults reach River's queue, through pgx and through
// database/sql, and the caller's options win over them. The poll interval
// matters on PostgreSQL too: River's insert notifications miss the end of a
// burst, which then waits for the poll.
func TestDefaults(t *testing.T) {
	schema, dsn := pgtest.NewSchema(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() }) // after the Outboxes' Close
	queueOf := func(build func(...outbox.Option) error, opts ...outbox.Option) river.QueueConfig {
		var q river.QueueConfig
		capture := outbox.WithRiverConfig(func(rc *river.Config) { q = rc.Queues[durable.Queue] })
		base := []outbox.Option{outbox.WithSchema(schema), outbox.WithLogger(slog.New(slog.DiscardHandler))}
		require.NoError(t, build(append(append(base, opts...), capture)...))
		return q
	}
	closeLater := func(o interface{ Close(context.Context) error }) {
		t.Cleanup(func() { _ = o.Close(context.Background()) })
	}
	builders := map[string]func(...outbox.Option) error{
		"New": func(opts ...outbox.Option) error {
			o, err := outboxpg.New(pgtest.NewPool(t, dsn), registry(t), opts...)
			if err == nil {
				closeLater(o)
			}
			return err
		},
		"NewSQL": func(opts ...outbox.Option) error {
			o, err := outboxpg.NewSQL(db, registry(t), opts...)
			if err == nil {
				closeLater(o)
			}
			return err
		},
	}
	for name, build := range builders {
		t.Run(name, func(t *testing.T) {
			q := queueOf(build)
			assert.Equal(t, outboxpg.DefaultWorkers, q.MaxWorkers)
			assert.Equal(t, outboxpg.DefaultFetchCooldown, q.FetchCooldown)
			assert.Equal(t, outboxpg.DefaultFetchPollInterval, q.FetchPollInterval)

			q = queueOf(build, outbox.WithWorkers(3), outbox.WithFetchCooldown(time.Second), outbox.WithFetchPollInterval(2*time.Second))
			assert.Equal(t, 3, q.MaxWorkers)
			assert.Equal(t, time.Second, q.FetchCooldown)
			assert.Equal(t, 2*time.Second, q.FetchPollInterval)
		})
	}
}
