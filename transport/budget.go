package transport

import (
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
