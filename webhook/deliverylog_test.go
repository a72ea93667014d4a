package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// loggedRow is the part of an attempt row the tests compare.
type loggedRow struct {
	Attempt    int
	StatusCode int
	Outcome    string
}

// rowsOf returns the attempts of one delivery in l, oldest first.
func rowsOf(t *testing.T, l webhook.DeliveryLog, id uuid.UUID) []loggedRow {
	t.Helper()
	page, err := l.Attempts(context.Background(), webhook.AttemptQuery{AllTenants: true, DeliveryID: id})
	require.NoError(t, err)
	out := make([]loggedRow, len(page.Attempts))
	for i, r := range page.Attempts {
		out[len(out)-1-i] = loggedRow{r.Attempt, r.StatusCode, r.Outcome}
	}
	return out
}

// transports are the in-process transports the log and resends run under;
// done waits until the Memory transport has finished n deliveries.
type transportCase struct {
	name string
	new  func(t *testing.T) (transport.Transport, func(n int))
}

var inProcess = []transportCase{
	{"Sync", func(*testing.T) (transport.Transport, func(int)) { return transport.Sync{}, func(int) {} }},
	{"Memory", func(t *testing.T) (transport.Transport, func(int)) {
		var mu sync.Mutex
		done := 0
		changed := make(chan struct{}, 100)
		m := transport.NewMemory(transport.WithOnDone(func(transport.Envelope, transport.Result) {
			mu.Lock()
			done++
			mu.Unlock()
			changed <- struct{}{}
		}))
		t.Cleanup(func() { _, _ = m.Close(context.Background()) })
		return m, func(n int) {
			for {
				mu.Lock()
				d := done
				mu.Unlock()
				if d >= n {
					return
				}
				select {
				case <-changed:
				case <-time.After(10 * time.Second):
					t.Fatalf("%d deliveries done, want %d", d, n)
				}
			}
		}
	}},
}

// One delivery retried 503, 503, 200 logs three rows, numbered 1, 2, 3,
// under every in-process transport.
func TestLogAttempts(t *testing.T) {
	for _, tc := range inProcess {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, status(503), status(503), status(200))
			store := webhook.NewMemoryStore()
			w := record(t, store, rc.URL, func(w *webhook.Webhook) { w.Tenant = "org/42" })
			log := webhook.NewMemoryLog()
			tr, wait := tc.new(t)
			d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithTransport(tr), webhook.WithBackOff(fastBackOff(5)),
				webhook.WithMiddleware(webhook.LogAttempts(log)))
			ds, err := d.Dispatch(context.Background(), pageUpdated{ID: 1}, webhook.WithTenant("org/42"))
			require.NoError(t, err)
			wait(1)
			assert.Equal(t, []loggedRow{{1, 503, "retry"}, {2, 503, "retry"}, {3, 200, "success"}}, rowsOf(t, log, ds[0].ID))
			page, err := log.Attempts(context.Background(), webhook.AttemptQuery{Tenant: "org/42", WebhookID: w.ID})
			require.NoError(t, err)
			require.Len(t, page.Attempts, 3)
			assert.Equal(t, pageTrigger, page.Attempts[0].Trigger)
		})
	}
}

// deferOnce is middleware that defers the first attempt of each delivery,
// as an open circuit breaker does.
func deferOnce() transport.Middleware {
	var mu sync.Mutex
	seen := map[uuid.UUID]bool{}
	return func(next transport.AttemptFunc) transport.AttemptFunc {
		return func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
			mu.Lock()
			first := !seen[env.DeliveryID]
			seen[env.DeliveryID] = true
			mu.Unlock()
			if first {
				return transport.Attempt{Outcome: transport.Defer, RetryAfter: time.Millisecond}
			}
			return next(ctx, env, n)
		}
	}
}

func TestLogAttemptsSkipsDeferrals(t *testing.T) {
	rc := newReceiver(t)
	store := webhook.NewMemoryStore()
	record(t, store, rc.URL)
	log := webhook.NewMemoryLog()
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithMiddleware(webhook.LogAttempts(log), deferOnce()))
	ds, err := d.Dispatch(context.Background(), pageUpdated{ID: 1})
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, ds[0].Status)
	assert.Equal(t, []loggedRow{{1, 204, "success"}}, rowsOf(t, log, ds[0].ID), "the deferral made no request")
}

// brokenLog fails, or panics, on every write.
type brokenLog struct {
	webhook.DeliveryLog
	panics bool
}

func (b brokenLog) RecordAttempt(context.Context, transport.Envelope, transport.Attempt) error {
	if b.panics {
		panic("disk on fire")
	}
	return errors.New("disk full")
}

// A log that fails is reported, and the attempt stands.
func TestLogAttemptsFailureLeavesTheAttempt(t *testing.T) {
	for _, panics := range []bool{false, true} {
		rc := newReceiver(t)
		store := webhook.NewMemoryStore()
		record(t, store, rc.URL)
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		d := webhook.NewDispatcher(store, registry(t), loopback,
			webhook.WithMiddleware(webhook.LogAttempts(brokenLog{panics: panics}, webhook.WithErrorLog(logger))))
		ds, err := d.Dispatch(context.Background(), pageUpdated{ID: 1})
		require.NoError(t, err)
		assert.Equal(t, webhook.StatusDelivered, ds[0].Status)
		assert.Equal(t, 1, ds[0].Attempts)
		assert.Len(t, rc.requests(), 1)
		assert.Contains(t, buf.String(), "webhook attempt not logged")
		assert.Contains(t, buf.String(), ds[0].ID.String())
		if panics {
			assert.Contains(t, buf.String(), "disk on fire")
		} else {
			assert.Contains(t, buf.String(), "disk full")
		}
	}
}

// A resend goes through the Dispatcher's transport with the same delivery
// ID and body, and its attempts continue the count: 1, 2, then 3.
func TestResend(t *testing.T) {
	for _, tc := range inProcess {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rc := newReceiver(t, status(503), status(503), status(200))
			store := webhook.NewMemoryStore()
			record(t, store, rc.URL)
			log := webhook.NewMemoryLog()
			tr, wait := tc.new(t)
			d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithTransport(tr), webhook.WithBackOff(fastBackOff(2)),
				webhook.WithMiddleware(webhook.LogAttempts(log)))
			ds, err := d.Dispatch(ctx, pageUpdated{ID: 7, Title: "seven"})
			require.NoError(t, err)
			wait(1)
			id := ds[0].ID
			require.Equal(t, []loggedRow{{1, 503, "retry"}, {2, 503, "retry"}}, rowsOf(t, log, id))

			r := webhook.NewResender(d, log)
			require.NoError(t, r.Resend(ctx, id))
			wait(2)
			assert.Equal(t, []loggedRow{{1, 503, "retry"}, {2, 503, "retry"}, {3, 200, "success"}}, rowsOf(t, log, id))
			reqs := rc.requests()
			require.Len(t, reqs, 3)
			for _, req := range reqs {
				assert.Equal(t, id.String(), req.Header.Get(webhook.HeaderDeliveryID))
				assert.JSONEq(t, `{"id":7,"title":"seven"}`, string(req.Body))
			}

			assert.ErrorIs(t, r.Resend(ctx, uuid.New()), webhook.ErrDeliveryNotFound)
		})
	}
}

// A resend to a record disabled or deleted since fails as an attempt
// would: permanently, logged as the next attempt.
func TestResendToAGoneRecord(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		remove func(store *webhook.MemoryStore, id uuid.UUID) error
		want   error
	}{
		{"disabled", func(s *webhook.MemoryStore, id uuid.UUID) error {
			_, err := s.Disable(ctx, id, "test", time.Now())
			return err
		}, webhook.ErrWebhookDisabled},
		{"deleted", func(s *webhook.MemoryStore, id uuid.UUID) error { return s.Delete(ctx, id) }, webhook.ErrWebhookGone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, status(200))
			store := webhook.NewMemoryStore()
			w := record(t, store, rc.URL)
			log := webhook.NewMemoryLog()
			d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithMiddleware(webhook.LogAttempts(log)))
			ds, err := d.Dispatch(ctx, pageUpdated{ID: 1})
			require.NoError(t, err)
			require.NoError(t, tc.remove(store, w.ID))

			err = webhook.NewResender(d, log).Resend(ctx, ds[0].ID)
			require.ErrorIs(t, err, tc.want)
			var de *webhook.DeliveryError
			require.ErrorAs(t, err, &de)
			assert.False(t, de.Retryable)
			assert.Equal(t, []loggedRow{{1, 200, "success"}, {2, 0, "permanent"}}, rowsOf(t, log, ds[0].ID))
			assert.Len(t, rc.requests(), 1, "no request for the resend")
		})
	}
}

func TestDispatcherResendRefusesAnEmptyEnvelope(t *testing.T) {
	d := webhook.NewDispatcher(webhook.NewMemoryStore(), registry(t))
	_, err := d.Resend(context.Background(), transport.Envelope{DeliveryID: uuid.New()})
	assert.ErrorIs(t, err, webhook.ErrInvalidEnvelope)
	_, err = d.Resend(context.Background(), transport.Envelope{WebhookID: uuid.New()})
	assert.ErrorIs(t, err, webhook.ErrInvalidEnvelope)
}

// Dispatcher.Resend reports the delivery as Dispatch does, and a Memory
// that is full refuses it.
func TestDispatcherResendReportsTheDelivery(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, status(200))
	store := webhook.NewMemoryStore()
	w := record(t, store, rc.URL)
	d := webhook.NewDispatcher(store, registry(t), loopback)
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: pageTrigger, Body: []byte(`{}`), AttemptOffset: 4}
	del, err := d.Resend(ctx, env)
	require.NoError(t, err)
	assert.Equal(t, webhook.Delivery{ID: env.DeliveryID, WebhookID: w.ID, Trigger: pageTrigger, Status: webhook.StatusDelivered,
		Attempts: 5, StatusCode: 200, Duration: del.Duration}, del)

	closed := transport.NewMemory()
	_, err = closed.Close(ctx)
	require.NoError(t, err)
	d = webhook.NewDispatcher(store, registry(t), loopback, webhook.WithTransport(closed))
	_, err = d.Resend(ctx, env)
	assert.ErrorIs(t, err, transport.ErrClosed)
	assert.Len(t, rc.requests(), 1)
}
