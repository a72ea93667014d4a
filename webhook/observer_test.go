package webhook_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

func TestObserverSeesEveryAcceptedDispatch(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rec := &recording{}
	var mu sync.Mutex
	var seen []webhook.Dispatched
	observe := func(_ context.Context, d webhook.Dispatched) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, d)
	}
	d := webhook.NewDispatcher(store, tenantRegistry(t), webhook.WithTransport(rec), webhook.WithObserver(observe))
	w := record(t, store, "https://example.com/a", func(w *webhook.Webhook) { w.Tenant, w.Triggers = "org-1", []string{orderTrigger} })

	_, err := d.Dispatch(ctx, pageUpdated{ID: 1})
	require.NoError(t, err, "no record reached")
	_, err = d.Dispatch(ctx, orderPaid{Order: 7, Campaign: "spring"}, webhook.WithTenant("org-1"), webhook.WithIdempotencyKey("k"))
	require.NoError(t, err)
	_, err = d.Dispatch(ctx, orderPaid{Order: 7}, webhook.WithTenant("org-1"), webhook.WithIdempotencyKey("k"))
	require.NoError(t, err)
	_, err = d.Dispatch(ctx, orderPaid{Order: 8})
	require.ErrorIs(t, err, webhook.ErrTenantRequired)
	rec.err = assert.AnError
	_, err = d.Dispatch(ctx, orderPaid{Order: 9}, webhook.WithTenant("org-1"))
	require.Error(t, err)

	require.Len(t, seen, 3, "failed dispatches are not observed")
	assert.Equal(t, pageUpdated{ID: 1}, seen[0].Message)
	assert.Equal(t, pageTrigger, seen[0].Trigger.Identifier)
	assert.Empty(t, seen[0].Deliveries)
	assert.Equal(t, orderPaid{Order: 7, Campaign: "spring"}, seen[1].Message)
	assert.Equal(t, "org-1", seen[1].Tenant)
	assert.Equal(t, []string{"campaign/spring"}, seen[1].Channels)
	assert.Equal(t, "k", seen[1].IdempotencyKey)
	require.Len(t, seen[1].Deliveries, 1)
	assert.Equal(t, w.ID, seen[1].Deliveries[0].WebhookID)
	assert.True(t, seen[2].Deliveries[0].Duplicate)
	assert.JSONEq(t, `{"order":7}`, string(seen[1].Body), "the body as sent")
	assert.Equal(t, rec.sent()[0].Body, seen[1].Body)
	assert.Nil(t, seen[2].Body, "a repeated key is answered without encoding")
}

// Sender.Request builds exactly what an attempt sends.
func TestSenderRequestIsWhatAnAttemptSends(t *testing.T) {
	rc := newReceiver(t)
	store := webhook.NewMemoryStore()
	w := record(t, store, rc.URL+"/in?x=1", func(w *webhook.Webhook) {
		w.Headers = map[string]string{"X-Api-Key": "k"}
		w.Signing = signer.Config{Scheme: signer.SchemeStandardWebhooks}
	})
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s := webhook.NewSender(store, loopback, webhook.WithClock(func() time.Time { return now }))
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: pageTrigger, Body: []byte(`{"id":1}`)}

	req, err := s.Request(context.Background(), env, now)
	require.NoError(t, err)
	at := s.Attempt(context.Background(), env, 1)
	require.Equal(t, transport.Success, at.Outcome, "%v", at.Err)
	got := rc.requests()
	require.Len(t, got, 1)
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	assert.Equal(t, got[0].Body, body)
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, rc.URL+"/in?x=1", req.URL.String())
	for k, v := range req.Header {
		assert.Equal(t, v, got[0].Header[k], k)
	}
	assert.NotEmpty(t, req.Header.Get("Webhook-Signature"))

	env.Tenant = "other"
	_, err = s.Request(context.Background(), env, now)
	assert.ErrorIs(t, err, webhook.ErrTenantMismatch)
	env.Tenant, env.WebhookID = "", uuid.New()
	_, err = s.Request(context.Background(), env, now)
	assert.ErrorIs(t, err, webhook.ErrWebhookGone)
}

// traceKey is a context key for the fake propagator's trace ID.
type traceKey struct{}

// fakePropagator writes the trace ID in ctx as a traceparent.
type fakePropagator struct{}

func (fakePropagator) Inject(ctx context.Context, carrier map[string]string) {
	if id, ok := ctx.Value(traceKey{}).(string); ok {
		carrier["traceparent"] = id
	}
}

// The dispatching context travels in the envelopes' Meta; receivers get the
// attempt's trace context only when their record opts in.
func TestPropagatorMetaAndOptIn(t *testing.T) {
	rc := newReceiver(t)
	store := webhook.NewMemoryStore()
	on := record(t, store, rc.URL+"/on", func(w *webhook.Webhook) { w.PropagateTrace = true })
	record(t, store, rc.URL+"/off")
	rec := &recording{}
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithPropagator(fakePropagator{}), webhook.WithTransport(rec))
	ctx := context.WithValue(context.Background(), traceKey{}, "00-dispatch-01")
	_, err := d.Dispatch(ctx, pageUpdated{ID: 1})
	require.NoError(t, err)
	envs := rec.sent()
	require.Len(t, envs, 2)
	for _, env := range envs {
		assert.Equal(t, map[string]string{"traceparent": "00-dispatch-01"}, env.Meta)
		actx := context.WithValue(context.Background(), traceKey{}, "00-attempt-01")
		at := d.Sender().Attempt(actx, env, 1)
		require.Equal(t, transport.Success, at.Outcome, "%v", at.Err)
	}
	for _, r := range rc.requests() {
		if r.Header.Get(webhook.HeaderDeliveryID) == "" {
			continue
		}
		want := ""
		for _, env := range envs {
			if env.DeliveryID.String() == r.Header.Get(webhook.HeaderDeliveryID) && env.WebhookID == on.ID {
				want = "00-attempt-01"
			}
		}
		assert.Equal(t, want, r.Header.Get("Traceparent"))
	}

	_, err = d.Dispatch(context.Background(), pageUpdated{ID: 2})
	require.NoError(t, err)
	assert.Nil(t, rec.sent()[2].Meta, "nothing to propagate: no Meta")
}
