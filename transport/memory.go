package transport

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
)

// ErrClosed is returned by Memory.Send after Close. The Result that Close
// reports for a delivery it did not finish carries an error matching it too.
var ErrClosed = errors.New("transport: closed")

// Defaults of NewMemory and of the zero Memory.
const (
	// DefaultWorkers is how many attempts a Memory runs at once.
	DefaultWorkers = 8
	// DefaultQueueSize bounds the deliveries a Memory holds.
	DefaultQueueSize = 10_000
)

// Memory is an in-process worker pool with a bounded queue. Send returns at
// once with StatusQueued results; workers make the attempts. A retry is
// scheduled on a delay queue rather than slept in a worker, so one dead
// endpoint cannot occupy the pool. Deliveries are lost if the process dies:
// use a durable transport when that matters.
//
// No webhook record holds more than its share of the workers: by default a
// quarter of them, at least one (WithPerEndpoint changes or lifts the
// share). Its further deliveries wait in its own queue, in the order they
// were sent, without taking a worker, so one hung endpoint delays the others
// by at most the attempts already running. Workers take the endpoints with
// waiting work in turn.
//
// Every accepted delivery ends in exactly one call of the WithOnDone
// function: delivered, failed, or, for what Close gives up on, failed with
// an error matching ErrClosed. Without WithOnDone, each failure is one
// error-level log line instead.
//
// Create it with NewMemory and stop it with Close. The zero value is ready to
// use, with the defaults of NewMemory() (DefaultWorkers, DefaultQueueSize,
// slog.Default() for failures); its workers start with the first call. A
// Memory must not be copied after first use.
type Memory struct {
	workers     int
	capacity    int
	perEndpoint int
	perSet      bool // WithPerEndpoint was given
	block       bool
	onDone      func(Envelope, Result)
	log         *slog.Logger
	clock       Clock // due times and the scheduler's timer

	start sync.Once
	limit int // attempts in flight per webhook record; 0: no limit

	mu        sync.Mutex
	endpoints map[uuid.UUID]*endpoint // records with due jobs or attempts in flight
	turns     []*endpoint             // FIFO of endpoints with a due job and room for an attempt
	due       int                     // due jobs waiting in endpoints' queues
	delayed   delayHeap
	inflight  int
	accepted  uint64 // deliveries accepted so far
	closed    bool
	changed   chan struct{} // closed when state changes; nil: no one waits
	wake      chan struct{} // the scheduler's: the earliest delayed job changed
	ready     chan struct{} // idle workers': a token per turn offered
	drained   chan struct{} // closed once Close was called and no job is due

	ctx    context.Context // attempts run under it; Close cancels it at its deadline
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// endpoint is one webhook record's queue of due jobs.
type endpoint struct {
	id     uuid.UUID
	jobs   []*job // FIFO
	active int    // attempts in flight
	inTurn bool   // in Memory.turns
}

type job struct {
	env  Envelope
	a    Attempter
	bo   backoff.BackOff
	n    int // attempts made, Envelope.AttemptOffset included
	last Attempt
	due  time.Time
	seq  uint64 // acceptance order
}

// MemoryOption configures NewMemory. WithClock is one too.
type MemoryOption interface{ applyMemory(*Memory) }

type memoryOption func(*Memory)

func (o memoryOption) applyMemory(m *Memory) { o(m) }

// WithWorkers sets how many attempts run at once (default DefaultWorkers;
// less than 1 means 1).
func WithWorkers(n int) MemoryOption { return memoryOption(func(m *Memory) { m.workers = n }) }

// WithQueueSize bounds the deliveries held at once, waiting, scheduled for a
// retry or in flight (default DefaultQueueSize; less than 1 means 1). Beyond
// it Send fails with ErrQueueFull, or waits with WithBlockWhenFull.
func WithQueueSize(n int) MemoryOption { return memoryOption(func(m *Memory) { m.capacity = n }) }

// WithPerEndpoint limits the attempts in flight to one webhook record to n;
// its other due deliveries wait, in order, without taking a worker. n <= 0
// lifts the limit: one record may then take every worker. Without this
// option the limit is the fair share, max(1, workers/4).
func WithPerEndpoint(n int) MemoryOption {
	return memoryOption(func(m *Memory) { m.perEndpoint, m.perSet = n, true })
}

// WithBlockWhenFull makes Send wait for room until its context ends instead
// of failing at once with ErrQueueFull. Give the context a deadline.
func WithBlockWhenFull() MemoryOption { return memoryOption(func(m *Memory) { m.block = true }) }

// WithOnDone sets the function called with the final Result of each
// delivery, exactly once per accepted delivery: StatusDelivered or
// StatusFailed. It is called from a worker, or from Close for the deliveries
// Close did not finish (their Err matches ErrClosed).
func WithOnDone(fn func(Envelope, Result)) MemoryOption {
	return memoryOption(func(m *Memory) { m.onDone = fn })
}

// WithLogger sets the logger for failed deliveries when there is no
// WithOnDone (slog.Default() otherwise).
func WithLogger(l *slog.Logger) MemoryOption { return memoryOption(func(m *Memory) { m.log = l }) }

// NewMemory starts a worker pool.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{workers: DefaultWorkers, capacity: DefaultQueueSize}
	for _, o := range opts {
		o.applyMemory(m)
	}
	m.workers = max(m.workers, 1)
	m.capacity = max(m.capacity, 1)
	m.init()
	return m
}

// Concurrency reports how many attempts m makes at once at most, its
// workers: what a client's idle connection pool should hold. On the zero
// Memory it starts the workers, as a first Send would.
func (m *Memory) Concurrency() int {
	m.init()
	return m.workers
}

// init starts the workers once, with the defaults for what is unset (the zero
// Memory's fields).
func (m *Memory) init() {
	m.start.Do(func() {
		if m.workers < 1 {
			m.workers = DefaultWorkers
		}
		if m.capacity < 1 {
			m.capacity = DefaultQueueSize
		}
		switch {
		case !m.perSet:
			m.limit = max(1, m.workers/4)
		case m.perEndpoint > 0:
			m.limit = m.perEndpoint
		}
		m.clock = clockOr(m.clock)
		if m.log == nil {
			m.log = slog.Default()
		}
		m.endpoints = map[uuid.UUID]*endpoint{}
		m.wake = make(chan struct{}, 1)
		m.ready = make(chan struct{}, m.workers)
		m.drained = make(chan struct{})
		m.ctx, m.cancel = context.WithCancel(context.Background())
		m.wg.Add(m.workers + 1)
		for i := 0; i < m.workers; i++ {
			go m.work()
		}
		go m.schedule()
	})
}

// Send implements Transport. It accepts all of envs or none: when they do
// not fit it returns an error matching ErrQueueFull (or waits, with
// WithBlockWhenFull), and after Close one matching ErrClosed.
func (m *Memory) Send(ctx context.Context, a Attempter, envs []Envelope) ([]Result, error) {
	m.init()
	if len(envs) > m.capacity {
		return nil, fmt.Errorf("%w: %d deliveries exceed the queue size %d", ErrQueueFull, len(envs), m.capacity)
	}
	m.mu.Lock()
	for !m.closed && m.outstanding()+len(envs) > m.capacity {
		if !m.block {
			n := m.outstanding()
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: %d of %d places taken, %d asked for", ErrQueueFull, n, m.capacity, len(envs))
		}
		changed := m.onChange()
		m.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
		}
		m.mu.Lock()
	}
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	results := make([]Result, len(envs))
	for i, env := range envs {
		b := a.NewBackOff()
		b.Reset()
		m.accepted++
		m.enqueue(&job{env: env, a: a, bo: b, n: max(env.AttemptOffset, 0), seq: m.accepted})
		results[i] = Result{DeliveryID: env.DeliveryID, Status: StatusQueued}
	}
	m.signal()
	m.mu.Unlock()
	return results, nil
}

// Pending is a delivery a closed Memory did not finish.
type Pending struct {
	Envelope Envelope
	// Attempts made before Close gave up on it (Envelope.AttemptOffset
	// included).
	Attempts int
	// Last is the last attempt, if any was made.
	Last Attempt
}

// Close stops accepting deliveries, lets the workers finish what is in
// flight and what is due, and returns once that is done or ctx ends,
// whichever is first; at ctx's end in-flight attempts are cancelled. It
// returns every delivery left undelivered (retries not yet due included), in
// the order Send accepted them, so the application can keep them, and ctx's
// error if it ended first.
//
// Each delivery returned is also reported, before Close returns, to the
// WithOnDone function (or logged at error level without one) as
// StatusFailed, with a retryable *DeliveryError matching ErrClosed, so that
// every accepted delivery ends in exactly one report. Calling Close again
// returns nothing.
func (m *Memory) Close(ctx context.Context) ([]Pending, error) {
	m.init()
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		m.drainedIfIdle()
	}
	m.signal()
	m.mu.Unlock()

	var err error
	for {
		m.mu.Lock()
		if m.due == 0 && m.inflight == 0 {
			m.mu.Unlock()
			break
		}
		changed := m.onChange()
		m.mu.Unlock()
		select {
		case <-changed:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	m.cancel()
	m.wg.Wait()

	m.mu.Lock()
	var jobs []*job
	for _, ep := range m.endpoints {
		jobs = append(jobs, ep.jobs...)
	}
	jobs = append(jobs, m.delayed...)
	m.endpoints, m.turns, m.delayed, m.due = map[uuid.UUID]*endpoint{}, nil, nil, 0
	m.signal()
	m.mu.Unlock()
	slices.SortFunc(jobs, func(a, b *job) int { return cmp.Compare(a.seq, b.seq) })

	var left []Pending
	for _, j := range jobs {
		left = append(left, Pending{Envelope: j.env, Attempts: j.n, Last: j.last})
		cause := ErrClosed
		if j.last.Err != nil {
			cause = fmt.Errorf("%w (last attempt: %w)", ErrClosed, j.last.Err)
		}
		last := j.last
		last.Number = j.n
		m.done(j.env, failed(j.env, last, true, cause))
	}
	return left, err
}

// Len returns how many deliveries are held: waiting, scheduled or in flight.
func (m *Memory) Len() int {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outstanding()
}

func (m *Memory) outstanding() int { return m.due + len(m.delayed) + m.inflight }

// drainedIfIdle tells idle workers to stop once Close was called and no
// job is due; m.mu must be held.
func (m *Memory) drainedIfIdle() {
	if m.closed && m.due == 0 {
		select {
		case <-m.drained:
		default:
			close(m.drained)
		}
	}
}

// signal wakes everyone waiting for a change; m.mu must be held. Idle
// workers do not wait for it: offerTurn wakes one per turn. Most changes
// have no one waiting (only Close and a full Send with WithBlockWhenFull
// wait), and cost nothing then.
func (m *Memory) signal() {
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

// onChange returns a channel that the next change closes; m.mu must be
// held.
func (m *Memory) onChange() <-chan struct{} {
	if m.changed == nil {
		m.changed = make(chan struct{})
	}
	return m.changed
}

// enqueue adds a due job at the end of its endpoint's queue; m.mu must be held.
func (m *Memory) enqueue(j *job) {
	ep := m.endpoints[j.env.WebhookID]
	if ep == nil {
		ep = &endpoint{id: j.env.WebhookID}
		m.endpoints[ep.id] = ep
	}
	ep.jobs = append(ep.jobs, j)
	m.due++
	m.offerTurn(ep)
}

// offerTurn queues ep for a worker if it has a due job and room for another
// attempt; m.mu must be held.
func (m *Memory) offerTurn(ep *endpoint) {
	if ep.inTurn || len(ep.jobs) == 0 || (m.limit > 0 && ep.active >= m.limit) {
		return
	}
	ep.inTurn = true
	m.turns = append(m.turns, ep)
	select {
	case m.ready <- struct{}{}:
	default: // as many wake-ups as workers are pending already
	}
}

// next takes the first job of the endpoint whose turn it is, and counts its
// attempt as in flight; m.mu must be held.
func (m *Memory) next() (*job, *endpoint) {
	if len(m.turns) == 0 {
		return nil, nil
	}
	ep := m.turns[0]
	m.turns[0] = nil
	m.turns = m.turns[1:]
	ep.inTurn = false
	j := ep.jobs[0]
	ep.jobs[0] = nil
	ep.jobs = ep.jobs[1:]
	m.due--
	m.drainedIfIdle()
	ep.active++
	m.inflight++
	m.offerTurn(ep) // behind the endpoints already waiting
	return j, ep
}

func (m *Memory) work() {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if m.ctx.Err() != nil {
			m.mu.Unlock()
			return
		}
		j, ep := m.next()
		for j == nil {
			if m.closed && m.due == 0 || m.ctx.Err() != nil {
				m.mu.Unlock()
				return
			}
			m.mu.Unlock()
			select {
			case <-m.ready:
			case <-m.drained:
			case <-m.ctx.Done():
			}
			m.mu.Lock()
			j, ep = m.next()
		}
		m.mu.Unlock()

		m.attempt(j, ep)
	}
}

// attempt makes j's next attempt and files j as done or scheduled.
func (m *Memory) attempt(j *job, ep *endpoint) {
	j.due = time.Time{}
	j.n++
	j.last = j.a.Attempt(m.ctx, j.env, j.n)
	var res *Result
	switch j.last.Outcome {
	case Success:
		res = &Result{DeliveryID: j.env.DeliveryID, Status: StatusDelivered, Attempts: j.n, Last: j.last}
	case Permanent:
		r := failed(j.env, j.last, false, nil)
		res = &r
	case Defer:
		j.n-- // no request was made
		j.due = m.clock.Now().Add(max(j.last.RetryAfter, minDefer))
	default:
		if m.ctx.Err() != nil {
			break // Close gave up while this attempt ran: it stays pending
		}
		wait := j.bo.NextBackOff()
		if wait == backoff.Stop {
			r := failed(j.env, j.last, true, nil)
			res = &r
		} else {
			if j.last.RetryAfter > wait {
				wait = j.last.RetryAfter
			}
			j.due = m.clock.Now().Add(wait)
		}
	}

	m.mu.Lock()
	m.inflight--
	ep.active--
	switch {
	case res != nil:
	case j.due.IsZero():
		m.enqueue(j)
	default:
		heap.Push(&m.delayed, j)
		if m.delayed[0] == j {
			// The scheduler's timer is for a later job, or there is none.
			select {
			case m.wake <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
	}
	m.offerTurn(ep)
	if ep.active == 0 && len(ep.jobs) == 0 {
		delete(m.endpoints, ep.id)
	}
	m.signal()
	m.mu.Unlock()

	if res != nil {
		m.done(j.env, *res)
	}
}

func (m *Memory) done(env Envelope, r Result) {
	if m.onDone != nil {
		m.onDone(env, r)
		return
	}
	if r.Status == StatusFailed {
		m.log.Error("webhook delivery failed", "delivery_id", env.DeliveryID, "webhook_id", env.WebhookID,
			"trigger", env.Trigger, "attempts", r.Attempts, "error", r.Err)
	}
}

// schedule moves delayed jobs to their endpoints' queues when they fall due.
// It keeps one timer, for the earliest due time, and replaces it only when
// that changes. It wakes for its timer and when a job becomes the earliest,
// not for every change of state: most deliveries never wait for a retry.
func (m *Memory) schedule() {
	defer m.wg.Done()
	var timer Timer
	var timerAt time.Time // zero: no timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		next := m.promote()
		if !next.Equal(timerAt) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			if timerAt = next; !next.IsZero() {
				timer = m.clock.NewTimer(next.Sub(m.clock.Now()))
			}
		}
		var fired <-chan time.Time // nil without a timer: never ready
		if timer != nil {
			fired = timer.C()
		}
		select {
		case <-fired:
			timer, timerAt = nil, time.Time{}
		case <-m.wake:
		case <-m.ctx.Done():
			return
		}
	}
}

// promote moves the delayed jobs that are due to their endpoints' queues. It
// returns the earliest due time left (zero if none, or once closed).
func (m *Memory) promote() (next time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	moved := false
	for len(m.delayed) > 0 && !m.delayed[0].due.After(now) && !m.closed {
		m.enqueue(heap.Pop(&m.delayed).(*job))
		moved = true
	}
	if len(m.delayed) > 0 && !m.closed {
		next = m.delayed[0].due
	}
	if moved {
		m.signal()
	}
	return next
}

// delayHeap orders jobs by due time.
type delayHeap []*job

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(*job)) }
func (h *delayHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}
