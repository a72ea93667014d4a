package transport

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Sync delivers inline: Send returns when every envelope is delivered or has
// given up, so its Results are final. Envelopes are delivered concurrently, so
// one slow receiver does not delay the others. The zero value is ready to use.
type Sync struct {
	// Sleep waits between attempts; nil means a timer that honours ctx.
	// Tests inject one that records the waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxDefer bounds the total time one delivery waits on Defer outcomes
	// (an open circuit breaker, a rate limit) before it fails; 0 means
	// DefaultMaxDefer.
	MaxDefer time.Duration
}

// DefaultMaxDefer is Sync's default MaxDefer.
const DefaultMaxDefer = time.Minute

// minDefer keeps a Defer without RetryAfter from spinning.
const minDefer = 10 * time.Millisecond

// Send implements Transport.
func (s Sync) Send(ctx context.Context, a Attempter, envs []Envelope) ([]Result, error) {
	results := make([]Result, len(envs))
	if len(envs) == 1 {
		results[0] = s.deliver(ctx, a, envs[0])
		return results, nil
	}
	var wg sync.WaitGroup
	wg.Add(len(envs))
	for i := range envs {
		go func(i int) {
			defer wg.Done()
			results[i] = s.deliver(ctx, a, envs[i])
		}(i)
	}
	wg.Wait()
	return results, nil
}

func (s Sync) deliver(ctx context.Context, a Attempter, env Envelope) Result {
	sleep := s.Sleep
	if sleep == nil {
		sleep = SleepContext
	}
	maxDefer := s.MaxDefer
	if maxDefer <= 0 {
		maxDefer = DefaultMaxDefer
	}
	var deferred time.Duration
	b := a.NewBackOff()
	b.Reset()
	for n := 1; ; n++ {
		at := a.Attempt(ctx, env, n)
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
		if err := sleep(ctx, wait); err != nil {
			return failed(env, at, true, errors.Join(err, at.Err))
		}
	}
}

// SleepContext waits for d or until ctx ends, whichever is first, and returns
// ctx.Err() in the second case.
func SleepContext(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
