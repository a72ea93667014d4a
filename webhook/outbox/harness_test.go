package outbox_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// PageUpdated is the test message.
type PageUpdated struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
}

func (p PageUpdated) JSONSerialize() any { return p }

const pageTrigger = "test/page-updated"

func registry(t testing.TB) *trigger.Registry {
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[PageUpdated](reg, pageTrigger, "a page changed"))
	return reg
}

// outboxAPI is what the tests use of an outbox.Outbox, whatever its TTx.
type outboxAPI interface {
	Migrate(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Dispatch(ctx context.Context, msg trigger.Message, opts ...webhook.DispatchOption) ([]webhook.Delivery, error)
	DeadLetters(ctx context.Context, limit int) ([]durable.DeadLetter, error)
}

// backend is one database under test.
type backend struct {
	name  string
	ob    outboxAPI
	store webhook.Store
	log   *sqlstore.Log
	// redeliver is the Outbox's Redeliver.
	redeliver func(ctx context.Context, id uuid.UUID) error
	// jobs lists River jobs.
	jobs func(ctx context.Context, p *river.JobListParams) (*river.JobListResult, error)
	// close is the Outbox's Close.
	close func(ctx context.Context) error
	// client is the River client, as what Close must stop.
	client interface{ Stopped() <-chan struct{} }
	// dispatchTx dispatches msg in an app transaction that commits or rolls back.
	dispatchTx func(ctx context.Context, msg trigger.Message, commit bool, opts ...webhook.DispatchOption) ([]webhook.Delivery, error)
}

// testBackOff retries quickly: at most attempts attempts, 10 ms apart.
func testBackOff(attempts int) func() backoff.BackOff {
	return func() backoff.BackOff {
		return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), uint64(attempts-1))
	}
}

// testOptions puts the tests' defaults before opts, so that opts win.
func testOptions(opts ...outbox.Option) []outbox.Option {
	return append([]outbox.Option{
		outbox.WithSenderOptions(
			webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
			webhook.WithBackOff(testBackOff(3)),
			webhook.WithAttemptTimeout(2*time.Second),
		),
		outbox.WithFetchPollInterval(20 * time.Millisecond),
		outbox.WithLogger(quietLogger()),
	}, opts...)
}

type backendFunc func(t *testing.T, opts ...outbox.Option) *backend

var backends = []struct {
	name string
	open backendFunc
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func openSQLite(t *testing.T, opts ...outbox.Option) *backend {
	return openSQLiteAt(t, filepath.Join(t.TempDir(), "outhook.db"), opts...)
}

func openSQLiteAt(t *testing.T, path string, opts ...outbox.Option) *backend {
	ob, err := outboxsqlite.Open(path, registry(t), testOptions(opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ob.Close(context.Background()) })
	ctx := context.Background()
	require.NoError(t, ob.Migrate(ctx))
	return &backend{
		name: "sqlite", ob: ob, store: ob.Store(), log: ob.Log(), redeliver: ob.Redeliver, jobs: ob.Client().JobList, close: ob.Close, client: ob.Client(),
		dispatchTx: func(ctx context.Context, msg trigger.Message, commit bool, opts ...webhook.DispatchOption) ([]webhook.Delivery, error) {
			tx, err := ob.DB().BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			ds, err := ob.DispatchTx(ctx, tx, msg, opts...)
			if err != nil || !commit {
				return ds, errorsJoin(err, tx.Rollback())
			}
			return ds, tx.Commit()
		},
	}
}

func openPostgres(t *testing.T, opts ...outbox.Option) *backend {
	schema, dsn := pgtest.NewSchema(t)
	return openPostgresAt(t, schema, dsn, opts...)
}

func openPostgresAt(t *testing.T, schema, dsn string, opts ...outbox.Option) *backend {
	pool := pgtest.NewPool(t, dsn)
	ob, err := outboxpg.New(pool, registry(t), testOptions(append(opts, outbox.WithSchema(schema))...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ob.Close(context.Background()) })
	require.NoError(t, ob.Migrate(context.Background()))
	return &backend{
		name: "postgres", ob: ob, store: ob.Store(), log: ob.Log(), redeliver: ob.Redeliver, jobs: ob.Client().JobList, close: ob.Close, client: ob.Client(),
		dispatchTx: func(ctx context.Context, msg trigger.Message, commit bool, opts ...webhook.DispatchOption) ([]webhook.Delivery, error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, err
			}
			// The app's own write, in the same transaction.
			if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS app_page (id INT)"); err != nil {
				return nil, errorsJoin(err, tx.Rollback(ctx))
			}
			ds, err := ob.DispatchTx(ctx, tx, msg, opts...)
			if err != nil || !commit {
				return ds, errorsJoin(err, tx.Rollback(ctx))
			}
			return ds, tx.Commit(ctx)
		},
	}
}

func createHook(t testing.TB, store webhook.Store, url string) *webhook.Webhook {
	w := &webhook.Webhook{Name: "test", Triggers: []string{pageTrigger}, URL: url}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

// waitDeadLetters waits until the outbox lists n dead letters, and returns
// them.
func (be *backend) waitDeadLetters(t *testing.T, n int, within time.Duration) []durable.DeadLetter {
	t.Helper()
	var dead []durable.DeadLetter
	require.Eventually(t, func() bool {
		var err error
		dead, err = be.ob.DeadLetters(context.Background(), 10)
		require.NoError(t, err)
		return len(dead) == n
	}, within, poll)
	return dead
}
