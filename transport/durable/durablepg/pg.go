package durablepg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// Defaults chosen by measurement (see the package benchmarks). PostgreSQL
// wakes fetchers through LISTEN/NOTIFY, so the poll interval is a fallback.
const (
	DefaultWorkers       = 64
	DefaultFetchCooldown = 5 * time.Millisecond
)

func defaults(cfg durable.Config) durable.Config {
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = DefaultFetchCooldown
	}
	return cfg
}

// Outbox is a durable.Outbox on a pgxpool.Pool; DispatchTx takes a pgx.Tx.
type Outbox struct {
	*durable.Outbox[pgx.Tx]
	// Pool is the pool given to Open; Close does not close it.
	Pool *pgxpool.Pool
	db   *sql.DB
}

// Open builds an Outbox on pool: River through riverpgxv5, outhook's tables
// through a database/sql view of the same pool. Zero fields of cfg get this
// package's defaults. Call Migrate, then Start; Close when done.
func Open(pool *pgxpool.Pool, reg *trigger.Registry, cfg durable.Config) (*Outbox, error) {
	db := stdlib.OpenDBFromPool(pool)
	o, err := durable.NewOutbox(riverpgxv5.New(pool), db, sqlstore.Postgres, reg, defaults(cfg))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Outbox{Outbox: o, Pool: pool, db: db}, nil
}

// Close stops the client (see durable.Outbox.Close: running attempts get
// until ctx ends, then are cancelled). It leaves the pool open.
func (o *Outbox) Close(ctx context.Context) error {
	return errors.Join(o.Outbox.Close(ctx), o.db.Close())
}

// Redeliver enqueues a finished delivery again with the same delivery ID,
// in a transaction of its own (see durable.Transport.RedeliverTx): of two
// concurrent calls for one delivery, one enqueues it and the other gets
// durable.ErrInProgress.
func (o *Outbox) Redeliver(ctx context.Context, deliveryID uuid.UUID) error {
	tx, err := o.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("durablepg: redeliver %s: begin: %w", deliveryID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := o.Transport.RedeliverTx(ctx, tx, deliveryID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("durablepg: redeliver %s: commit: %w", deliveryID, err)
	}
	return nil
}

// OpenDB builds an Outbox over a *sql.DB connected to PostgreSQL (pgx's
// stdlib or lib/pq) through riverdatabasesql; DispatchTx takes a *sql.Tx.
// Zero fields of cfg get this package's defaults. River's LISTEN/NOTIFY is
// not available through database/sql, so new deliveries are noticed by
// polling (FetchPollInterval, 50 ms unless set). Close stops it and leaves
// db open.
func OpenDB(db *sql.DB, reg *trigger.Registry, cfg durable.Config) (*durable.Outbox[*sql.Tx], error) {
	cfg = defaults(cfg)
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = 50 * time.Millisecond
	}
	return durable.NewOutbox(riverdatabasesql.New(db), db, sqlstore.Postgres, reg, cfg)
}
