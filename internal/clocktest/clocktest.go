// Package clocktest is a manual clock for tests: time moves only when a test
// calls Advance, and timers fire when it passes their deadline.
package clocktest

import (
	"sync"
	"time"

	"github.com/outhook/outhook/transport"
)

// Clock is a transport.Clock whose time moves only on Advance or Set.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced when a timer is added
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
// fires at once.
func (c *Clock) NewTimer(d time.Duration) transport.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.fired = true
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
	return t
}

// Advance moves the clock forward by d and fires the timers due.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires the timers due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if tm.fired {
			continue
		}
		if !tm.at.After(c.now) {
			tm.fired = true
			tm.ch <- c.now
			continue
		}
		keep = append(keep, tm)
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

// Timers returns how many timers are waiting.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.fired {
			n++
		}
	}
	return n
}

// WaitTimers blocks until at least n timers are waiting or done is closed,
// and reports whether they are. Tests call it before Advance, so that the
// code under test has started the wait the Advance should end.
func (c *Clock) WaitTimers(n int, done <-chan struct{}) bool {
	for {
		c.mu.Lock()
		waiting := 0
		for _, t := range c.timers {
			if !t.fired {
				waiting++
			}
		}
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

type timer struct {
	c     *Clock
	at    time.Time
	ch    chan time.Time
	fired bool // guarded by c.mu
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.fired {
		return false
	}
	t.fired = true
	return true
}
