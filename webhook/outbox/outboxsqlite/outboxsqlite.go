package outboxsqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
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

// Outbox is an outbox.Outbox on one SQLite file, or on one in-memory
// database (Open with ":memory:" or "").
type Outbox struct {
	*outbox.Outbox[*sql.Tx]
	db, reader *sql.DB
	// keep holds an in-memory database open while the pool's connection
	// may be replaced.
	keep *sql.DB
}

// ErrInMemoryTx is returned by DispatchTx on an in-memory Outbox (Open with
// ":memory:" or ""): its one connection is the application's transaction,
// so the records to dispatch to could not be read until the transaction
// ends. Use a file for transactional dispatch, or Dispatch.
var ErrInMemoryTx = errors.New("outboxsqlite: DispatchTx needs a database file: an in-memory outbox has one connection, held by the transaction")

// DispatchTx is outbox.Outbox's DispatchTx; on an in-memory Outbox it
// returns ErrInMemoryTx at once instead of waiting for itself.
func (o *Outbox) DispatchTx(ctx context.Context, tx *sql.Tx, msg trigger.Message, opts ...webhook.DispatchOption) ([]webhook.Delivery, error) {
	if o.keep != nil {
		return nil, ErrInMemoryTx
	}
	return o.Outbox.DispatchTx(ctx, tx, msg, opts...)
}

// DB returns the database, for the application's own transactions
// (DispatchTx). It has one connection: SQLite has one writer at a time, and
// queueing in Go is much faster than SQLite's busy-wait sleeps.
func (o *Outbox) DB() *sql.DB { return o.db }

// Reader returns a read-only pool on the same file, for reads that must not
// queue behind the writer.
func (o *Outbox) Reader() *sql.DB { return o.reader }

// OpenWriter opens the SQLite file at path with the settings River and
// outhook need: WAL journal, a 10 s busy timeout (for other processes),
// synchronous=NORMAL (in WAL mode a commit survives a process crash), BEGIN
// IMMEDIATE transactions, and a single connection, as riversqlite recommends.
// Like Open, it refuses a path whose directory does not exist.
func OpenWriter(path string) (*sql.DB, error) {
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
	// SQLite would say only "unable to open database file", at first use.
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("outboxsqlite: open %s: directory %s does not exist: %w", path, dir, fs.ErrNotExist)
		}
	}
	return openURI(path, fileURI(path), readOnly)
}

// openURI opens the SQLite file: URI uri (without parameters), path in
// errors.
func openURI(path, uri string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	db, err := sql.Open("sqlite", uri+sep+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("outboxsqlite: open %s: %w", path, err)
	}
	return db, nil
}

// fileURI makes path an SQLite file: URI, in which '?' would start the
// parameters, '#' a fragment, and '%' an escape.
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Open opens (creating it if needed) the SQLite database at path and builds
// an Outbox on it, with this package's defaults (DefaultWorkers,
// DefaultFetchCooldown, DefaultFetchPollInterval, rescue on start, a
// cache of records and routes: outbox.WithCache) before
// opts. Call Migrate, then Start; Close when done. The directory of path must
// exist: if it does not, the error says so and matches fs.ErrNotExist.
//
// A path of ":memory:" or "" opens a new in-memory database instead, private
// to this Outbox and gone when it is closed: for tests and demos, since its
// deliveries do not survive the process. It has one connection, so its
// reads (Reader is DB) wait while the app holds a transaction, and
// DispatchTx returns ErrInMemoryTx.
func Open(path string, reg *trigger.Registry, opts ...outbox.Option) (*Outbox, error) {
	if path == "" || path == ":memory:" {
		return openMemory(reg, opts)
	}
	db, err := OpenWriter(path)
	if err != nil {
		return nil, err
	}
	// The writer creates the file (and WAL mode) before the reader opens it.
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("outboxsqlite: open %s: %w", path, err)
	}
	rdb, err := OpenReader(path)
	if err != nil {
		db.Close()
		return nil, err
	}
	o, err := New(db, rdb, reg, opts...)
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, err
	}
	return o, nil
}

// openMemory opens an Outbox on a new in-memory database. SQLite's memdb
// VFS shares a database named with a leading '/' between the connections of
// the process; keep holds one connection so that the database outlives any
// connection the writer's pool replaces. Readers of a memdb database wait
// for the writer's transactions, so the writer serves reads too.
func openMemory(reg *trigger.Registry, opts []outbox.Option) (*Outbox, error) {
	const path = ":memory:"
	uri := "file:/outhook-" + rand.Text() + "?vfs=memdb"
	keep, err := openURI(path, uri, true)
	if err != nil {
		return nil, err
	}
	keep.SetMaxOpenConns(1)
	db, err := openURI(path, uri, false)
	if err != nil {
		keep.Close()
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := errors.Join(keep.Ping(), db.Ping()); err != nil {
		keep.Close()
		db.Close()
		return nil, fmt.Errorf("outboxsqlite: open %s: %w", path, err)
	}
	o, err := New(db, db, reg, opts...)
	if err != nil {
		keep.Close()
		db.Close()
		return nil, err
	}
	o.keep = keep
	return o, nil
}

// New builds an Outbox on open SQLite pools of one file: db for River and
// all writes, rdb for record and log reads (see OpenWriter and OpenReader
// for the settings they should have; rdb may be db), with this package's
// defaults before opts. Close closes both.
func New(db, rdb *sql.DB, reg *trigger.Registry, opts ...outbox.Option) (*Outbox, error) {
	// Reads of records and of the log go through the reader, so that an
	// admin page can read while the app holds the writer in a transaction.
	defaults := []outbox.Option{
		outbox.WithReader(rdb),
		outbox.WithWorkers(DefaultWorkers),
		outbox.WithFetchCooldown(DefaultFetchCooldown),
		outbox.WithFetchPollInterval(DefaultFetchPollInterval),
		// One process works an embedded file: a delivery left running was
		// left by a crash of this very app.
		outbox.WithRescueOnStart(true),
		// Exact on SQLite: the cache reads the database's change count
		// before it serves anything (see sqlstore.Cache).
		outbox.WithCache(sqlstore.DefaultCacheTTL),
	}
	o, err := outbox.New(riversqlite.New(db), db, sqlstore.SQLite, reg, append(defaults, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Outbox{Outbox: o, db: db, reader: rdb}, nil
}

// Close stops the client (see outbox.Outbox.Close: running attempts get
// until ctx ends, then are cancelled) and closes the database. After Close,
// the Outbox's methods return outbox.ErrClosed.
func (o *Outbox) Close(ctx context.Context) error {
	err := o.Outbox.Close(ctx)
	if errors.Is(err, outbox.ErrClosed) {
		return err
	}
	err = errors.Join(err, o.db.Close())
	if o.reader != o.db {
		err = errors.Join(err, o.reader.Close())
	}
	if o.keep != nil {
		err = errors.Join(err, o.keep.Close())
	}
	return err
}
