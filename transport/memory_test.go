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

// hold blocks until release is closed or ctx ends.
func hold(release <-chan struct{}) func(context.Context, int) transport.Attempt {
	return func(ctx context.Context, _ int) transport.Attempt {
		select {
		case <-release:
			return ok
		case <-ctx.Done():
			return transport.Attempt{Outcome: transport.Retry, Err: ctx.Err()}
		}
	}
}

type collector struct {
	mu      sync.Mutex
	results map[uuid.UUID]transport.Result
}

func (c *collector) done(env transport.Envelope, r transport.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.results == nil {
		c.results = map[uuid.UUID]transport.Result{}
	}
	c.results[env.DeliveryID] = r
}

func (c *collector) get(id uuid.UUID) (transport.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[id]
	return r, ok
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results)
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
	e := newEndpoints(time.Millisecond)
	good, flakyEP, dead := e.add(succeed), e.add(failTimes(2)), e.add(alwaysFail)
	var c collector
	m := transport.NewMemory(transport.Workers(4), transport.OnDone(c.done))
	envs := envsFor(good, flakyEP, dead, good)
	res, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	require.Len(t, res, 4)
	for i, r := range res {
		assert.Equal(t, transport.StatusQueued, r.Status)
		assert.Equal(t, envs[i].DeliveryID, r.DeliveryID)
	}
	require.Eventually(t, func() bool { return c.len() == 4 }, 5*time.Second, time.Millisecond)
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
	// delay queue, not in the worker.
	e := newEndpoints(time.Hour)
	dead, good := e.add(alwaysFail), e.add(succeed)
	var c collector
	m := transport.NewMemory(transport.Workers(1), transport.OnDone(c.done))
	deadEnvs := envsFor(dead, dead, dead)
	_, err := m.Send(context.Background(), e, deadEnvs)
	require.NoError(t, err)
	goodEnvs := envsFor(good)
	_, err = m.Send(context.Background(), e, goodEnvs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := c.get(goodEnvs[0].DeliveryID); return ok }, 5*time.Second, time.Millisecond)

	left := closeNow(t, m)
	require.Len(t, left, 3, "scheduled retries are handed back on Close")
	for _, p := range left {
		assert.Equal(t, dead, p.Envelope.WebhookID)
		assert.Equal(t, 1, p.Attempts)
		assert.Equal(t, transport.Retry, p.Last.Outcome)
	}
}

func TestMemoryQueueFull(t *testing.T) {
	release := make(chan struct{})
	e := newEndpoints(time.Millisecond)
	slow := e.add(hold(release))
	var c collector
	m := transport.NewMemory(transport.Workers(1), transport.QueueSize(2), transport.OnDone(c.done))
	_, err := m.Send(context.Background(), e, envsFor(slow, slow))
	require.NoError(t, err)
	_, err = m.Send(context.Background(), e, envsFor(slow))
	assert.ErrorIs(t, err, transport.ErrQueueFull)
	_, err = m.Send(context.Background(), e, envsFor(slow, slow, slow))
	assert.ErrorIs(t, err, transport.ErrQueueFull, "more than the whole queue")
	assert.Equal(t, 2, m.Len(), "a refused Send adds nothing")
	close(release)
	require.Eventually(t, func() bool { return c.len() == 2 }, 5*time.Second, time.Millisecond)
	assert.Empty(t, closeNow(t, m))
}

func TestMemoryBlockWhenFull(t *testing.T) {
	release := make(chan struct{})
	e := newEndpoints(time.Millisecond)
	slow := e.add(hold(release))
	var c collector
	m := transport.NewMemory(transport.Workers(1), transport.QueueSize(1), transport.BlockWhenFull(), transport.OnDone(c.done))
	_, err := m.Send(context.Background(), e, envsFor(slow))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = m.Send(ctx, e, envsFor(slow))
	cancel()
	assert.ErrorIs(t, err, transport.ErrQueueFull)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	sent := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := m.Send(ctx, e, envsFor(slow))
		sent <- err
	}()
	close(release) // the first delivery finishes, making room
	require.NoError(t, <-sent)
	require.Eventually(t, func() bool { return c.len() == 2 }, 5*time.Second, time.Millisecond)
	assert.Empty(t, closeNow(t, m))
}

func TestMemoryPerEndpointLimit(t *testing.T) {
	e := newEndpoints(time.Millisecond)
	var calls atomic.Int32
	busy := e.add(func(ctx context.Context, n int) transport.Attempt {
		calls.Add(1)
		time.Sleep(2 * time.Millisecond) // hold the slot so overlaps would show
		return ok
	})
	other := e.add(succeed)
	var c collector
	m := transport.NewMemory(transport.Workers(4), transport.PerEndpoint(1), transport.OnDone(c.done))
	_, err := m.Send(context.Background(), e, envsFor(busy, busy, busy, busy, busy, busy, other, other))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.len() == 8 }, 5*time.Second, time.Millisecond)
	assert.Empty(t, closeNow(t, m))
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.Equal(t, 1, e.maxSeen[busy])
	assert.EqualValues(t, 6, calls.Load())
}

func TestMemoryCloseDeadline(t *testing.T) {
	never := make(chan struct{})
	e := newEndpoints(time.Millisecond)
	stuck := e.add(hold(never))
	m := transport.NewMemory(transport.Workers(2))
	envs := envsFor(stuck, stuck, stuck)
	_, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.inflight[stuck] == 2
	}, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	left, err := m.Close(ctx)
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
			return transport.Attempt{Outcome: transport.Defer, RetryAfter: time.Millisecond}
		}
		assert.Equal(t, 1, n, "deferrals are not attempts")
		return ok
	})
	var c collector
	m := transport.NewMemory(transport.Workers(1), transport.OnDone(c.done))
	envs := envsFor(deferring)
	_, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.len() == 1 }, 5*time.Second, time.Millisecond)
	r, _ := c.get(envs[0].DeliveryID)
	assert.Equal(t, transport.StatusDelivered, r.Status)
	assert.Equal(t, 1, r.Attempts)
	assert.Empty(t, closeNow(t, m))
}
