package durable

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// DefaultMaxAttempts is how many attempts DefaultBackOff allows a delivery.
const DefaultMaxAttempts = 25

// DefaultBackOff is the retry schedule of the outbox (webhook/outbox) when
// its sender options do not set webhook.WithBackOff: exponential from
// 15 s, doubling, ±20 % jitter, at most 4 hours between attempts, at most
// DefaultMaxAttempts attempts, which spreads a delivery over about two and a
// half days. That outlasts a receiver's deploy, outage or weekend, which
// webhook.DefaultBackOff (one minute, meant for inline delivery) does not.
//
// A durable transport replays the schedule from its start for every
// attempt, as if no time had passed, so a BackOff that stops on elapsed
// time (ExponentialBackOff.MaxElapsedTime) never stops here: bound the
// number of attempts with backoff.WithMaxRetries instead, as this one does.
func DefaultBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 15 * time.Second
	b.Multiplier = 2
	b.RandomizationFactor = 0.2
	b.MaxInterval = 4 * time.Hour
	b.MaxElapsedTime = 0 // the attempt count bounds it; see above
	return backoff.WithMaxRetries(b, DefaultMaxAttempts-1)
}
