package transport_test

import (
	"context"
	"errors"
	"net/http"
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

func TestClassify(t *testing.T) {
	tests := []struct {
		code int
		want transport.Outcome
	}{
		{200, transport.Success}, {201, transport.Success}, {204, transport.Success}, {299, transport.Success},
		{301, transport.Permanent}, {302, transport.Permanent}, {400, transport.Permanent}, {401, transport.Permanent},
		{404, transport.Permanent}, {410, transport.Permanent}, {422, transport.Permanent},
		{408, transport.Retry}, {425, transport.Retry}, {429, transport.Retry},
		{500, transport.Retry}, {502, transport.Retry}, {503, transport.Retry}, {599, transport.Retry},
		{0, transport.Permanent}, {600, transport.Permanent},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, transport.Classify(tt.code), "HTTP %d", tt.code)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := t0
	max := time.Hour
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"12", 12 * time.Second},
		{" 3 ", 3 * time.Second},
		{"999999999999999", max},
		{"7200", max},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), max},
		{"soon", 0},
		{"1.5", 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, transport.ParseRetryAfter(tt.in, now, max), "%q", tt.in)
	}
}

// scripted is an Attempter that returns outcomes in order (the last repeats)
// and retries up to maxTries attempts, interval apart (a second when 0, none
// when negative).
type scripted struct {
	outcomes []transport.Attempt
	calls    atomic.Int32
	maxTries uint64
	interval time.Duration
}

func (s *scripted) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	i := int(s.calls.Add(1)) - 1
	at := s.outcomes[min(i, len(s.outcomes)-1)]
	at.Number = n
	if err := ctx.Err(); err != nil {
		at.Outcome, at.Err = transport.Retry, err
	}
	return at
}

func (s *scripted) NewBackOff() backoff.BackOff {
	interval := s.interval
	if interval == 0 {
		interval = time.Second
	}
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(max(interval, 0)), s.maxTries-1)
}

var (
	ok      = transport.Attempt{Outcome: transport.Success, StatusCode: 200}
	flaky   = transport.Attempt{Outcome: transport.Retry, StatusCode: 503, Err: &transport.StatusError{StatusCode: 503}}
	gone    = transport.Attempt{Outcome: transport.Permanent, StatusCode: 410, Err: &transport.StatusError{StatusCode: 410}}
	later   = transport.Attempt{Outcome: transport.Defer, RetryAfter: 3 * time.Second}
	limited = transport.Attempt{Outcome: transport.Retry, StatusCode: 429, RetryAfter: 42 * time.Second, Err: &transport.StatusError{StatusCode: 429}}
)

func TestSync(t *testing.T) {
	tests := []struct {
		name      string
		outcomes  []transport.Attempt
		maxTries  uint64
		status    transport.Status
		attempts  int
		retryable bool
		waits     []time.Duration
	}{
		{"first try", []transport.Attempt{ok}, 3, transport.StatusDelivered, 1, false, nil},
		{"retry then success", []transport.Attempt{flaky, flaky, ok}, 5, transport.StatusDelivered, 3, false, []time.Duration{time.Second, time.Second}},
		{"permanent", []transport.Attempt{gone, ok}, 5, transport.StatusFailed, 1, false, nil},
		{"exhausted", []transport.Attempt{flaky}, 3, transport.StatusFailed, 3, true, []time.Duration{time.Second, time.Second}},
		{"deferred attempts do not count", []transport.Attempt{later, flaky, later, ok}, 2, transport.StatusDelivered, 2, false, []time.Duration{3 * time.Second, time.Second, 3 * time.Second}},
		{"deferred too long", []transport.Attempt{later}, 5, transport.StatusFailed, 0, true, repeat(3*time.Second, 20)},
		{"retry-after beats backoff", []transport.Attempt{limited, ok}, 3, transport.StatusDelivered, 2, false, []time.Duration{42 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(t0)
			s := transport.NewSync(transport.WithClock(clock))
			a := &scripted{outcomes: tt.outcomes, maxTries: tt.maxTries}
			env := transport.Envelope{DeliveryID: uuid.New()}
			var (
				res []transport.Result
				err error
			)
			waits := runWaits(clock, func() { res, err = s.Send(context.Background(), a, []transport.Envelope{env}) })
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, env.DeliveryID, res[0].DeliveryID)
			assert.Equal(t, tt.status, res[0].Status)
			assert.Equal(t, tt.attempts, res[0].Attempts)
			assert.Equal(t, tt.waits, waits)
			if tt.status == transport.StatusFailed {
				var de *transport.DeliveryError
				require.ErrorAs(t, res[0].Err, &de)
				assert.Equal(t, tt.retryable, de.Retryable)
				assert.Equal(t, tt.attempts, de.Attempts)
				assert.Contains(t, de.Error(), env.DeliveryID.String())
			} else {
				assert.NoError(t, res[0].Err)
			}
		})
	}
}

// t0 is where manual clocks start.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// runWaits runs f, firing each timer started on clock as soon as it waits,
// and returns the timers' durations in order.
func runWaits(clock *clocktest.Clock, f func()) []time.Duration {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	var waits []time.Duration
	for {
		d, ok := clock.FireNext(done)
		if !ok {
			return waits
		}
		waits = append(waits, d)
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestSyncMaxDefer(t *testing.T) {
	tests := []struct {
		name     string
		maxDefer time.Duration
		waits    int
	}{
		{"default", 0, 20}, // DefaultMaxDefer: a minute
		{"shorter", 10 * time.Second, 3},
		{"longer", 90 * time.Minute, 1800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(t0)
			s := transport.NewSync(transport.WithMaxDefer(tt.maxDefer), transport.WithClock(clock))
			a := &scripted{outcomes: []transport.Attempt{later}, maxTries: 3}
			var res []transport.Result
			waits := runWaits(clock, func() {
				res, _ = s.Send(context.Background(), a, []transport.Envelope{{DeliveryID: uuid.New()}})
			})
			assert.Equal(t, repeat(3*time.Second, tt.waits), waits)
			require.Len(t, res, 1)
			assert.Equal(t, transport.StatusFailed, res[0].Status)
			assert.Equal(t, t0.Add(time.Duration(tt.waits)*3*time.Second), clock.Now())
		})
	}
}

func TestSyncZeroValue(t *testing.T) {
	for name, s := range map[string]transport.Transport{
		"Sync{}":    transport.Sync{},
		"&Sync{}":   &transport.Sync{},
		"NewSync()": transport.NewSync(),
	} {
		t.Run(name, func(t *testing.T) {
			// The system clock; a zero retry interval keeps the waits short.
			a := &scripted{outcomes: []transport.Attempt{flaky, ok}, maxTries: 3, interval: -1}
			res, err := s.Send(context.Background(), a, envsFor(uuid.New(), uuid.New()))
			require.NoError(t, err)
			for _, r := range res {
				assert.Equal(t, transport.StatusDelivered, r.Status)
			}
		})
	}
}

func TestSyncCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := clocktest.New(t0)
	a := &scripted{outcomes: []transport.Attempt{flaky}, maxTries: 100}
	envs := []transport.Envelope{{DeliveryID: uuid.New()}, {DeliveryID: uuid.New()}}
	done := make(chan struct{})
	var res []transport.Result
	var err error
	go func() {
		defer close(done)
		res, err = transport.NewSync(transport.WithClock(clock)).Send(ctx, a, envs)
	}()
	require.True(t, clock.WaitTimers(len(envs), done), "both deliveries wait for their retry")
	cancel()
	<-done
	require.NoError(t, err)
	assert.EqualValues(t, len(envs), a.calls.Load(), "no attempt after the cancellation")
	for _, r := range res {
		assert.Equal(t, transport.StatusFailed, r.Status)
		assert.Equal(t, 1, r.Attempts)
		assert.ErrorIs(t, r.Err, context.Canceled)
		var se *transport.StatusError
		assert.True(t, errors.As(r.Err, &se), "the last attempt's error is kept")
	}
	assert.Zero(t, clock.Timers(), "the waits' timers are stopped")
}
