// Package clocktest is a manual clock for tests: time moves only when a test
// says so, and timers fire when it passes their deadline.
//
//	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	s := transport.NewSync(transport.WithClock(clock))
//	go func() { defer close(done); res, _ = s.Send(ctx, a, envs) }()
//	for {
//		d, ok := clock.FireNext(done) // each wait Send starts, in order
//		if !ok {
//			break
//		}
//		waits = append(waits, d)
//	}
package clocktest

import (
	"slices"
	"sync"
	"time"

	"github.com/outhook/outhook/transport"
)

// Clock is a transport.Clock whose time moves only on Advance, Set or
// FireNext. Its zero value is not usable; call New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer      // waiting: neither fired nor stopped
	changed chan struct{} // closed and replaced when a timer starts waiting
}

// New returns a Clock set to start.
func New(start time.Time) *Clock { return &Clock{now: start, changed: make(chan struct{})} }

var _ transport.Clock = (*Clock)(nil)

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once the clock reaches now+d; d <= 0
// fires at once and is never counted as waiting.
func (c *Clock) NewTimer(d time.Duration) transport.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, d: d, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
	return t
}

// Advance moves the clock forward by d and fires the timers due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(c.now.Add(d))
}

// Set moves the clock to t (never backwards) and fires the timers due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

// set does Set's work; c.mu must be held.
func (c *Clock) set(t time.Time) {
	if t.After(c.now) {
		c.now = t
	}
	c.timers = slices.DeleteFunc(c.timers, func(tm *timer) bool {
		if tm.at.After(c.now) {
			return false
		}
		tm.ch <- c.now
		return true
	})
}

// Timers returns how many timers are waiting.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimers blocks until at least n timers are waiting or done is closed,
// and reports whether they are. Tests call it before Advance, so that the
// code under test has started the wait the Advance should end.
func (c *Clock) WaitTimers(n int, done <-chan struct{}) bool {
	for {
		c.mu.Lock()
		waiting := len(c.timers)
		changed := c.changed
		c.mu.Unlock()
		if waiting >= n {
			return true
		}
		select {
		case <-changed:
		case <-done:
			return false
		}
	}
}

// FireNext waits until a timer is waiting, moves the clock to the earliest
// deadline, firing every timer due by then, and returns the duration the
// earliest timer was started with. It returns false, without moving the
// clock, once done is closed. A loop over FireNext runs code that waits on
// the clock as fast as it can, and records its waits in order.
func (c *Clock) FireNext(done <-chan struct{}) (time.Duration, bool) {
	for {
		select {
		case <-done:
			return 0, false
		default:
		}
		if !c.WaitTimers(1, done) {
			return 0, false
		}
		c.mu.Lock()
		if len(c.timers) == 0 { // stopped since WaitTimers looked
			c.mu.Unlock()
			continue
		}
		first := slices.MinFunc(c.timers, func(a, b *timer) int { return a.at.Compare(b.at) })
		c.set(first.at)
		c.mu.Unlock()
		return first.d, true
	}
}

type timer struct {
	c  *Clock
	d  time.Duration
	at time.Time
	ch chan time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.timers, t)
	if i < 0 {
		return false // fired or stopped already
	}
	t.c.timers = slices.Delete(t.c.timers, i, i+1)
	return true
}

// Jumping is a Clock that jumps to each timer's deadline as the timer is
// started, and records the wait: a transport's waits pass at once, and
// whatever reads the clock sees the time they took.
type Jumping struct {
	*Clock
	mu     sync.Mutex
	waited []time.Duration
}

// NewJumping returns a Jumping clock set to start.
func NewJumping(start time.Time) *Jumping { return &Jumping{Clock: New(start)} }

// NewTimer starts a timer, records d and moves the clock past it, so the
// timer has fired when NewTimer returns.
func (c *Jumping) NewTimer(d time.Duration) transport.Timer {
	t := c.Clock.NewTimer(d)
	c.mu.Lock()
	c.waited = append(c.waited, d)
	c.mu.Unlock()
	c.Advance(d)
	return t
}

// Waits returns the durations of the timers started so far, in order.
func (c *Jumping) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waited...)
}
