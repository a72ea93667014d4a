package outboxpg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// Defaults chosen by measurement (see the package benchmarks and the bench
// harness). PostgreSQL wakes fetchers through LISTEN/NOTIFY, but River sends
// at most one insert notification per queue every 100 ms and a fetch can run
// before the last inserts commit, so the end of a burst waits for the poll:
// with River's 1 s default, the last deliveries of a burst sat idle for up
// to a second. Polling an empty queue writes nothing.
const (
	DefaultWorkers           = 64
	DefaultFetchCooldown     = 5 * time.Millisecond
	DefaultFetchPollInterval = 50 * time.Millisecond
)

// defaults come before the caller's options, so theirs win.
func defaults(opts []outbox.Option, more ...outbox.Option) []outbox.Option {
	d := append([]outbox.Option{outbox.WithWorkers(DefaultWorkers), outbox.WithFetchCooldown(DefaultFetchCooldown),
		outbox.WithFetchPollInterval(DefaultFetchPollInterval)}, more...)
	return append(d, opts...)
}

// Outbox is an outbox.Outbox on a pgxpool.Pool; DispatchTx takes a pgx.Tx.
type Outbox struct {
	*outbox.Outbox[pgx.Tx]
	pool *pgxpool.Pool
	db   *sql.DB

	mu         sync.Mutex
	stopListen context.CancelFunc // nil: no listener started
	listening  chan struct{}      // closed when the listener has returned
}

// Pool returns the pool given to New; Close does not close it.
func (o *Outbox) Pool() *pgxpool.Pool { return o.pool }

// New builds an Outbox on pool: River through riverpgxv5, outhook's tables
// through a database/sql view of the same pool, with this package's
// defaults (DefaultWorkers, DefaultFetchCooldown, DefaultFetchPollInterval,
// a cache of records and routes: outbox.WithCache with
// sqlstore.DefaultCacheTTL) before opts. Call Migrate, then Start; Close when
// done.
//
// The cache serves only while the Outbox listens for changes of records
// (sqlstore.ChangeChannel) on a connection of its own taken from pool: from
// Start until Close or the end of Start's context. A notification drops it,
// so a change made by another process applies from the moment it is
// received (milliseconds after it committed, at most the cache's TTL);
// while the connection is down, and before Start, every Dispatch and
// attempt reads the database. outbox.WithCache(0) turns it off.
func New(pool *pgxpool.Pool, reg *trigger.Registry, opts ...outbox.Option) (*Outbox, error) {
	db := stdlib.OpenDBFromPool(pool)
	o, err := outbox.New(riverpgxv5.New(pool), db, sqlstore.Postgres, reg,
		defaults(opts, outbox.WithCache(sqlstore.DefaultCacheTTL))...)
	if err != nil {
		db.Close()
		return nil, err
	}
	if c := o.Cache(); c != nil {
		c.Pause() // until the listener listens
	}
	return &Outbox{Outbox: o, pool: pool, db: db}, nil
}

// Start is outbox.Outbox's Start; it also starts the cache's listener (see
// New), which runs until Close or the end of ctx.
func (o *Outbox) Start(ctx context.Context) error {
	if err := o.Outbox.Start(ctx); err != nil {
		return err
	}
	c := o.Cache()
	if c == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.listening != nil {
		select {
		case <-o.listening:
		default:
			return nil // still listening
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	o.stopListen, o.listening = cancel, done
	l := &listener{pool: o.pool, cache: c, log: o.Logger()}
	go func() {
		defer close(done)
		l.run(lctx)
	}()
	return nil
}

// stopListener stops the cache's listener, if one runs, and waits for it.
func (o *Outbox) stopListener() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopListen != nil {
		o.stopListen()
		<-o.listening
	}
}

// Close stops the client (see outbox.Outbox.Close: running attempts get
// until ctx ends, then are cancelled). It leaves the pool open. After Close,
// the Outbox's methods return outbox.ErrClosed.
func (o *Outbox) Close(ctx context.Context) error {
	err := o.Outbox.Close(ctx)
	if errors.Is(err, outbox.ErrClosed) {
		return err
	}
	o.stopListener()
	return errors.Join(err, o.db.Close())
}

// Redeliver enqueues a finished delivery again with the same delivery ID,
// in a transaction of its own (see durable.Transport.RedeliverTx): of two
// concurrent calls for one delivery, one enqueues it and the other gets
// durable.ErrInProgress.
func (o *Outbox) Redeliver(ctx context.Context, deliveryID uuid.UUID) error {
	if o.Closed() {
		return outbox.ErrClosed
	}
	tx, err := o.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("outboxpg: redeliver %s: begin: %w", deliveryID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := o.Transport().RedeliverTx(ctx, tx, deliveryID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("outboxpg: redeliver %s: commit: %w", deliveryID, err)
	}
	return nil
}

var _ webhook.Resender = (*Outbox)(nil)

// Resend implements webhook.Resender: it is Redeliver, with its errors
// matching webhook's sentinels too (see outbox.ResendError).
func (o *Outbox) Resend(ctx context.Context, deliveryID uuid.UUID) error {
	return outbox.ResendError(o.Redeliver(ctx, deliveryID))
}

// NewSQL builds an Outbox over a *sql.DB connected to PostgreSQL (pgx's
// stdlib or lib/pq) through riverdatabasesql; DispatchTx takes a *sql.Tx.
// River's LISTEN/NOTIFY is not available through database/sql, so new
// deliveries are noticed by polling alone (every DefaultFetchPollInterval
// unless outbox.WithFetchPollInterval says otherwise). Close stops it and
// leaves db open.
func NewSQL(db *sql.DB, reg *trigger.Registry, opts ...outbox.Option) (*outbox.Outbox[*sql.Tx], error) {
	return outbox.New(riverdatabasesql.New(db), db, sqlstore.Postgres, reg, defaults(opts)...)
}
