package durablesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
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
	// DefaultReaders is the size of the read pool (WAL readers run beside
	// the one writer).
	DefaultReaders = 4
)

// Outbox is a durable.Outbox on one SQLite file.
type Outbox struct {
	*durable.Outbox[*sql.Tx]
	// DB is the database, for the application's own transactions (DispatchTx).
	// It has one connection: SQLite has one writer at a time, and queueing in
	// Go is much faster than SQLite's busy-wait sleeps.
	DB *sql.DB
	// Reader is a read-only pool on the same file for record lookups.
	Reader *sql.DB
	// RescueOnStart makes Start put deliveries left running by a crashed
	// process back in the queue at once, instead of after River's stuck-job
	// timeout. It assumes one process works the file, the embedded case; set
	// it to false when several processes start workers on one SQLite file.
	// Open sets it to true.
	RescueOnStart bool
}

// Start rescues deliveries a crash left running (see RescueOnStart), then
// starts working deliveries.
func (o *Outbox) Start(ctx context.Context) error {
	if o.RescueOnStart {
		// Their attempt may or may not have reached the receiver: at least once.
		_, err := o.DB.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running' AND kind = ?`, durable.Kind)
		if err != nil {
			return fmt.Errorf("durablesqlite: rescue running deliveries: %w", err)
		}
	}
	return o.Outbox.Start(ctx)
}

// OpenDB opens the SQLite file at path with the settings River and outhook
// need: WAL journal, a 10 s busy timeout (for other processes), synchronous=NORMAL
// (in WAL mode a commit survives a process crash), BEGIN IMMEDIATE
// transactions, and a single connection, as riversqlite recommends.
func OpenDB(path string) (*sql.DB, error) {
	db, err := open(path, false)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// OpenReader opens a read-only pool of DefaultReaders connections on the
// SQLite file at path, for reads that must not queue behind the writer.
func OpenReader(path string) (*sql.DB, error) {
	db, err := open(path, true)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(DefaultReaders)
	db.SetMaxIdleConns(DefaultReaders)
	return db, nil
}

func open(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", fileURI(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("durablesqlite: open %s: %w", path, err)
	}
	return db, nil
}

// fileURI makes path an SQLite file: URI, in which '?' would start the
// parameters, '#' a fragment, and '%' an escape.
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Open opens (creating it if needed) the SQLite database at path and builds
// an Outbox on it. Zero fields of cfg get this package's defaults. Call
// Migrate, then Start; Close when done.
func Open(path string, reg *trigger.Registry, cfg durable.Config) (*Outbox, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	// The writer creates the file (and WAL mode) before the reader opens it.
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("durablesqlite: open %s: %w", path, err)
	}
	rdb, err := OpenReader(path)
	if err != nil {
		db.Close()
		return nil, err
	}
	o, err := New(db, rdb, reg, cfg)
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, err
	}
	return o, nil
}

// New builds an Outbox on open SQLite pools of one file: db for River and
// all writes, rdb for record reads (see OpenDB and OpenReader for the
// settings they should have; rdb may be db). Close closes both.
func New(db, rdb *sql.DB, reg *trigger.Registry, cfg durable.Config) (*Outbox, error) {
	if cfg.Store == nil {
		cfg.Store = sqlstore.New(db, sqlstore.SQLite).WithReader(rdb)
	}
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
	// Reads of the log go through the reader, so that an admin page can
	// read it while the app holds the writer in a transaction.
	o.Log = o.Log.WithReader(rdb)
	return &Outbox{Outbox: o, DB: db, Reader: rdb, RescueOnStart: true}, nil
}

// Close stops the client (see durable.Outbox.Close: running attempts get
// until ctx ends, then are cancelled) and closes the database.
func (o *Outbox) Close(ctx context.Context) error {
	err := errors.Join(o.Outbox.Close(ctx), o.DB.Close())
	if o.Reader != o.DB {
		err = errors.Join(err, o.Reader.Close())
	}
	return err
}
