package transport_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
)

// endpoints is an Attempter whose behaviour is chosen per webhook ID.
type endpoints struct {
	mu       sync.Mutex
	behave   map[uuid.UUID]func(ctx context.Context, n int) transport.Attempt
	inflight map[uuid.UUID]int
	maxSeen  map[uuid.UUID]int
	wait     time.Duration
}

func newEndpoints(wait time.Duration) *endpoints {
	return &endpoints{behave: map[uuid.UUID]func(context.Context, int) transport.Attempt{},
		inflight: map[uuid.UUID]int{}, maxSeen: map[uuid.UUID]int{}, wait: wait}
}

func (e *endpoints) add(f func(ctx context.Context, n int) transport.Attempt) uuid.UUID {
	id := uuid.New()
	e.mu.Lock()
	e.behave[id] = f
	e.mu.Unlock()
	return id
}

func (e *endpoints) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	e.mu.Lock()
	f := e.behave[env.WebhookID]
	e.inflight[env.WebhookID]++
	e.maxSeen[env.WebhookID] = max(e.maxSeen[env.WebhookID], e.inflight[env.WebhookID])
	e.mu.Unlock()
	at := f(ctx, n)
	at.Number = n
	e.mu.Lock()
	e.inflight[env.WebhookID]--
	e.mu.Unlock()
	return at
}

func (e *endpoints) NewBackOff() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(e.wait), 4)
}

func succeed(context.Context, int) transport.Attempt    { return ok }
func alwaysFail(context.Context, int) transport.Attempt { return flaky }

// failTimes fails k times, then succeeds.
func failTimes(k int) func(context.Context, int) transport.Attempt {
	return func(_ context.Context, n int) transport.Attempt {
		if n <= k {
			return flaky
		}
		return ok
	}
}

// hold reports on started (when not nil) that an attempt began, then blocks
// until release yields or ctx ends.
func hold(started chan<- struct{}, release <-chan struct{}) func(context.Context, int) transport.Attempt {
	return func(ctx context.Context, _ int) transport.Attempt {
		if started != nil {
			started <- struct{}{}
		}
		select {
		case <-release:
			return ok
		case <-ctx.Done():
			return transport.Attempt{Outcome: transport.Retry, Err: ctx.Err()}
		}
	}
}

// collector gathers the final results a Memory reports.
type collector struct {
	mu      sync.Mutex
	results map[uuid.UUID]transport.Result
	waiters map[int]chan struct{} // closed when len(results) reaches the key
}

func (c *collector) done(env transport.Envelope, r transport.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.results == nil {
		c.results = map[uuid.UUID]transport.Result{}
	}
	c.results[env.DeliveryID] = r
	if ch, ok := c.waiters[len(c.results)]; ok {
		close(ch)
		delete(c.waiters, len(c.results))
	}
}

// reached returns a channel that is closed once n results are in.
func (c *collector) reached(n int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if len(c.results) >= n {
		close(ch)
		return ch
	}
	if c.waiters == nil {
		c.waiters = map[int]chan struct{}{}
	}
	if old, ok := c.waiters[n]; ok {
		return old
	}
	c.waiters[n] = ch
	return ch
}

// await fails the test unless ch is closed within a generous bound; the
// bound only keeps a broken test from hanging until the global timeout.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// drive fires clock's timers, earliest first, until ch is closed, so that
// retries fall due as soon as they are scheduled.
func drive(clock *clocktest.Clock, until <-chan struct{}) {
	for {
		if _, ok := clock.FireNext(until); !ok {
			return
		}
	}
}

func (c *collector) get(id uuid.UUID) (transport.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[id]
	return r, ok
}

func envsFor(ids ...uuid.UUID) []transport.Envelope {
	out := make([]transport.Envelope, len(ids))
	for i, id := range ids {
		out[i] = transport.Envelope{DeliveryID: uuid.New(), WebhookID: id, Trigger: "t/x", Body: []byte(`{}`)}
	}
	return out
}

func closeNow(t *testing.T, m *transport.Memory) []transport.Pending {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	left, err := m.Close(ctx)
	require.NoError(t, err)
	return left
}

func TestMemoryDelivers(t *testing.T) {
	e := newEndpoints(time.Second)
	good, flakyEP, dead := e.add(succeed), e.add(failTimes(2)), e.add(alwaysFail)
	var c collector
	clock := clocktest.New(t0)
	m := transport.NewMemory(transport.WithWorkers(4), transport.WithOnDone(c.done), transport.WithClock(clock))
	envs := envsFor(good, flakyEP, dead, good)
	res, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	require.Len(t, res, 4)
	for i, r := range res {
		assert.Equal(t, transport.StatusQueued, r.Status)
		assert.Equal(t, envs[i].DeliveryID, r.DeliveryID)
	}
	all := c.reached(4)
	go drive(clock, all)
	await(t, all, "4 results")
	assert.Empty(t, closeNow(t, m))

	r, _ := c.get(envs[0].DeliveryID)
	assert.Equal(t, transport.StatusDelivered, r.Status)
	r, _ = c.get(envs[1].DeliveryID)
	assert.Equal(t, transport.StatusDelivered, r.Status)
	assert.Equal(t, 3, r.Attempts)
	r, _ = c.get(envs[2].DeliveryID)
	assert.Equal(t, transport.StatusFailed, r.Status)
	assert.Equal(t, 5, r.Attempts)
	var de *transport.DeliveryError
	require.ErrorAs(t, r.Err, &de)
	assert.True(t, de.Retryable)

	_, err = m.Send(context.Background(), e, envsFor(good))
	assert.ErrorIs(t, err, transport.ErrClosed)
}

func TestMemoryRetriesDoNotOccupyWorkers(t *testing.T) {
	// One worker, a dead endpoint whose retries are an hour apart: the healthy
	// endpoint is still served at once, because waiting retries sit on the
	// delay queue, not in the worker. The clock never moves, so no retry falls
	// due.
	e := newEndpoints(time.Hour)
	dead, good := e.add(alwaysFail), e.add(succeed)
	var c collector
	clock := clocktest.New(t0)
	m := transport.NewMemory(transport.WithWorkers(1), transport.WithOnDone(c.done), transport.WithClock(clock))
	deadEnvs := envsFor(dead, dead, dead)
	_, err := m.Send(context.Background(), e, deadEnvs)
	require.NoError(t, err)
	goodEnvs := envsFor(good)
	_, err = m.Send(context.Background(), e, goodEnvs)
	require.NoError(t, err)
	await(t, c.reached(1), "the healthy delivery")
	_, ok := c.get(goodEnvs[0].DeliveryID)
	require.True(t, ok)
	require.True(t, clock.WaitTimers(1, nil), "the scheduler waits for the first retry")

	left := closeNow(t, m)
	require.Len(t, left, 3, "scheduled retries are handed back on Close")
	for _, p := range left {
		assert.Equal(t, dead, p.Envelope.WebhookID)
		assert.Equal(t, 1, p.Attempts)
		assert.Equal(t, transport.Retry, p.Last.Outcome)
	}
	assert.Zero(t, clock.Timers(), "Close stops the scheduler's timer")
}

func TestMemoryQueueFull(t *testing.T) {
	release := make(chan struct{})
	e := newEndpoints(time.Millisecond)
	slow := e.add(hold(nil, release))
	var c collector
	m := transport.NewMemory(transport.WithWorkers(1), transport.WithQueueSize(2), transport.WithOnDone(c.done))
	_, err := m.Send(context.Background(), e, envsFor(slow, slow))
	require.NoError(t, err)
	_, err = m.Send(context.Background(), e, envsFor(slow))
	assert.ErrorIs(t, err, transport.ErrQueueFull)
	_, err = m.Send(context.Background(), e, envsFor(slow, slow, slow))
	assert.ErrorIs(t, err, transport.ErrQueueFull, "more than the whole queue")
	assert.Equal(t, 2, m.Len(), "a refused Send adds nothing")
	close(release)
	await(t, c.reached(2), "2 results")
	assert.Empty(t, closeNow(t, m))
}

func TestMemoryBlockWhenFull(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	e := newEndpoints(time.Millisecond)
	slow := e.add(hold(started, release))
	var c collector
	m := transport.NewMemory(transport.WithWorkers(1), transport.WithQueueSize(1), transport.WithBlockWhenFull(),
		transport.WithOnDone(c.done))
	_, err := m.Send(context.Background(), e, envsFor(slow))
	require.NoError(t, err)
	<-started

	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	_, err = m.Send(expired, e, envsFor(slow))
	cancel()
	assert.ErrorIs(t, err, transport.ErrQueueFull)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	sent := make(chan error, 1)
	go func() {
		_, err := m.Send(context.Background(), e, envsFor(slow))
		sent <- err
	}()
	close(release) // the first delivery finishes, making room
	require.NoError(t, <-sent)
	<-started
	await(t, c.reached(2), "2 results")
	assert.Empty(t, closeNow(t, m))
}

func TestMemoryPerEndpointLimit(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	e := newEndpoints(time.Millisecond)
	busy := e.add(hold(started, release))
	other := e.add(succeed)
	var c collector
	m := transport.NewMemory(transport.WithWorkers(4), transport.WithPerEndpoint(1), transport.WithOnDone(c.done))
	_, err := m.Send(context.Background(), e, envsFor(busy, busy, busy, busy, busy, busy, other, other))
	require.NoError(t, err)
	// While one busy attempt is held, the other endpoint is served by the
	// idle workers, which leave the remaining busy deliveries waiting.
	<-started
	await(t, c.reached(2), "the other endpoint's 2 results")
	for i := range 6 {
		release <- struct{}{} // the one busy attempt in flight ends
		if i < 5 {
			<-started
		}
	}
	await(t, c.reached(8), "8 results")
	assert.Empty(t, closeNow(t, m))
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.Equal(t, 1, e.maxSeen[busy])
}

func TestMemoryCloseDeadline(t *testing.T) {
	started, never := make(chan struct{}, 3), make(chan struct{})
	e := newEndpoints(time.Millisecond)
	stuck := e.add(hold(started, never))
	m := transport.NewMemory(transport.WithWorkers(2))
	envs := envsFor(stuck, stuck, stuck)
	_, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	<-started
	<-started // both workers hold one; the third delivery waits

	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	left, err := m.Close(expired)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, left, 3, "in-flight and waiting deliveries are all reported")
	got := map[uuid.UUID]bool{}
	for _, p := range left {
		got[p.Envelope.DeliveryID] = true
	}
	for _, env := range envs {
		assert.True(t, got[env.DeliveryID])
	}
}

func TestMemoryDefer(t *testing.T) {
	e := newEndpoints(time.Hour)
	var calls atomic.Int32
	deferring := e.add(func(ctx context.Context, n int) transport.Attempt {
		if calls.Add(1) <= 3 {
			return transport.Attempt{Outcome: transport.Defer, RetryAfter: time.Second}
		}
		assert.Equal(t, 1, n, "deferrals are not attempts")
		return ok
	})
	var c collector
	clock := clocktest.New(t0)
	m := transport.NewMemory(transport.WithWorkers(1), transport.WithOnDone(c.done), transport.WithClock(clock))
	envs := envsFor(deferring)
	_, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	all := c.reached(1)
	go drive(clock, all)
	await(t, all, "the result")
	r, _ := c.get(envs[0].DeliveryID)
	assert.Equal(t, transport.StatusDelivered, r.Status)
	assert.Equal(t, 1, r.Attempts)
	assert.Equal(t, t0.Add(3*time.Second), clock.Now(), "three deferrals a second long")
	assert.Empty(t, closeNow(t, m))
}
