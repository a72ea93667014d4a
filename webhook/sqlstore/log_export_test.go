package sqlstore

import (
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
	l.writeRows(ps)
	errs := make([]error, len(ps))
	for i, p := range ps {
		<-p.done
		errs[i] = p.err
	}
	return errs
}
