package clocktest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func fired(tm interface{ C() <-chan time.Time }) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestAdvanceFiresDueTimers(t *testing.T) {
	c := clocktest.New(t0)
	early, late := c.NewTimer(time.Second), c.NewTimer(time.Minute)
	assert.Equal(t, 2, c.Timers())

	c.Advance(999 * time.Millisecond)
	_, ok := fired(early)
	assert.False(t, ok, "not due yet")

	c.Advance(time.Millisecond)
	at, ok := fired(early)
	require.True(t, ok)
	assert.Equal(t, t0.Add(time.Second), at)
	assert.Equal(t, 1, c.Timers())
	assert.False(t, early.Stop(), "a fired timer cannot be stopped")

	c.Set(t0) // never backwards
	assert.Equal(t, t0.Add(time.Second), c.Now())
	c.Set(t0.Add(time.Hour))
	at, ok = fired(late)
	require.True(t, ok)
	assert.Equal(t, t0.Add(time.Hour), at, "a timer receives the clock's time when it fires")
	assert.Zero(t, c.Timers())
}

func TestNonPositiveTimerFiresAtOnce(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		c := clocktest.New(t0)
		at, ok := fired(c.NewTimer(d))
		require.True(t, ok, "%v", d)
		assert.Equal(t, t0, at)
		assert.Zero(t, c.Timers())
	}
}

func TestStop(t *testing.T) {
	c := clocktest.New(t0)
	tm := c.NewTimer(time.Second)
	assert.True(t, tm.Stop())
	assert.False(t, tm.Stop(), "stopped already")
	assert.Zero(t, c.Timers())
	c.Advance(time.Hour)
	_, ok := fired(tm)
	assert.False(t, ok, "a stopped timer never fires")
}

func TestWaitTimers(t *testing.T) {
	c := clocktest.New(t0)
	done := make(chan struct{})
	close(done)
	assert.False(t, c.WaitTimers(1, done), "done before any timer")
	assert.True(t, c.WaitTimers(0, nil))

	waited := make(chan bool)
	go func() { waited <- c.WaitTimers(2, nil) }()
	c.NewTimer(time.Second)
	c.NewTimer(time.Second)
	assert.True(t, <-waited)
}

func TestFireNext(t *testing.T) {
	c := clocktest.New(t0)
	done := make(chan struct{})
	waits := make(chan []time.Duration)
	go func() {
		var got []time.Duration
		for {
			d, ok := c.FireNext(done)
			if !ok {
				waits <- got
				return
			}
			got = append(got, d)
		}
	}()
	// Code under test: waits of 3s, then 1s; the second starts after the
	// first fired, so the clock has moved in between.
	<-c.NewTimer(3 * time.Second).C()
	assert.Equal(t, t0.Add(3*time.Second), c.Now())
	<-c.NewTimer(time.Second).C()
	assert.Equal(t, t0.Add(4*time.Second), c.Now())
	close(done)
	assert.Equal(t, []time.Duration{3 * time.Second, time.Second}, <-waits)
}

func TestFireNextEarliestFirst(t *testing.T) {
	c := clocktest.New(t0)
	late, early := c.NewTimer(time.Minute), c.NewTimer(time.Second)
	d, ok := c.FireNext(nil)
	require.True(t, ok)
	assert.Equal(t, time.Second, d)
	_, ok = fired(early)
	assert.True(t, ok)
	_, ok = fired(late)
	assert.False(t, ok)
	assert.Equal(t, t0.Add(time.Second), c.Now())

	done := make(chan struct{})
	close(done)
	_, ok = c.FireNext(done)
	assert.False(t, ok, "done wins over waiting timers")
	assert.Equal(t, 1, c.Timers())
}
