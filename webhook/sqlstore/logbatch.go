package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"
)

// DefaultLogBatch is the most attempts one write of a Log holds
// (WithLogBatch).
const DefaultLogBatch = 64

// logWriteTimeout bounds one write of the delivery log that several
// RecordAttempt calls share: none of their contexts may cut it short.
const logWriteTimeout = 10 * time.Second

// WithLogBatch sets how many attempts, logged by concurrent RecordAttempt
// calls, a Log writes with one INSERT statement (DefaultLogBatch otherwise);
// n <= 1 writes every attempt with a statement of its own.
//
// Batching is a group commit, not a write-behind buffer: RecordAttempt
// returns only once its row is committed, so a crash loses no attempt whose
// RecordAttempt returned, exactly as without batching. An attempt logged
// while no write is running is written at once; those logged during a
// write wait for it and go together in the next, and so do those logged
// while a write waits for its connection (SQLite's one writer, which
// River's own writes hold most of the time): batches form only under load
// and cost no added delay.
func WithLogBatch(n int) LogOption { return logOption(func(l *Log) { l.batch = max(n, 1) }) }

type logOption func(*Log)

func (o logOption) applyLog(l *Log) { o(l) }

// pendingAttempt is one RecordAttempt's row waiting for its write.
type pendingAttempt struct {
	args []any // insertAttempt's values
	err  error
	done chan struct{}
}

// batcher groups the rows of concurrent RecordAttempt calls.
type batcher struct {
	mu       sync.Mutex
	pending  []*pendingAttempt
	flushing bool // a flush goroutine runs
}

// enqueue adds p to the next write, starting the flush goroutine if none
// runs.
func (l *Log) enqueue(p *pendingAttempt) {
	b := &l.batcher
	b.mu.Lock()
	b.pending = append(b.pending, p)
	start := !b.flushing
	b.flushing = true
	b.mu.Unlock()
	if start {
		go l.flush()
	}
}

// flush writes the pending rows, up to l.batch a statement, until none is
// left. It takes a connection first and the rows once it has one: on
// SQLite, whose one writer connection River's inserts and completions
// hold most of the time, the rows logged while it waits join the write
// instead of needing one more transaction (and disk flush) each.
func (l *Log) flush() {
	b := &l.batcher
	for {
		ctx, cancel := context.WithTimeout(context.Background(), logWriteTimeout)
		conn, cerr := l.db.Conn(ctx)
		b.mu.Lock()
		n := min(len(b.pending), l.batch)
		if n == 0 {
			b.flushing = false
			b.pending = nil
			b.mu.Unlock()
			if cerr == nil {
				conn.Close()
			}
			cancel()
			return
		}
		rows := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		if cerr != nil {
			for _, r := range rows {
				r.err = cerr
				close(r.done)
			}
		} else {
			l.writeRows(ctx, conn, rows)
			conn.Close()
		}
		cancel()
	}
}

// writeRows inserts rows in one statement on conn and tells each its
// result. If the statement fails, each row is written alone, so that one
// row's error is its own.
func (l *Log) writeRows(ctx context.Context, conn *sql.Conn, rows []*pendingAttempt) {
	if l.wrote != nil {
		l.wrote(len(rows))
	}
	var err error
	if len(rows) > 1 {
		args := make([]any, 0, len(rows)*attemptValues)
		for _, r := range rows {
			args = append(args, r.args...)
		}
		_, err = conn.ExecContext(ctx, l.insertStatement(len(rows)), args...)
	}
	for _, r := range rows {
		if len(rows) == 1 || err != nil {
			_, r.err = conn.ExecContext(ctx, l.insertStatement(1), r.args...)
		}
		close(r.done)
	}
}

// attemptValues is how many values one row of insertStatement takes.
const attemptValues = 11

// insertStatement returns the INSERT of n attempt rows.
func (l *Log) insertStatement(n int) string {
	if n == 1 && l.insert1 != "" {
		return l.insert1
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO outhook_attempt
	(delivery_id, webhook_id, trigger_id, attempt, start_us, duration_us, status_code, outcome, error, excerpt, tenant)
	VALUES `)
	row := "(" + placeholders(attemptValues) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return l.d.rebind(b.String())
}
