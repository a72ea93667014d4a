package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/riverqueue/river"

	"github.com/outhook/outhook/transport"
)

// ErrRetriesExhausted is the cancellation cause of a delivery whose worker's
// backoff schedule ended before the job's MaxAttempts (the enqueuing process
// had a longer schedule than the working one).
var ErrRetriesExhausted = errors.New("durable: retries exhausted")

// minDefer keeps a Defer without RetryAfter from spinning.
const minDefer = 10 * time.Millisecond

// AttemptRecorder writes the delivery log. sqlstore.Log implements it.
type AttemptRecorder interface {
	RecordAttempt(ctx context.Context, env transport.Envelope, at transport.Attempt) error
}

// Worker works delivery jobs: it is the river.Worker to add to an app's own
// river.Workers with river.AddWorker. Each job is one attempt through the
// Attempter (usually the Dispatcher's webhook.Sender):
//
//   - success completes the job;
//   - a permanent failure (4xx, a deleted or disabled record) cancels it;
//   - a deferral (transport.Defer: an open breaker, a rate limit) snoozes it
//     without counting an attempt;
//   - a retryable failure fails it, to be retried after the Attempter's
//     backoff delay for that attempt or the receiver's Retry-After, whichever
//     is longer; the last allowed attempt leaves it discarded (dead-lettered).
//     The delay is found by replaying a fresh schedule up to the attempt, so
//     a schedule that ends on elapsed time rather than on a retry count runs
//     to MaxAttempts (see DefaultBackOff).
//
// Retry-After goes through NextRetry rather than river.JobSnooze: a snooze
// gives the attempt back (River decrements the attempt count), so a receiver
// answering 429 forever would keep a delivery forever and the log would repeat
// attempt numbers.
type Worker struct {
	river.WorkerDefaults[Args]
	a       transport.Attempter
	rec     AttemptRecorder
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
}

// WorkerOption configures a Worker.
type WorkerOption func(*Worker)

// WithAttemptLog records every attempt in rec.
func WithAttemptLog(rec AttemptRecorder) WorkerOption { return func(w *Worker) { w.rec = rec } }

// WithLogger sets the logger for errors writing the delivery log
// (slog.Default() otherwise).
func WithLogger(l *slog.Logger) WorkerOption { return func(w *Worker) { w.log = l } }

// WithClock sets the clock NextRetry schedules retries from (time.Now
// otherwise).
func WithClock(now func() time.Time) WorkerOption { return func(w *Worker) { w.now = now } }

// WithJobTimeout bounds one job; 0 keeps the client's JobTimeout (1 minute
// by default). It should exceed the Attempter's own attempt timeout.
func WithJobTimeout(d time.Duration) WorkerOption { return func(w *Worker) { w.timeout = d } }

// NewWorker returns a Worker that makes attempts through a.
func NewWorker(a transport.Attempter, opts ...WorkerOption) *Worker {
	w := &Worker{a: a, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(w)
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

// Timeout implements river.Worker.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.timeout }

// Work implements river.Worker: one attempt of the delivery.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	env := job.Args.Envelope()
	n := job.Attempt + job.Args.AttemptOffset
	at := w.a.Attempt(ctx, env, n)
	if at.Outcome == transport.Defer {
		// No request was made (an open circuit breaker, a rate limit): a
		// snooze gives the attempt back, which is what Defer means.
		return river.JobSnooze(max(at.RetryAfter, minDefer))
	}
	if w.rec != nil {
		// The attempt happened even if the job's context ended meanwhile.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := w.rec.RecordAttempt(rctx, env, at); err != nil {
			w.log.ErrorContext(ctx, "webhook attempt not logged", slog.String("delivery_id", env.DeliveryID.String()),
				slog.Int("attempt", n), slog.String("error", err.Error()))
		}
		cancel()
	}
	switch at.Outcome {
	case transport.Success:
		return nil
	case transport.Permanent:
		return river.JobCancel(fmt.Errorf("delivery %s attempt %d: %w", env.DeliveryID, n, at.Err))
	}
	err := fmt.Errorf("delivery %s attempt %d: %w", env.DeliveryID, n, at.Err)
	d := delayAfter(w.a, job.Attempt)
	if d == backoff.Stop {
		if job.Attempt >= job.MaxAttempts {
			return err // River discards the job: dead-lettered.
		}
		return river.JobCancel(fmt.Errorf("%w: %w", ErrRetriesExhausted, err))
	}
	// NextRetry reads the delay from the same *river.Job: River passes the
	// job it worked to NextRetry (TestWorkAndNextRetryShareTheJob fails
	// loudly if an upgrade stops doing so).
	job.Args.next = max(d, at.RetryAfter)
	return err
}

// NextRetry implements river.Worker with the Attempter's backoff schedule,
// stretched to the receiver's Retry-After.
func (w *Worker) NextRetry(job *river.Job[Args]) time.Time {
	d := job.Args.next
	if d <= 0 {
		if d = delayAfter(w.a, job.Attempt); d == backoff.Stop {
			return time.Time{} // River's default policy; Work has decided already.
		}
	}
	return w.now().Add(d)
}

// delayAfter returns the wait after attempt n (from 1) in a's schedule, or
// backoff.Stop when n was the last attempt.
func delayAfter(a transport.Attempter, n int) time.Duration {
	b := a.NewBackOff()
	b.Reset()
	d := backoff.Stop
	for i := 0; i < n; i++ {
		if d = b.NextBackOff(); d == backoff.Stop {
			return d
		}
	}
	return d
}

// maxAttempts counts the attempts a's schedule allows, at most MaxAttempts.
func maxAttempts(a transport.Attempter) int {
	b := a.NewBackOff()
	b.Reset()
	n := 1
	for n < MaxAttempts && b.NextBackOff() != backoff.Stop {
		n++
	}
	return n
}
