package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/outhook/outhook/transport"
)

// ErrRetriesExhausted is the cancellation cause of a delivery whose worker's
// backoff schedule ended before the job's MaxAttempts (the enqueuing process
// had a longer schedule than the working one).
var ErrRetriesExhausted = errors.New("durable: retries exhausted")

// ErrInterrupted marks, in the delivery log, an attempt that the River client
// cut short when it stopped (Stop, Close, the end of Start's context). The
// request may or may not have reached the receiver. Such an attempt does not
// count against the job's MaxAttempts, but it keeps its number in the log:
// the next attempt of the delivery has the next number.
var ErrInterrupted = errors.New("interrupted: the worker stopped during the attempt")

// minDefer keeps a Defer without RetryAfter from spinning.
const minDefer = 10 * time.Millisecond

// A delivery whose record already holds its share of the workers waits about
// as long as the record's attempts take (their moving average, or the age of
// the youngest one in flight if that is longer: a receiver that hangs), at
// least fairShareMinWait and at most fairShareMaxWait; each wait is drawn
// between half and one and a half times that, so that waiting deliveries do
// not come back together. A hung receiver's backlog then costs the database
// a few snoozes a second, not one per fetch.
const (
	fairShareMinWait = 100 * time.Millisecond
	fairShareMaxWait = 30 * time.Second
)

// assumedQueueWorkers is the Queue's worker count a Worker assumes when
// WithQueueWorkers does not give it (outbox.DefaultWorkers).
const assumedQueueWorkers = 16

// metaInterrupted is the job metadata key counting the attempts of the job
// that the client interrupted (River gives those attempts back).
const metaInterrupted = "outhook_interrupted"

// hookTimeout bounds the delivery log write and the dead-letter function.
const hookTimeout = 10 * time.Second

// AttemptRecorder writes the delivery log. sqlstore.Log implements it.
type AttemptRecorder interface {
	RecordAttempt(ctx context.Context, env transport.Envelope, at transport.Attempt) error
}

// FairShare is the default most attempts one webhook record may have in
// flight in one process whose Queue has workers workers: a quarter of them,
// at least one. A receiver that hangs then holds at most a quarter of the
// workers, and the other records share the rest.
func FairShare(workers int) int { return max(1, workers/4) }

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
//     to MaxAttempts (see DefaultBackOff);
//   - an attempt cut short because the client stopped is logged as
//     interrupted (ErrInterrupted) and the job goes back to the queue without
//     counting it against MaxAttempts; the next attempt has the next number.
//
// Fair share: no webhook record may have more than its share of attempts in
// flight in this process (FairShare of the Queue's workers unless
// WithPerEndpoint says otherwise). A job of a record that already holds its
// share is snoozed before any request, for about as long as the record's
// attempts take (from 0.1 s to 30 s, with jitter; a hung receiver's
// attempts count as long as they have been running): no attempt is counted
// and no log row is written. So a receiver that hangs cannot take every
// worker, and the other records' deliveries are sent meanwhile. With one
// record only, deliveries go out on its share of the workers.
//
// Retry-After goes through NextRetry rather than river.JobSnooze: a snooze
// gives the attempt back (River decrements the attempt count), so a receiver
// answering 429 forever would keep a delivery forever and the log would repeat
// attempt numbers.
type Worker struct {
	river.WorkerDefaults[Args]
	a            transport.Attempter
	rec          AttemptRecorder
	log          *slog.Logger
	timeout      time.Duration
	now          func() time.Time
	queueWorkers int
	perEndpoint  int // after NewWorker: the limit, or <= 0 for none
	perSet       bool
	onDeadLetter func(context.Context, transport.Envelope, transport.Result)

	mu       sync.Mutex
	inflight map[uuid.UUID]*recordLoad // records with attempts in flight
}

// recordLoad is one record's attempts in flight in this process.
type recordLoad struct {
	starts []time.Time   // of the attempts in flight
	mean   time.Duration // moving average of the finished attempts' durations
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

// WithQueueWorkers tells the Worker how many workers its client gives the
// Queue (the river.QueueConfig's MaxWorkers), from which the default share
// of one record follows (FairShare). Without it the Worker assumes 16. The
// outbox sets it.
func WithQueueWorkers(n int) WorkerOption { return func(w *Worker) { w.queueWorkers = n } }

// WithPerEndpoint sets the most attempts one webhook record may have in
// flight in this process; the record's other jobs wait (see Worker). n <= 0
// lifts the limit: one record may then take every worker. Without this
// option the limit is FairShare of the Queue's workers, as with
// transport.WithPerEndpoint. Several processes working one database each
// apply it to their own attempts.
func WithPerEndpoint(n int) WorkerOption {
	return func(w *Worker) { w.perEndpoint, w.perSet = n, true }
}

// WithOnDeadLetter sets a function called once for each delivery the Worker
// gives up on, after its last attempt is in the delivery log and before River
// marks the job discarded or cancelled: the last retry failed, the attempt
// failed permanently (a 4xx, a refused destination), the record was deleted
// or disabled (errors.Is(res.Err, webhook.ErrWebhookGone) or
// webhook.ErrWebhookDisabled tell those apart), or the schedule ran out
// (ErrRetriesExhausted). These are the deliveries Transport.DeadLetters lists.
//
// res has StatusFailed, the attempts made (replays included), the last
// attempt, and a *transport.DeliveryError. fn runs on the worker, with a
// context that outlives the job's by at most 10 seconds; a panic in it is
// logged. If the process dies after fn returns but before River's write, the
// job runs again and fn may hear of the delivery twice. Jobs that River
// itself finalizes (a job cancelled through River's JobCancel, a stuck job
// discarded by River's rescuer) are not reported.
func WithOnDeadLetter(fn func(ctx context.Context, env transport.Envelope, res transport.Result)) WorkerOption {
	return func(w *Worker) { w.onDeadLetter = fn }
}

// NewWorker returns a Worker that makes attempts through a.
func NewWorker(a transport.Attempter, opts ...WorkerOption) *Worker {
	w := &Worker{a: a, log: slog.Default(), now: time.Now, inflight: map[uuid.UUID]*recordLoad{}}
	for _, o := range opts {
		o(w)
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.now == nil {
		w.now = time.Now
	}
	if !w.perSet {
		workers := w.queueWorkers
		if workers <= 0 {
			workers = assumedQueueWorkers
		}
		w.perEndpoint = FairShare(workers)
	}
	return w
}

// Timeout implements river.Worker.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.timeout }

// acquire takes one of the record's in-flight places, if it has one left,
// and returns when the attempt started; otherwise it returns how long to
// wait.
func (w *Worker) acquire(id uuid.UUID) (start time.Time, wait time.Duration, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	l := w.inflight[id]
	if l == nil {
		l = &recordLoad{}
		w.inflight[id] = l
	}
	if w.perEndpoint > 0 && len(l.starts) >= w.perEndpoint {
		youngest := now.Sub(l.starts[0])
		for _, s := range l.starts[1:] {
			youngest = min(youngest, now.Sub(s))
		}
		d := min(max(l.mean, youngest, fairShareMinWait), fairShareMaxWait)
		return time.Time{}, d/2 + rand.N(d), false
	}
	l.starts = append(l.starts, now)
	return now, 0, true
}

// release gives back the place of the attempt that acquire started at start.
func (w *Worker) release(id uuid.UUID, start time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.inflight[id]
	if l == nil {
		return
	}
	for i, s := range l.starts {
		if s.Equal(start) {
			l.starts = append(l.starts[:i], l.starts[i+1:]...)
			break
		}
	}
	if len(l.starts) == 0 {
		delete(w.inflight, id)
		return
	}
	if d := time.Since(start); l.mean == 0 {
		l.mean = d
	} else {
		l.mean += (d - l.mean) / 5
	}
}

// Work implements river.Worker: one attempt of the delivery.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	env := job.Args.Envelope()
	start, wait, ok := w.acquire(env.WebhookID)
	if !ok {
		// Not this record's turn: River gives the attempt back on a snooze.
		return river.JobSnooze(wait)
	}
	interrupted := interruptions(job.JobRow)
	n := job.Attempt + job.Args.AttemptOffset + interrupted
	at := func() transport.Attempt {
		defer w.release(env.WebhookID, start) // even if the Attempter panics
		return w.a.Attempt(ctx, env, n)
	}()
	if at.Outcome == transport.Defer {
		// No request was made (an open circuit breaker, a rate limit): a
		// snooze gives the attempt back, which is what Defer means.
		return river.JobSnooze(max(at.RetryAfter, minDefer))
	}
	if at.Outcome == transport.Retry && errors.Is(ctx.Err(), context.Canceled) {
		// The client stopped (or Start's context ended) during the attempt.
		// River would give the attempt back and the next one would reuse its
		// number: count it in the job's metadata instead, log it as
		// interrupted, and put the job back at once, as River does.
		if err := river.MetadataSet(ctx, metaInterrupted, interrupted+1); err != nil {
			w.log.ErrorContext(ctx, "webhook attempt interruption not counted",
				slog.String("delivery_id", env.DeliveryID.String()), slog.String("tenant", env.Tenant),
				slog.Int("attempt", n), slog.String("error", err.Error()))
		}
		at.Err = fmt.Errorf("%w: %w", ErrInterrupted, at.Err)
		w.record(ctx, env, at, n)
		return river.JobSnooze(0)
	}
	w.record(ctx, env, at, n)
	switch at.Outcome {
	case transport.Success:
		return nil
	case transport.Permanent:
		err := fmt.Errorf("delivery %s attempt %d: %w", env.DeliveryID, n, at.Err)
		w.deadLetter(ctx, env, at, n, at.Err)
		return river.JobCancel(err)
	}
	err := fmt.Errorf("delivery %s attempt %d: %w", env.DeliveryID, n, at.Err)
	d := delayAfter(w.a, job.Attempt)
	if d == backoff.Stop {
		if job.Attempt >= job.MaxAttempts {
			w.deadLetter(ctx, env, at, n, at.Err)
			return err // River discards the job: dead-lettered.
		}
		w.deadLetter(ctx, env, at, n, fmt.Errorf("%w: %w", ErrRetriesExhausted, at.Err))
		return river.JobCancel(fmt.Errorf("%w: %w", ErrRetriesExhausted, err))
	}
	// NextRetry reads the delay from the same *river.Job: River passes the
	// job it worked to NextRetry (TestWorkAndNextRetryShareTheJob fails
	// loudly if an upgrade stops doing so).
	job.Args.next = max(d, at.RetryAfter)
	return err
}

// record writes at, attempt n of env, to the delivery log.
func (w *Worker) record(ctx context.Context, env transport.Envelope, at transport.Attempt, n int) {
	if w.rec == nil {
		return
	}
	at.Number = n
	// The attempt happened even if the job's context ended meanwhile.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hookTimeout)
	defer cancel()
	if err := w.rec.RecordAttempt(rctx, env, at); err != nil {
		w.log.ErrorContext(ctx, "webhook attempt not logged",
			slog.String("delivery_id", env.DeliveryID.String()), slog.String("tenant", env.Tenant),
			slog.Int("attempt", n), slog.String("error", err.Error()))
	}
}

// deadLetter calls the WithOnDeadLetter function for env, given up after
// attempt n, at, for the reason err.
func (w *Worker) deadLetter(ctx context.Context, env transport.Envelope, at transport.Attempt, n int, err error) {
	if w.onDeadLetter == nil {
		return
	}
	at.Number = n
	res := transport.Result{DeliveryID: env.DeliveryID, Status: transport.StatusFailed, Attempts: n, Last: at,
		Err: &transport.DeliveryError{DeliveryID: env.DeliveryID, Attempts: n, StatusCode: at.StatusCode,
			Retryable: at.Outcome == transport.Retry, Err: err}}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hookTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			w.log.ErrorContext(ctx, "webhook dead-letter function panicked",
				slog.String("delivery_id", env.DeliveryID.String()), slog.String("tenant", env.Tenant),
				slog.String("panic", fmt.Sprint(p)))
		}
	}()
	w.onDeadLetter(hctx, env, res)
}

// interruptions counts the attempts of j that a stopping client interrupted.
func interruptions(j *rivertype.JobRow) int {
	if j == nil || len(j.Metadata) == 0 {
		return 0
	}
	var m struct {
		N int `json:"outhook_interrupted"` // metaInterrupted
	}
	if err := json.Unmarshal(j.Metadata, &m); err != nil {
		return 0
	}
	return max(m.N, 0)
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
