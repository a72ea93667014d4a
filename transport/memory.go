package transport

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
)

// ErrClosed is returned by Memory.Send after Close.
var ErrClosed = errors.New("transport: closed")

// Memory is an in-process worker pool with a bounded queue. Send returns at
// once with StatusQueued results; workers make the attempts. A retry is
// scheduled on a delay queue rather than slept in a worker, so one dead
// endpoint cannot occupy the pool. Deliveries are lost if the process dies:
// use a durable transport when that matters.
//
// Final results go to the WithOnDone function (failures are logged when there
// is none). Create it with NewMemory and stop it with Close.
type Memory struct {
	workers     int
	capacity    int
	perEndpoint int
	block       bool
	onDone      func(Envelope, Result)
	log         *slog.Logger
	clock       Clock // due times and the scheduler's timer

	mu       sync.Mutex
	ready    []*job // FIFO of due jobs
	delayed  delayHeap
	inflight int
	active   map[uuid.UUID]int // in-flight attempts per webhook
	closed   bool
	changed  chan struct{} // closed and replaced whenever state changes

	ctx    context.Context // attempts run under it; Close cancels it at its deadline
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type job struct {
	env  Envelope
	a    Attempter
	bo   backoff.BackOff
	n    int // attempts made
	last Attempt
	due  time.Time
}

// MemoryOption configures NewMemory. WithClock is one too.
type MemoryOption interface{ applyMemory(*Memory) }

type memoryOption func(*Memory)

func (o memoryOption) applyMemory(m *Memory) { o(m) }

// WithWorkers sets how many attempts run at once (default 8).
func WithWorkers(n int) MemoryOption { return memoryOption(func(m *Memory) { m.workers = n }) }

// WithQueueSize bounds the deliveries held at once, waiting, scheduled for a
// retry or in flight (default 10,000). Beyond it Send fails with ErrQueueFull,
// or waits with WithBlockWhenFull.
func WithQueueSize(n int) MemoryOption { return memoryOption(func(m *Memory) { m.capacity = n }) }

// WithPerEndpoint limits the attempts in flight to one webhook record
// (default: no limit beyond WithWorkers).
func WithPerEndpoint(n int) MemoryOption { return memoryOption(func(m *Memory) { m.perEndpoint = n }) }

// WithBlockWhenFull makes Send wait for room until its context ends instead
// of failing at once with ErrQueueFull. Give the context a deadline.
func WithBlockWhenFull() MemoryOption { return memoryOption(func(m *Memory) { m.block = true }) }

// WithOnDone sets the function called, from a worker, with the final Result
// of each delivery: StatusDelivered or StatusFailed.
func WithOnDone(fn func(Envelope, Result)) MemoryOption {
	return memoryOption(func(m *Memory) { m.onDone = fn })
}

// WithLogger sets the logger for failed deliveries when there is no
// WithOnDone (slog.Default() otherwise).
func WithLogger(l *slog.Logger) MemoryOption { return memoryOption(func(m *Memory) { m.log = l }) }

// NewMemory starts a worker pool.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{workers: 8, capacity: 10_000, active: map[uuid.UUID]int{}, changed: make(chan struct{})}
	for _, o := range opts {
		o.applyMemory(m)
	}
	m.clock = clockOr(m.clock)
	if m.workers < 1 {
		m.workers = 1
	}
	if m.capacity < 1 {
		m.capacity = 1
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(m.workers + 1)
	for i := 0; i < m.workers; i++ {
		go m.work()
	}
	go m.schedule()
	return m
}

// Send implements Transport. It accepts all of envs or none: when they do
// not fit it returns an error matching ErrQueueFull (or waits, with
// WithBlockWhenFull), and after Close one matching ErrClosed.
func (m *Memory) Send(ctx context.Context, a Attempter, envs []Envelope) ([]Result, error) {
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
		changed := m.changed
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
		m.ready = append(m.ready, &job{env: env, a: a, bo: b})
		results[i] = Result{DeliveryID: env.DeliveryID, Status: StatusQueued}
	}
	m.signal()
	m.mu.Unlock()
	return results, nil
}

// Pending is a delivery a closed Memory did not finish.
type Pending struct {
	Envelope Envelope
	// Attempts made before Close gave up on it.
	Attempts int
	// Last is the last attempt, if any was made.
	Last Attempt
}

// Close stops accepting deliveries, lets the workers finish what is in
// flight and what is due, and returns once that is done or ctx ends,
// whichever is first; at ctx's end in-flight attempts are cancelled. It
// returns every delivery left undelivered (retries not yet due included), so
// the application can keep them, and ctx's error if it ended first.
func (m *Memory) Close(ctx context.Context) ([]Pending, error) {
	m.mu.Lock()
	m.closed = true
	m.signal()
	m.mu.Unlock()

	var err error
	for {
		m.mu.Lock()
		idle := len(m.ready) == 0 && m.inflight == 0
		changed := m.changed
		m.mu.Unlock()
		if idle {
			break
		}
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
	defer m.mu.Unlock()
	var left []Pending
	for _, j := range append(m.ready, m.delayed...) {
		left = append(left, Pending{Envelope: j.env, Attempts: j.n, Last: j.last})
	}
	m.ready, m.delayed = nil, nil
	return left, err
}

// Len returns how many deliveries are held: waiting, scheduled or in flight.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outstanding()
}

func (m *Memory) outstanding() int { return len(m.ready) + len(m.delayed) + m.inflight }

// signal wakes everyone waiting for a change; m.mu must be held.
func (m *Memory) signal() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// next takes the first ready job whose endpoint has room; m.mu must be held.
func (m *Memory) next() *job {
	for i, j := range m.ready {
		if m.perEndpoint > 0 && m.active[j.env.WebhookID] >= m.perEndpoint {
			continue
		}
		m.ready = append(m.ready[:i], m.ready[i+1:]...)
		return j
	}
	return nil
}

func (m *Memory) work() {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if m.ctx.Err() != nil {
			m.mu.Unlock()
			return
		}
		j := m.next()
		for j == nil {
			if m.closed && len(m.ready) == 0 || m.ctx.Err() != nil {
				m.mu.Unlock()
				return
			}
			changed := m.changed
			m.mu.Unlock()
			select {
			case <-changed:
			case <-m.ctx.Done():
			}
			m.mu.Lock()
			j = m.next()
		}
		m.inflight++
		m.active[j.env.WebhookID]++
		m.mu.Unlock()

		m.attempt(j)
	}
}

// attempt makes j's next attempt and files j as done or scheduled.
func (m *Memory) attempt(j *job) {
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
	if m.active[j.env.WebhookID]--; m.active[j.env.WebhookID] == 0 {
		delete(m.active, j.env.WebhookID)
	}
	if res == nil && j.due.IsZero() {
		m.ready = append(m.ready, j)
	} else if res == nil {
		heap.Push(&m.delayed, j)
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

// schedule moves delayed jobs to the ready queue when they fall due. It keeps
// one timer, for the earliest due time, and replaces it only when that changes.
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
		next, changed := m.promote()
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
		case <-changed:
		case <-m.ctx.Done():
			return
		}
	}
}

// promote moves the delayed jobs that are due to the ready queue. It returns
// the earliest due time left (zero if none, or once closed) and the channel
// that the next change of state closes.
func (m *Memory) promote() (next time.Time, changed <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	moved := false
	for len(m.delayed) > 0 && !m.delayed[0].due.After(now) && !m.closed {
		m.ready = append(m.ready, heap.Pop(&m.delayed).(*job))
		moved = true
	}
	if len(m.delayed) > 0 && !m.closed {
		next = m.delayed[0].due
	}
	if moved {
		m.signal()
	}
	return next, m.changed
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
