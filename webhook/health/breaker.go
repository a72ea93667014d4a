package health

import (
	"fmt"
	"time"
)

// BreakerState is where an endpoint's circuit breaker stands.
type BreakerState int

// Breaker states.
const (
	// BreakerClosed lets every attempt through.
	BreakerClosed BreakerState = iota
	// BreakerOpen lets nothing through until its OpenFor has passed.
	BreakerOpen
	// BreakerHalfOpen lets Breaker.Probes attempts through: if they all
	// succeed it closes, the first failure opens it again.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// verdict is what an attempt that went through tells the breaker.
type verdict int

const (
	passed   verdict = iota // the receiver answered 2xx
	failed                  // a request was made and failed
	excluded                // no request was made, or our side gave up: says nothing about the endpoint
)

// breaker is a consecutive-failure circuit breaker on an injected clock. It
// is not safe for concurrent use: Monitor.mu guards it.
//
// Every change of state starts a new generation; the result of an attempt
// admitted in an earlier generation is ignored, so a slow request started
// before the breaker opened cannot close it.
type breaker struct {
	state    BreakerState
	gen      uint64
	failures int       // consecutive failures while closed
	until    time.Time // while open: when it turns half-open
	probes   int       // while half-open: probes in flight
	passed   int       // while half-open: probes that succeeded
}

// current moves an open breaker whose time is up to half-open and returns the state.
func (b *breaker) current(now time.Time) BreakerState {
	if b.state == BreakerOpen && !now.Before(b.until) {
		b.to(BreakerHalfOpen)
	}
	return b.state
}

func (b *breaker) to(s BreakerState) {
	b.state = s
	b.gen++
	b.failures, b.probes, b.passed = 0, 0, 0
	b.until = time.Time{}
}

// allow admits an attempt, returning the generation to report it against and
// whether it is a half-open probe; or refuses it with how long to wait.
func (b *breaker) allow(now time.Time, c Breaker) (gen uint64, probe bool, wait time.Duration, ok bool) {
	switch b.current(now) {
	case BreakerOpen:
		return 0, false, b.until.Sub(now), false
	case BreakerHalfOpen:
		if b.probes+b.passed >= c.Probes {
			return 0, false, min(c.OpenFor, probeWait), false
		}
		b.probes++
		return b.gen, true, 0, true
	}
	return b.gen, false, 0, true
}

// done reports the verdict on an attempt allow admitted. It returns true when
// the attempt opened the breaker.
func (b *breaker) done(now time.Time, c Breaker, gen uint64, probe bool, v verdict) (opened bool) {
	b.current(now)
	if gen != b.gen {
		return false
	}
	if probe {
		b.probes--
	}
	switch {
	case v == excluded:
	case b.state == BreakerClosed && v == passed:
		b.failures = 0
	case b.state == BreakerClosed:
		if b.failures++; b.failures >= c.Failures {
			b.open(now, c)
			return true
		}
	case b.state == BreakerHalfOpen && v == passed:
		if b.passed++; b.passed >= c.Probes {
			b.to(BreakerClosed)
		}
	case b.state == BreakerHalfOpen:
		b.open(now, c)
		return true
	}
	return false
}

func (b *breaker) open(now time.Time, c Breaker) {
	b.to(BreakerOpen)
	b.until = now.Add(c.OpenFor)
}

// probeWait is how long an attempt refused by a half-open breaker, whose
// probes are under way, is told to wait (at most Breaker.OpenFor).
const probeWait = time.Second
