package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
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
	m := transport.NewMemory(transport.WithWorkers(2), transport.WithPerEndpoint(0), transport.WithLogger(quiet))
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
	for i, env := range envs {
		assert.Equal(t, env.DeliveryID, left[i].Envelope.DeliveryID, "in the order Send accepted them")
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

// times returns n copies of id.
func times(id uuid.UUID, n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = id
	}
	return ids
}

// quiet discards log lines, for tests that expect failures without WithOnDone.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMemoryFairShareByDefault(t *testing.T) {
	// Four workers give each record a share of one worker. The hung record's
	// 24 deliveries hold that one and wait in their own queue, so the other
	// record's delivery takes a free worker while they hang.
	started, release := make(chan struct{}, 24), make(chan struct{})
	e := newEndpoints(time.Hour)
	hung, other := e.add(hold(started, release)), e.add(succeed)
	var c collector
	m := transport.NewMemory(transport.WithWorkers(4), transport.WithOnDone(c.done))
	hungEnvs := envsFor(times(hung, 24)...)
	_, err := m.Send(context.Background(), e, hungEnvs)
	require.NoError(t, err)
	otherEnvs := envsFor(other)
	_, err = m.Send(context.Background(), e, otherEnvs)
	require.NoError(t, err)

	await(t, c.reached(1), "the other record's delivery while the hung record's attempts hang")
	r, ok := c.get(otherEnvs[0].DeliveryID)
	require.True(t, ok, "the first result is the other record's")
	assert.Equal(t, transport.StatusDelivered, r.Status)

	close(release)
	await(t, c.reached(25), "25 results")
	assert.Empty(t, closeNow(t, m))
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.Equal(t, 1, e.maxSeen[hung], "a quarter of 4 workers")
}

func TestMemoryPerEndpointShare(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		opts    []transport.MemoryOption
		want    int // attempts in flight to one record, at most and at peak
	}{
		{name: "default, a quarter of 8", workers: 8, want: 2},
		{name: "default, a quarter of 12", workers: 12, want: 3},
		{name: "default, at least one", workers: 3, want: 1},
		{name: "explicit", workers: 8, opts: []transport.MemoryOption{transport.WithPerEndpoint(5)}, want: 5},
		{name: "zero lifts it", workers: 6, opts: []transport.MemoryOption{transport.WithPerEndpoint(0)}, want: 6},
		{name: "negative lifts it", workers: 6, opts: []transport.MemoryOption{transport.WithPerEndpoint(-1)}, want: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 10
			started, release := make(chan struct{}, n), make(chan struct{})
			e := newEndpoints(time.Hour)
			busy, other := e.add(hold(started, release)), e.add(succeed)
			var c collector
			opts := append([]transport.MemoryOption{transport.WithWorkers(tt.workers), transport.WithOnDone(c.done)}, tt.opts...)
			m := transport.NewMemory(opts...)
			_, err := m.Send(context.Background(), e, envsFor(times(busy, n)...))
			require.NoError(t, err)
			for range tt.want {
				await(t, started, "an attempt to the busy record")
			}
			total := n
			if tt.want < tt.workers {
				// A free worker serves another record; by then the busy
				// record holds all it may.
				_, err = m.Send(context.Background(), e, envsFor(other))
				require.NoError(t, err)
				total++
				await(t, c.reached(1), "the other record's delivery")
				assert.Len(t, started, 0, "no attempt beyond the share started")
			}
			close(release)
			await(t, c.reached(total), "every result")
			assert.Empty(t, closeNow(t, m))
			e.mu.Lock()
			defer e.mu.Unlock()
			assert.Equal(t, tt.want, e.maxSeen[busy])
		})
	}
}

// ordered records the order of the deliveries it is asked to attempt.
type ordered struct {
	mu   sync.Mutex
	seen []uuid.UUID
}

func (o *ordered) Attempt(_ context.Context, env transport.Envelope, n int) transport.Attempt {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, env.DeliveryID)
	at := ok
	at.Number = n
	return at
}

func (*ordered) NewBackOff() backoff.BackOff { return &backoff.StopBackOff{} }

func TestMemoryEndpointFIFO(t *testing.T) {
	// With a share of one worker, one record's deliveries are attempted one
	// at a time, in the order they were sent, whatever else is queued.
	var o ordered
	var c collector
	m := transport.NewMemory(transport.WithWorkers(4), transport.WithOnDone(c.done))
	a, b := uuid.New(), uuid.New()
	var want []uuid.UUID
	for range 10 {
		envs := envsFor(a, b, a)
		_, err := m.Send(context.Background(), &o, envs)
		require.NoError(t, err)
		want = append(want, envs[0].DeliveryID, envs[2].DeliveryID)
	}
	await(t, c.reached(30), "30 results")
	assert.Empty(t, closeNow(t, m))
	o.mu.Lock()
	defer o.mu.Unlock()
	var got []uuid.UUID
	for _, id := range o.seen {
		if slices.Contains(want, id) {
			got = append(got, id)
		}
	}
	assert.Equal(t, want, got)
}

func TestMemoryCloseReportsEveryDeliveryOnce(t *testing.T) {
	// Whatever state deliveries are in when Close comes (delivered, failed,
	// scheduled for a retry, deferred, waiting for a worker, in flight), each
	// ends in exactly one WithOnDone call, and those Close returns are the
	// ones reported with ErrClosed.
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	never := make(chan struct{})
	behaviours := []struct {
		name  string
		f     func(context.Context, int) transport.Attempt
		hangs bool
	}{
		{name: "success", f: succeed},
		{name: "permanent", f: func(context.Context, int) transport.Attempt { return gone }},
		{name: "retry", f: alwaysFail},
		{name: "retry once", f: failTimes(1)},
		{name: "defer", f: func(context.Context, int) transport.Attempt {
			return transport.Attempt{Outcome: transport.Defer, RetryAfter: time.Hour}
		}},
		{name: "hang", f: hold(nil, never), hangs: true},
	}
	for round := range 30 {
		// Retries are an hour apart and the manual clock never moves, so
		// retries and deferrals are still scheduled when Close comes.
		e := newEndpoints(time.Hour)
		var records []uuid.UUID
		hangs := false
		for range 1 + rng.IntN(6) {
			b := behaviours[rng.IntN(len(behaviours))]
			records = append(records, e.add(b.f))
			hangs = hangs || b.hangs
		}
		var (
			mu      sync.Mutex
			reports = map[uuid.UUID][]transport.Result{}
		)
		m := transport.NewMemory(transport.WithWorkers(1+rng.IntN(4)), transport.WithPerEndpoint(rng.IntN(3)),
			transport.WithClock(clocktest.New(t0)),
			transport.WithOnDone(func(env transport.Envelope, r transport.Result) {
				mu.Lock()
				defer mu.Unlock()
				reports[env.DeliveryID] = append(reports[env.DeliveryID], r)
			}))
		var sent []transport.Envelope
		for range 1 + rng.IntN(3) {
			ids := make([]uuid.UUID, 1+rng.IntN(15))
			for i := range ids {
				ids[i] = records[rng.IntN(len(records))]
			}
			envs := envsFor(ids...)
			_, err := m.Send(context.Background(), e, envs)
			require.NoError(t, err)
			sent = append(sent, envs...)
		}

		// Hung attempts end only when Close gives up on them: give it an
		// expired context then, a generous one otherwise.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if hangs || rng.IntN(4) == 0 {
			cancel()
		}
		left, err := m.Close(ctx)
		cancel()
		if !hangs {
			require.True(t, err == nil || errors.Is(err, context.Canceled), "round %d: %v", round, err)
		}
		again, err := m.Close(context.Background())
		require.NoError(t, err)
		assert.Empty(t, again, "a second Close has nothing left")

		isLeft := map[uuid.UUID]bool{}
		for _, p := range left {
			isLeft[p.Envelope.DeliveryID] = true
		}
		mu.Lock()
		for _, env := range sent {
			rs := reports[env.DeliveryID]
			if !assert.Len(t, rs, 1, "round %d: reports of delivery %s", round, env.DeliveryID) {
				continue
			}
			r := rs[0]
			assert.Equal(t, env.DeliveryID, r.DeliveryID)
			if isLeft[env.DeliveryID] {
				assert.Equal(t, transport.StatusFailed, r.Status)
				assert.ErrorIs(t, r.Err, transport.ErrClosed)
				var de *transport.DeliveryError
				require.ErrorAs(t, r.Err, &de)
				assert.True(t, de.Retryable)
			} else {
				assert.NotErrorIs(t, r.Err, transport.ErrClosed)
				assert.Contains(t, []transport.Status{transport.StatusDelivered, transport.StatusFailed}, r.Status)
			}
		}
		assert.Len(t, reports, len(sent), "round %d: no report for a delivery never sent", round)
		mu.Unlock()
	}
}

func TestMemoryCloseLogsWhatItGivesUp(t *testing.T) {
	// Without WithOnDone, every failure is one error line, those Close gives
	// up on included.
	var buf safeBuffer
	e := newEndpoints(time.Hour)
	dead, gone := e.add(alwaysFail), e.add(func(context.Context, int) transport.Attempt { return gone })
	clock := clocktest.New(t0)
	m := transport.NewMemory(transport.WithWorkers(1), transport.WithClock(clock),
		transport.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	envs := envsFor(dead, gone, dead)
	_, err := m.Send(context.Background(), e, envs)
	require.NoError(t, err)
	require.True(t, clock.WaitTimers(1, nil), "the scheduler waits for the first retry")
	left := closeNow(t, m)
	require.Len(t, left, 2)

	lines := map[string][]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		assert.Equal(t, "ERROR", rec["level"])
		id, _ := rec["delivery_id"].(string)
		lines[id] = append(lines[id], rec)
	}
	require.Len(t, lines, 3, "one line per delivery")
	for _, env := range envs {
		recs := lines[env.DeliveryID.String()]
		require.Len(t, recs, 1, "delivery %s", env.DeliveryID)
		if env.WebhookID == dead {
			assert.Contains(t, recs[0]["error"], transport.ErrClosed.Error())
		} else {
			assert.Contains(t, recs[0]["error"], "HTTP 410")
		}
	}
}

// safeBuffer is a bytes.Buffer for concurrent writers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMemoryZeroValue(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		var m transport.Memory
		assert.Empty(t, closeNow(t, &m))
		_, err := m.Send(context.Background(), newEndpoints(time.Hour), nil)
		assert.ErrorIs(t, err, transport.ErrClosed)
	})
	t.Run("send", func(t *testing.T) {
		var m transport.Memory
		var attempts atomic.Int32
		e := newEndpoints(time.Hour)
		good := e.add(func(context.Context, int) transport.Attempt {
			attempts.Add(1)
			return ok
		})
		res, err := m.Send(context.Background(), e, envsFor(good, good))
		require.NoError(t, err)
		require.Len(t, res, 2)
		assert.Equal(t, transport.StatusQueued, res[0].Status)
		assert.Empty(t, closeNow(t, &m), "Close waits for due work")
		assert.Equal(t, int32(2), attempts.Load())
	})
}
