package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps the prepared statements of a Store's hot reads (Get and
// ListActive) on one pool. It is used on SQLite only: modernc.org/sqlite
// parses and plans every statement it is given again, which costs about as
// much as running a one-row read, whereas pgx's database/sql driver already
// keeps a prepared statement per connection (and outboxpg's pool view keeps
// no idle database/sql connection that a sql.Stmt could stay prepared on).
type stmtCache struct {
	db    *sql.DB
	on    bool
	stmts sync.Map // query → *sql.Stmt
	mu    sync.Mutex
	n     int // statements in stmts
}

// maxCachedStmts bounds the statements kept: one Get, and ListActive for up
// to a few distinct channels (the query's shape grows with their number).
const maxCachedStmts = 16

func newStmtCache(db *sql.DB, d Dialect) *stmtCache { return &stmtCache{db: db, on: !d.dollar} }

// stmt returns the prepared statement of q, or nil when it cannot keep one:
// the cache is full or off, or preparing failed (the tables may not exist
// yet; the caller's query then reports why).
func (c *stmtCache) stmt(ctx context.Context, q string) *sql.Stmt {
	if !c.on {
		return nil
	}
	if st, ok := c.stmts.Load(q); ok {
		return st.(*sql.Stmt)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts.Load(q); ok {
		return st.(*sql.Stmt)
	}
	if c.n >= maxCachedStmts {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.stmts.Store(q, st)
	c.n++
	return st
}

// query runs q with args, prepared when the cache keeps it.
func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, q, args...)
}

// queryRow runs q with args, prepared when the cache keeps it.
func (c *stmtCache) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := c.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}
