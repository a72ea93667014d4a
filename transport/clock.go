package transport

import (
	"context"
	"time"
)

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

// sleep waits for d on c, or until ctx ends, whichever is first, and returns
// ctx.Err() in the second case.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ClockOption sets the Clock that a transport reads the time from and starts
// its timers with. It is both a MemoryOption and a SyncOption.
type ClockOption struct{ clock Clock }

var (
	_ MemoryOption = ClockOption{}
	_ SyncOption   = ClockOption{}
)

// WithClock makes a Memory or a Sync use c instead of SystemClock; nil means
// SystemClock. Tests pass a manual clock, so that retries fall due when the
// test says rather than after real waits.
func WithClock(c Clock) ClockOption { return ClockOption{clock: c} }

func (o ClockOption) applyMemory(m *Memory) { m.clock = o.clock }
func (o ClockOption) applySync(s *Sync)     { s.clock = o.clock }
