package transport

import "time"

// Clock tells the time and starts timers. Transports and attempt middleware
// take one where their timing lives (the Memory delay queue, Sync's waits, a
// health monitor's rate-limit wait), so that tests drive time instead of
// sleeping. A nil Clock means SystemClock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a Timer that fires once, after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer started by a Clock.
type Timer interface {
	// C receives the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}

// SystemClock is the Clock of package time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer starts a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// clockOr returns c, or SystemClock when c is nil.
func clockOr(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}
