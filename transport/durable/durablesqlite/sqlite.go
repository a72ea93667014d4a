package durablesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// Defaults chosen by measurement (see the package benchmarks): River's
// defaults fetch at most MaxWorkers jobs per 100 ms cooldown and, without
// LISTEN/NOTIFY in SQLite, notice new jobs only every second.
const (
	DefaultWorkers           = 64
	DefaultFetchCooldown     = 5 * time.Millisecond
	DefaultFetchPollInterval = 50 * time.Millisecond
	// DefaultMaxOpenConns bounds the pool: SQLite has one writer at a time,
	// and a few readers in WAL mode.
	DefaultMaxOpenConns = 4
)

// Outbox is a durable.Outbox on one SQLite file.
type Outbox struct {
	*durable.Outbox[*sql.Tx]
	// DB is the database, for the application's own transactions (DispatchTx).
	DB *sql.DB
}

// OpenDB opens the SQLite file at path with the settings River and outhook
// need: WAL journal, a 10 s busy timeout, synchronous=NORMAL (durable in WAL
// across process crashes), foreign keys, and BEGIN IMMEDIATE transactions so
// that concurrent writers wait instead of failing with SQLITE_BUSY.
func OpenDB(path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("durablesqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(DefaultMaxOpenConns)
	db.SetMaxIdleConns(DefaultMaxOpenConns)
	return db, nil
}

// Open opens (creating it if needed) the SQLite database at path and builds
// an Outbox on it. Zero fields of cfg get this package's defaults. Call
// Migrate, then Start; Close when done.
func Open(path string, reg *trigger.Registry, cfg durable.Config) (*Outbox, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	o, err := New(db, reg, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	return o, nil
}

// New builds an Outbox on an open SQLite database (see OpenDB for the
// settings it should have). Close closes db.
func New(db *sql.DB, reg *trigger.Registry, cfg durable.Config) (*Outbox, error) {
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = DefaultFetchCooldown
	}
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = DefaultFetchPollInterval
	}
	o, err := durable.NewOutbox(riversqlite.New(db), db, sqlstore.SQLite, reg, cfg)
	if err != nil {
		return nil, err
	}
	return &Outbox{Outbox: o, DB: db}, nil
}

// Close stops the client (waiting for running attempts until ctx ends) and
// closes the database.
func (o *Outbox) Close(ctx context.Context) error {
	return errors.Join(o.Stop(ctx), o.DB.Close())
}
