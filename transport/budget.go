package transport

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// ElapsedLimiter is implemented by a back-off that gives up once a delivery
// has run for MaxElapsedTime, as *backoff.ExponentialBackOff does (and
// LimitAttempts' result when it wraps one). Sync reads it to bound a
// delivery's total time, attempts included; 0 means no bound.
type ElapsedLimiter interface {
	MaxElapsedTime() time.Duration
}

// BudgetAttempter is an Attempter that bounds an attempt by the rest of a
// delivery's time budget itself. Sync bounds each attempt of a back-off with
// a MaxElapsedTime by a context of its own; an Attempter that also bounds
// its attempts by a timeout of its own (the webhook Sender does) can fold
// both into one deadline, the earlier of the two, and save a context per
// attempt. Sync uses AttemptWithin when its Attempter has it.
type BudgetAttempter interface {
	Attempter
	// AttemptWithin is Attempt with the attempt, and all that precedes it
	// (middleware's waits included), cut off after left: the context the
	// attempt sees then ends with context.Cause ErrBudgetExceeded. It
	// reports whether that happened.
	AttemptWithin(ctx context.Context, env Envelope, n int, left time.Duration) (at Attempt, cut bool)
}

// LimitAttempts returns b stopped after maxAttempts attempts in all (the
// first one and maxAttempts-1 retries), like backoff.WithMaxRetries, but
// keeping b's MaxElapsedTime visible to Sync (see ElapsedLimiter), which
// backoff.WithMaxRetries hides.
func LimitAttempts(b backoff.BackOff, maxAttempts int) backoff.BackOff {
	return &limitedBackOff{b: b, max: max(maxAttempts-1, 0)}
}

type limitedBackOff struct {
	b       backoff.BackOff
	max     int
	retries int
}

func (l *limitedBackOff) NextBackOff() time.Duration {
	if l.retries >= l.max {
		return backoff.Stop
	}
	l.retries++
	return l.b.NextBackOff()
}

func (l *limitedBackOff) Reset() {
	l.retries = 0
	l.b.Reset()
}

func (l *limitedBackOff) MaxElapsedTime() time.Duration { return maxElapsed(l.b) }

// maxElapsed returns b's bound on a delivery's total time, or 0.
func maxElapsed(b backoff.BackOff) time.Duration {
	switch b := b.(type) {
	case *backoff.ExponentialBackOff:
		return b.MaxElapsedTime
	case ElapsedLimiter:
		return b.MaxElapsedTime()
	}
	return 0
}
