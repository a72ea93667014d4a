package sqlstore

import (
	"context"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// AttemptsQuery is the query Log.Attempts runs, for the EXPLAIN tests.
func AttemptsQuery(d Dialect, q webhook.AttemptQuery, before int64, limit int) (string, []any) {
	query, args := attemptsQuery(d, q, before, limit)
	return d.rebind(query), args
}

// WriteBatch writes the attempts ats of envs as one batch of the group
// commit, as concurrent RecordAttempt calls would, and returns each row's
// error.
func WriteBatch(l *Log, envs []transport.Envelope, ats []transport.Attempt) []error {
	ps := make([]*pendingAttempt, len(envs))
	for i := range envs {
		ps[i] = &pendingAttempt{done: make(chan struct{}), args: attemptArgs(envs[i], ats[i])}
	}
	errs := make([]error, len(ps))
	conn, err := l.db.Conn(context.Background())
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer conn.Close()
	l.writeRows(context.Background(), conn, ps)
	for i, p := range ps {
		<-p.done
		errs[i] = p.err
	}
	return errs
}

// PendingRows returns how many logged attempts wait for a write.
func PendingRows(l *Log) int {
	l.batcher.mu.Lock()
	defer l.batcher.mu.Unlock()
	return len(l.batcher.pending)
}

// OnWrite makes l call fn with the rows of each statement it writes.
func OnWrite(l *Log, fn func(rows int)) { l.wrote = fn }
