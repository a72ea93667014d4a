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
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
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

// scripted is an Attempter that returns outcomes in order (the last repeats).
type scripted struct {
	outcomes []transport.Attempt
	calls    atomic.Int32
	maxTries uint64
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
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Second), s.maxTries-1)
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
			var waits []time.Duration
			s := transport.Sync{Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			a := &scripted{outcomes: tt.outcomes, maxTries: tt.maxTries}
			env := transport.Envelope{DeliveryID: uuid.New()}
			res, err := s.Send(context.Background(), a, []transport.Envelope{env})
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

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestSyncCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &scripted{outcomes: []transport.Attempt{flaky}, maxTries: 100}
	envs := []transport.Envelope{{DeliveryID: uuid.New()}}
	s := transport.Sync{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return transport.SleepContext(ctx, d)
	}}
	res, err := s.Send(ctx, a, envs)
	require.NoError(t, err)
	for _, r := range res {
		assert.Equal(t, transport.StatusFailed, r.Status)
		assert.ErrorIs(t, r.Err, context.Canceled)
		var se *transport.StatusError
		assert.True(t, errors.As(r.Err, &se), "the last attempt's error is kept")
	}
}

func TestSleepContext(t *testing.T) {
	assert.NoError(t, transport.SleepContext(context.Background(), time.Microsecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, transport.SleepContext(ctx, time.Hour), context.Canceled)
}
