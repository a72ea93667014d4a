package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Sync delivers inline: Send returns when every envelope is delivered or has
// given up, so its Results are final. Envelopes are delivered concurrently, so
// one slow receiver does not delay the others. The zero value is ready to use
// and equals NewSync().
//
// Sync has no workers to share: each Send (each Dispatch) makes its attempts
// in its caller's goroutine and, for several envelopes, in at most
// WithMaxConcurrency-1 more (DefaultMaxConcurrency), each taking the next
// envelope not yet started; a trigger with 10,000 records does not open
// 10,000 connections at once. A hung endpoint holds only the Dispatch calls
// that address it, so Memory's per-endpoint share (WithPerEndpoint) has no
// counterpart here; bound the caller's wait with its context.
type Sync struct {
	clock          Clock         // nil: SystemClock
	maxDefer       time.Duration // <= 0: DefaultMaxDefer
	maxConcurrency int           // <= 0: DefaultMaxConcurrency
}

// SyncOption configures NewSync. WithClock is one too.
type SyncOption interface{ applySync(*Sync) }

type syncOption func(*Sync)

func (o syncOption) applySync(s *Sync) { o(s) }

// WithMaxDefer bounds the total time one delivery waits on Defer outcomes (an
// open circuit breaker, a rate limit) before it fails; d <= 0 means
// DefaultMaxDefer.
func WithMaxDefer(d time.Duration) SyncOption { return syncOption(func(s *Sync) { s.maxDefer = d }) }

// DefaultMaxDefer is Sync's bound on deferrals when WithMaxDefer is not given.
const DefaultMaxDefer = time.Minute

// WithMaxConcurrency bounds how many deliveries of one Send (one Dispatch)
// are under way at once; n <= 0 means DefaultMaxConcurrency. The others wait
// for a free slot, in order. The back-off's MaxElapsedTime still counts from
// the start of Send for every delivery, so a Dispatch still ends within it:
// a delivery whose turn comes after it fails, retryably, without an attempt
// (ErrBudgetExceeded).
func WithMaxConcurrency(n int) SyncOption {
	return syncOption(func(s *Sync) { s.maxConcurrency = n })
}

// DefaultMaxConcurrency is how many deliveries of one Sync Send are under
// way at once when WithMaxConcurrency is not given.
const DefaultMaxConcurrency = 64

// Concurrency reports how many deliveries of one Send are under way at most
// (WithMaxConcurrency): what a client's idle connection pool should hold so
// that no connection of one Dispatch is dropped and dialed again.
func (s Sync) Concurrency() int {
	if s.maxConcurrency <= 0 {
		return DefaultMaxConcurrency
	}
	return s.maxConcurrency
}

// minDefer keeps a Defer without RetryAfter from spinning.
const minDefer = 10 * time.Millisecond

// NewSync returns a Sync configured by opts. It returns a value, like the
// zero Sync it extends: a Sync holds no state between calls.
func NewSync(opts ...SyncOption) Sync {
	var s Sync
	for _, o := range opts {
		o.applySync(&s)
	}
	return s
}

// Send implements Transport.
func (s Sync) Send(ctx context.Context, a Attempter, envs []Envelope) ([]Result, error) {
	results := make([]Result, len(envs))
	start := clockOr(s.clock).Now()
	if len(envs) == 1 {
		results[0] = s.deliver(ctx, a, envs[0], start, start)
		return results, nil
	}
	s.fanOut(ctx, a, envs, results, start)
	return results, nil
}

// fanOut delivers envs into results with at most maxConcurrency workers,
// the caller's goroutine one of them.
func (s Sync) fanOut(ctx context.Context, a Attempter, envs []Envelope, results []Result, start time.Time) {
	workers := s.maxConcurrency
	if workers <= 0 {
		workers = DefaultMaxConcurrency
	}
	workers = min(workers, len(envs))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	work := func() {
		defer wg.Done()
		for i := int(next.Add(1) - 1); i < len(envs); i = int(next.Add(1) - 1) {
			results[i] = s.deliver(ctx, a, envs[i], start, clockOr(s.clock).Now())
		}
	}
	wg.Add(workers)
	for w := 1; w < workers; w++ {
		go work()
	}
	if workers > 0 {
		work()
	}
	wg.Wait()
}

// deliver makes env's attempts; its time budget counts from start, when
// Send began, and now is the time its turn came.
func (s Sync) deliver(ctx context.Context, a Attempter, env Envelope, start, now time.Time) Result {
	clock := clockOr(s.clock)
	maxDefer := s.maxDefer
	if maxDefer <= 0 {
		maxDefer = DefaultMaxDefer
	}
	var deferred time.Duration
	b := a.NewBackOff()
	b.Reset()
	budget := maxElapsed(b)
	deadline := start.Add(budget)
	first := max(env.AttemptOffset, 0) + 1
	if budget > 0 && !now.Before(deadline) {
		// Its turn came after the budget (WithMaxConcurrency): no attempt.
		return failed(env, Attempt{Number: first - 1}, true, fmt.Errorf(
			"%w: the delivery waited for a free slot past the back-off's MaxElapsedTime of %s", ErrBudgetExceeded, budget))
	}
	for n := first; ; n++ {
		at := s.attempt(ctx, a, env, n, now, budget, deadline)
		var wait time.Duration
		switch at.Outcome {
		case Success:
			return Result{DeliveryID: env.DeliveryID, Status: StatusDelivered, Attempts: n, Last: at}
		case Permanent:
			return failed(env, at, false, nil)
		case Defer:
			n-- // no request was made
			wait = max(at.RetryAfter, minDefer)
			if deferred += wait; deferred > maxDefer {
				at.Number = n
				return failed(env, at, true, nil)
			}
		default:
			if wait = b.NextBackOff(); wait == backoff.Stop {
				return failed(env, at, true, nil)
			}
		}
		if at.RetryAfter > wait {
			wait = at.RetryAfter
		}
		if budget > 0 && !clock.Now().Add(wait).Before(deadline) {
			// Waiting would cross the budget: end now, still retryable.
			at.Number = n // a deferral made no attempt
			err := at.Err
			if !errors.Is(err, ErrBudgetExceeded) {
				err = fmt.Errorf("%w: the next attempt, in %s, would pass the back-off's MaxElapsedTime of %s; last attempt: %w",
					ErrBudgetExceeded, wait.Round(time.Millisecond), budget, at.Err)
			}
			return failed(env, at, true, err)
		}
		if err := sleep(ctx, clock, wait); err != nil {
			// One line: the context's error, then the last attempt's.
			return failed(env, at, true, fmt.Errorf("%w; last attempt: %w", err, at.Err))
		}
		now = clock.Now()
	}
}

// ErrBudgetExceeded is the error of a Sync delivery that ended because its
// next retry, or the rest of an attempt, would have run past the back-off's
// MaxElapsedTime (see ElapsedLimiter). The delivery failed, but retryably.
var ErrBudgetExceeded = errors.New("transport: delivery time budget exhausted")

// attempt makes attempt n at now, bounded by the delivery's deadline when
// the back-off has a budget: an attempt cannot outlast MaxElapsedTime
// either.
func (s Sync) attempt(ctx context.Context, a Attempter, env Envelope, n int, now time.Time, budget time.Duration, deadline time.Time) Attempt {
	if budget <= 0 {
		return a.Attempt(ctx, env, n)
	}
	left := deadline.Sub(now)
	var (
		at  Attempt
		cut bool
	)
	if ba, ok := a.(BudgetAttempter); ok {
		at, cut = ba.AttemptWithin(ctx, env, n, left)
	} else {
		actx, cancel := context.WithTimeoutCause(ctx, left, ErrBudgetExceeded)
		at = a.Attempt(actx, env, n)
		cut = errors.Is(context.Cause(actx), ErrBudgetExceeded)
		cancel()
	}
	if at.Outcome != Success && ctx.Err() == nil && cut {
		at.Err = fmt.Errorf("%w: the back-off's MaxElapsedTime of %s ran out during the attempt: %w", ErrBudgetExceeded, budget, at.Err)
	}
	return at
}
