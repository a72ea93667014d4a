package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
)

// scripted is an Attempter whose answers a test decides per record: a
// record in hang blocks until release is closed or the context ends; the
// others get outcome.
type scripted struct {
	hang     map[uuid.UUID]bool
	release  chan struct{}
	outcome  transport.Outcome
	attempts int // the schedule's allowed attempts

	mu       sync.Mutex
	inflight map[uuid.UUID]int
	peak     map[uuid.UUID]int
	numbers  map[uuid.UUID][]int // attempt numbers by delivery
	started  chan uuid.UUID      // deliveries whose attempt began
}

func newScripted(outcome transport.Outcome, attempts int) *scripted {
	return &scripted{hang: map[uuid.UUID]bool{}, release: make(chan struct{}), outcome: outcome, attempts: attempts,
		inflight: map[uuid.UUID]int{}, peak: map[uuid.UUID]int{}, numbers: map[uuid.UUID][]int{}, started: make(chan uuid.UUID, 1000)}
}

func (a *scripted) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	a.mu.Lock()
	a.inflight[env.WebhookID]++
	a.peak[env.WebhookID] = max(a.peak[env.WebhookID], a.inflight[env.WebhookID])
	a.numbers[env.DeliveryID] = append(a.numbers[env.DeliveryID], n)
	hang := a.hang[env.WebhookID]
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inflight[env.WebhookID]--
		a.mu.Unlock()
	}()
	a.started <- env.DeliveryID
	at := transport.Attempt{Number: n, Start: time.Now(), Outcome: a.outcome}
	if hang {
		select {
		case <-a.release:
		case <-ctx.Done():
			at.Outcome, at.Err = transport.Retry, fmt.Errorf("send: %w", ctx.Err())
			return at
		}
	}
	switch at.Outcome {
	case transport.Success:
		at.StatusCode = 204
	case transport.Retry:
		at.StatusCode, at.Err = 503, &transport.StatusError{StatusCode: 503}
	case transport.Permanent:
		at.StatusCode, at.Err = 410, &transport.StatusError{StatusCode: 410}
	}
	return at
}

func (a *scripted) NewBackOff() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), uint64(a.attempts-1))
}

func (a *scripted) numbersOf(id uuid.UUID) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.numbers[id]...)
}

// recorder is an AttemptRecorder in memory.
type recorder struct {
	mu   sync.Mutex
	rows map[uuid.UUID][]transport.Attempt
}

func newRecorder() *recorder { return &recorder{rows: map[uuid.UUID][]transport.Attempt{}} }

func (r *recorder) RecordAttempt(_ context.Context, env transport.Envelope, at transport.Attempt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows[env.DeliveryID] = append(r.rows[env.DeliveryID], at)
	return nil
}

func (r *recorder) of(id uuid.UUID) []transport.Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Attempt(nil), r.rows[id]...)
}

func envelopes(hook uuid.UUID, n int) []transport.Envelope {
	envs := make([]transport.Envelope, n)
	for i := range envs {
		envs[i] = transport.Envelope{DeliveryID: uuid.New(), WebhookID: hook, Trigger: "test/t", Body: []byte(`{}`), CreatedAt: time.Now()}
	}
	return envs
}

func job(env transport.Envelope) *river.Job[durable.Args] {
	return &river.Job[durable.Args]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1, MaxAttempts: 3}, Args: durable.NewArgs(env)}
}

// The share of one record follows the Queue's workers unless set: a job of
// a record that holds its share is snoozed before any request, and another
// record's job is worked.
func TestPerEndpointShare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []durable.WorkerOption
		share int // 0: no limit (checked up to 6)
	}{
		{"default without queue workers", nil, 4},
		{"a quarter of the queue's workers", []durable.WorkerOption{durable.WithQueueWorkers(8)}, 2},
		{"at least one", []durable.WorkerOption{durable.WithQueueWorkers(2)}, 1},
		{"set", []durable.WorkerOption{durable.WithQueueWorkers(8), durable.WithPerEndpoint(3)}, 3},
		{"lifted", []durable.WorkerOption{durable.WithQueueWorkers(4), durable.WithPerEndpoint(-1)}, 0},
		{"lifted by 0", []durable.WorkerOption{durable.WithQueueWorkers(4), durable.WithPerEndpoint(0)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			hung, other := uuid.New(), uuid.New()
			a := newScripted(transport.Success, 3)
			a.hang[hung] = true
			rec := newRecorder()
			w := durable.NewWorker(a, append(tc.opts, durable.WithAttemptLog(rec))...)
			holders := tc.share
			if holders == 0 {
				holders = 6
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			defer close(a.release)
			for _, env := range envelopes(hung, holders) {
				wg.Add(1)
				go func() { defer wg.Done(); assert.NoError(t, w.Work(ctx, job(env))) }()
				<-a.started
			}
			env := envelopes(hung, 1)[0]
			done := make(chan error, 1)
			wg.Add(1)
			go func() { defer wg.Done(); done <- w.Work(ctx, job(env)) }()
			if tc.share == 0 {
				select {
				case <-a.started: // no limit: the next attempt is made too
				case err := <-done:
					t.Fatalf("no limit, yet the attempt was not made: %v", err)
				}
				return
			}
			var err error
			select {
			case err = <-done:
			case <-a.started:
				t.Fatal("the record holds its share, yet another attempt was made")
			}
			var snooze *river.JobSnoozeError
			require.ErrorAs(t, err, &snooze, "the record holds its share")
			assert.GreaterOrEqual(t, snooze.Duration, 50*time.Millisecond, "at least half the shortest wait")
			assert.Less(t, snooze.Duration, 45*time.Second, "at most one and a half times the longest")
			assert.Empty(t, a.numbersOf(env.DeliveryID), "no request")
			assert.Empty(t, rec.of(env.DeliveryID), "no log row")

			assert.NoError(t, w.Work(ctx, job(envelopes(other, 1)[0])), "another record is worked")
		})
	}
}

// One record hanging on every attempt holds at most its share of the
// workers; another record's delivery is sent while they hang, and the waits
// cost the hung deliveries no attempt.
func TestSlowEndpointDoesNotStarveOthers(t *testing.T) {
	ctx := context.Background()
	slow, fast := uuid.New(), uuid.New()
	a := newScripted(transport.Success, 3)
	a.hang[slow] = true
	const workers = 4
	client := startRiver(t, sqliteDB(t), durable.NewWorker(a, durable.WithQueueWorkers(workers)), workers)
	hung := envelopes(slow, 24)
	tr := durable.New(client)
	_, err := tr.Send(ctx, a, hung)
	require.NoError(t, err)
	<-a.started // the slow record's first attempt hangs
	b := envelopes(fast, 1)
	_, err = tr.Send(ctx, a, b)
	require.NoError(t, err)

	// A bound, not a measurement: without the share, all four workers hang
	// and the fast record's delivery is never attempted before the release.
	require.Eventually(t, func() bool { return len(a.numbersOf(b[0].DeliveryID)) == 1 }, 20*time.Second, 10*time.Millisecond,
		"the fast record's delivery waits for the slow record's")
	a.mu.Lock()
	assert.Equal(t, durable.FairShare(workers), a.peak[slow], "the slow record holds its share of the workers")
	a.mu.Unlock()

	close(a.release)
	require.Eventually(t, func() bool {
		res, err := client.JobList(ctx, river.NewJobListParams().Kinds(durable.Kind).States(rivertype.JobStateCompleted).First(100))
		require.NoError(t, err)
		return len(res.Jobs) == len(hung)+1
	}, 30*time.Second, 20*time.Millisecond)
	for _, env := range hung {
		assert.Equal(t, []int{1}, a.numbersOf(env.DeliveryID), "waiting for a share is no attempt")
	}
	res, err := client.JobList(ctx, river.NewJobListParams().Kinds(durable.Kind).First(100))
	require.NoError(t, err)
	for _, j := range res.Jobs {
		assert.Equal(t, 1, j.Attempt, "River counted one attempt")
	}
}

// An attempt that the client's stop interrupts is logged as interrupted and
// the next one has the next number; it costs no attempt of MaxAttempts.
func TestInterruptedAttemptKeepsItsNumber(t *testing.T) {
	ctx := context.Background()
	hook := uuid.New()
	db := sqliteDB(t)
	rec := newRecorder()
	first := newScripted(transport.Success, 2)
	first.hang[hook] = true
	c1 := startRiver(t, db, durable.NewWorker(first, durable.WithAttemptLog(rec)), 1)
	env := envelopes(hook, 1)[0]
	_, err := durable.New(c1).Send(ctx, first, []transport.Envelope{env})
	require.NoError(t, err)
	<-first.started
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c1.Stop(sctx), context.DeadlineExceeded, "the attempt hangs")
	require.NoError(t, c1.StopAndCancel(ctx))

	second := newScripted(transport.Success, 2)
	c2 := startRiver(t, db, durable.NewWorker(second, durable.WithAttemptLog(rec)), 1)
	require.Eventually(t, func() bool { return len(rec.of(env.DeliveryID)) == 2 }, 10*time.Second, 10*time.Millisecond)
	rows := rec.of(env.DeliveryID)
	assert.Equal(t, 1, rows[0].Number)
	assert.ErrorIs(t, rows[0].Err, durable.ErrInterrupted)
	assert.ErrorIs(t, rows[0].Err, context.Canceled)
	assert.Equal(t, 2, rows[1].Number, "the log reads 1, 2")
	assert.Equal(t, transport.Success, rows[1].Outcome)
	assert.Equal(t, []int{2}, second.numbersOf(env.DeliveryID), "the Attempter is told the same number")

	var j *rivertype.JobRow
	require.Eventually(t, func() bool {
		res, err := c2.JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		j = res.Jobs[0]
		return j.State == rivertype.JobStateCompleted
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, j.Attempt, "the interruption used none of MaxAttempts")
	assert.Equal(t, 2, j.MaxAttempts)
}

// deadLetters collects the WithOnDeadLetter calls and what the log held at
// each.
type deadLetters struct {
	mu     sync.Mutex
	rec    *recorder
	calls  map[uuid.UUID][]transport.Result
	logged map[uuid.UUID]int
}

func (d *deadLetters) fn(ctx context.Context, env transport.Envelope, res transport.Result) {
	if ctx.Err() != nil {
		panic("dead-letter context already done")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[env.DeliveryID] = append(d.calls[env.DeliveryID], res)
	d.logged[env.DeliveryID] = len(d.rec.of(env.DeliveryID))
}

// The dead-letter function hears once of each delivery given up on, after
// its last attempt is logged, and never of a delivered one.
func TestOnDeadLetter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outcome   transport.Outcome
		attempts  int // the Attempter's schedule
		max       int // the job's MaxAttempts (the enqueuer's schedule)
		wantCalls int
		wantN     int
		wantErr   error
	}{
		{"retries run out", transport.Retry, 3, 3, 1, 3, nil},
		{"permanent failure", transport.Permanent, 3, 3, 1, 1, nil},
		{"worker's schedule shorter than the job's", transport.Retry, 2, 4, 1, 2, durable.ErrRetriesExhausted},
		{"delivered", transport.Success, 3, 3, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a := newScripted(tc.outcome, tc.attempts)
			rec := newRecorder()
			dl := &deadLetters{rec: rec, calls: map[uuid.UUID][]transport.Result{}, logged: map[uuid.UUID]int{}}
			client := startRiver(t, sqliteDB(t), durable.NewWorker(a, durable.WithAttemptLog(rec), durable.WithOnDeadLetter(dl.fn)), 1)
			env := envelopes(uuid.New(), 1)[0]
			_, err := durable.New(client).Send(ctx, newScripted(tc.outcome, tc.max), []transport.Envelope{env})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				res, err := client.JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
				require.NoError(t, err)
				require.Len(t, res.Jobs, 1)
				return res.Jobs[0].FinalizedAt != nil
			}, 10*time.Second, 10*time.Millisecond)
			dl.mu.Lock()
			defer dl.mu.Unlock()
			calls := dl.calls[env.DeliveryID]
			require.Len(t, calls, tc.wantCalls)
			if tc.wantCalls == 0 {
				return
			}
			res := calls[0]
			assert.Equal(t, transport.StatusFailed, res.Status)
			assert.Equal(t, tc.wantN, res.Attempts)
			assert.Equal(t, tc.wantN, res.Last.Number)
			assert.Equal(t, tc.wantN, dl.logged[env.DeliveryID], "the last attempt is logged first")
			var de *transport.DeliveryError
			require.ErrorAs(t, res.Err, &de)
			assert.Equal(t, env.DeliveryID, de.DeliveryID)
			assert.Equal(t, tc.outcome == transport.Retry, de.Retryable)
			var se *transport.StatusError
			assert.ErrorAs(t, res.Err, &se, "the last attempt's error")
			if tc.wantErr != nil {
				assert.ErrorIs(t, res.Err, tc.wantErr)
			}
		})
	}
}

// A panicking dead-letter function does not make the worker retry the
// delivery.
func TestOnDeadLetterPanics(t *testing.T) {
	a := newScripted(transport.Permanent, 3)
	calls := 0
	w := durable.NewWorker(a, durable.WithLogger(quiet()), durable.WithOnDeadLetter(func(context.Context, transport.Envelope, transport.Result) {
		calls++
		panic("app bug")
	}))
	err := w.Work(context.Background(), job(envelopes(uuid.New(), 1)[0]))
	var cancel *rivertype.JobCancelError
	assert.True(t, errors.As(err, &cancel), "the job is cancelled: %v", err)
	assert.Equal(t, 1, calls)
}

// panicky panics on its first attempt, then succeeds.
type panicky struct{ calls int }

func (p *panicky) Attempt(_ context.Context, _ transport.Envelope, n int) transport.Attempt {
	if p.calls++; p.calls == 1 {
		panic("attempter bug")
	}
	return transport.Attempt{Number: n, Outcome: transport.Success, StatusCode: 204}
}

func (p *panicky) NewBackOff() backoff.BackOff { return &backoff.StopBackOff{} }

// An Attempter's panic (which River recovers) gives the record's place back.
func TestPanicReleasesTheShare(t *testing.T) {
	a := &panicky{}
	w := durable.NewWorker(a, durable.WithPerEndpoint(1))
	env := envelopes(uuid.New(), 1)[0]
	assert.Panics(t, func() { _ = w.Work(context.Background(), job(env)) })
	assert.NoError(t, w.Work(context.Background(), job(env)), "not snoozed: the place was given back")
	assert.Equal(t, 2, a.calls)
}
