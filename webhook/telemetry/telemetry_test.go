package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/telemetry"
)

// envelopeOf returns an envelope whose Meta holds the trace context of ctx's
// span, as the Dispatcher captures it.
func envelopeOf(ctx context.Context, tel *telemetry.Telemetry) transport.Envelope {
	meta := map[string]string{}
	tel.Propagator().Inject(ctx, meta)
	return transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Tenant: "org-42", Trigger: orderTrigger, Meta: meta}
}

// An attempt that runs inside another span (a job's own, say) is that
// span's child and links to the dispatching span; without any span it
// continues the dispatching span's trace.
func TestSpanLinksToTheDispatchingSpan(t *testing.T) {
	e := newOtel(t)
	dctx, dispatch := e.app.Start(context.Background(), "dispatch")
	env := envelopeOf(dctx, e.tel)
	dispatch.End()
	require.Contains(t, env.Meta, "traceparent")
	attempt := e.tel.Middleware()(func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		return transport.Attempt{Number: n, Outcome: transport.Success, StatusCode: 204, Duration: time.Millisecond}
	})

	wctx, job := e.app.Start(context.Background(), "job")
	attempt(wctx, env, 3)
	job.End()
	attempt(context.Background(), env, 4)

	spans := e.attemptSpans(env.WebhookID.String())
	require.Len(t, spans, 2)
	inJob, alone := spans[0], spans[1]
	assert.Equal(t, job.SpanContext().SpanID(), inJob.Parent().SpanID(), "a child of the job's span")
	require.Len(t, inJob.Links(), 1)
	assert.Equal(t, dispatch.SpanContext().SpanID(), inJob.Links()[0].SpanContext.SpanID(), "linked to the dispatching span")
	assert.Equal(t, dispatch.SpanContext().SpanID(), alone.Parent().SpanID())
	assert.Empty(t, alone.Links())
	assert.Equal(t, "org-42", attr(alone.Attributes(), telemetry.AttrTenant).AsString())
	assert.EqualValues(t, 3, attr(alone.Attributes(), semconv.HTTPRequestResendCountKey).AsInt64())
}

// A propagator other than W3C Trace Context can be chosen; the default
// leaves baggage out of what receivers get.
func TestPropagator(t *testing.T) {
	e := newOtel(t, telemetry.WithPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})))
	ctx, span := e.app.Start(context.Background(), "dispatch")
	defer span.End()
	m := map[string]string{}
	e.tel.Propagator().Inject(ctx, m)
	assert.Contains(t, m["traceparent"], span.SpanContext().TraceID().String())

	m = map[string]string{}
	newOtel(t).tel.Propagator().Inject(context.Background(), m)
	assert.Empty(t, m, "no span, nothing to carry")
}

func TestErrorType(t *testing.T) {
	timeout := &net.DNSError{Err: "timeout", IsTimeout: true}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&transport.StatusError{StatusCode: 503}, "503"},
		{fmt.Errorf("wrapped: %w", &transport.StatusError{StatusCode: 410}), "410"},
		{fmt.Errorf("%w: x", webhook.ErrWebhookGone), "record_deleted"},
		{fmt.Errorf("%w: x", webhook.ErrWebhookDisabled), "record_disabled"},
		{fmt.Errorf("%w: x", webhook.ErrTenantMismatch), "tenant_mismatch"},
		{fmt.Errorf("%w: x", webhook.ErrStoreUnavailable), "store_unavailable"},
		{&netguard.BlockedError{}, "blocked"},
		{fmt.Errorf("x: %w", transport.ErrBudgetExceeded), "budget_exceeded"},
		{fmt.Errorf("x: %w", transport.ErrClosed), "closed"},
		{context.DeadlineExceeded, "timeout"},
		{timeout, "timeout"},
		{context.Canceled, "canceled"},
		{errors.New("other"), "*errors.errorString"},
		{nil, "_OTHER"},
	} {
		assert.Equal(t, tc.want, telemetry.ErrorType(tc.err), "%v", tc.err)
	}
}

// The gauges report their sources at each collection, leave out a lag that
// could not be read, and stop after Close.
func TestGauges(t *testing.T) {
	e := newOtel(t)
	lagErr := error(nil)
	require.NoError(t, e.tel.AddGauges(telemetry.Gauges{
		QueueLength:  func() int { return 7 },
		QueueLag:     func(context.Context) (time.Duration, error) { return 1500 * time.Millisecond, lagErr },
		OpenBreakers: func() int { return 2 },
	}))
	rm := e.collect(t)
	for name, want := range map[string]float64{telemetry.MetricQueueLength: 7, telemetry.MetricQueueLag: 1.5, telemetry.MetricBreakerOpen: 2} {
		v, ok := gauge(t, rm, name)
		assert.True(t, ok, name)
		assert.Equal(t, want, v, name)
	}

	lagErr = errors.New("database gone")
	_, ok := gauge(t, e.collect(t), telemetry.MetricQueueLag)
	assert.False(t, ok, "no lag when it cannot be read")

	require.NoError(t, e.tel.Close())
	rm = e.collect(t)
	for _, name := range []string{telemetry.MetricQueueLength, telemetry.MetricQueueLag, telemetry.MetricBreakerOpen} {
		_, ok := gauge(t, rm, name)
		assert.False(t, ok, "%s after Close", name)
	}
	assert.NoError(t, e.tel.AddGauges(telemetry.Gauges{}), "no source, nothing to do")
}

// WithTenantMetrics adds the tenant to the metrics; a repeat of an
// idempotent dispatch does not count its failed deliveries again.
func TestTenantMetricsAndRepeats(t *testing.T) {
	e := newOtel(t, telemetry.WithTenantMetrics())
	rc := newReceiver(t, map[string]int{"/gone": 410})
	store := webhook.NewMemoryStore()
	w := &webhook.Webhook{Name: "t", Tenant: "org-42", Triggers: []string{orderTrigger}, URL: rc.URL + "/gone"}
	require.NoError(t, store.Create(context.Background(), w))
	d := webhook.NewDispatcher(store, registry(t), append(e.tel.DispatcherOptions(), loopbackClient(e.tel),
		webhook.WithLogger(quietLogger()))...)
	for range 2 {
		ds, err := d.Dispatch(context.Background(), OrderPlaced{ID: 1}, webhook.WithTenant("org-42"), webhook.WithIdempotencyKey("order-1"))
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, transport.StatusFailed, ds[0].Status)
	}
	rm := e.collect(t)
	tenant := telemetry.AttrTenant.String("org-42")
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricAttempts, tenant, telemetry.AttrOutcome.String("permanent"),
		telemetry.AttrStatusClass.String("4xx")))
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricDeadLettered, tenant, semconv.ErrorTypeKey.String("410")))
	spans := e.attemptSpans(w.ID.String())
	require.Len(t, spans, 1)
	assert.Equal(t, codes.Error, spans[0].Status().Code)
}

// Without HTTPClient attempts are traced and measured all the same, without
// the request's method and server; attempts that made no request (a record
// deleted meanwhile) are counted but not measured.
func TestWithoutHTTPClient(t *testing.T) {
	e := newOtel(t)
	rc := newReceiver(t, nil)
	store := webhook.NewMemoryStore()
	w := createHook(t, store, rc.URL+"/ok", false)
	sender := webhook.NewSender(store, append(e.tel.SenderOptions(), webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
		webhook.WithLogger(quietLogger()))...)
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: orderTrigger, Body: []byte(`{}`)}
	require.Equal(t, transport.Success, sender.Attempt(context.Background(), env, 1).Outcome)
	require.NoError(t, store.Delete(context.Background(), w.ID))
	require.Equal(t, transport.Permanent, sender.Attempt(context.Background(), env, 2).Outcome)

	rm := e.collect(t)
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricRequestDuration), "only the attempt that sent a request")
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricAttempts, telemetry.AttrOutcome.String("permanent")))
	spans := e.attemptSpans(w.ID.String())
	require.Len(t, spans, 2)
	assert.False(t, attr(spans[0].Attributes(), semconv.ServerAddressKey).AsBool())
	assert.Equal(t, "record_deleted", attr(spans[1].Attributes(), semconv.ErrorTypeKey).AsString())
	assert.Equal(t, codes.Error, spans[1].Status().Code)
}

// Attempts the health monitor holds back are counted as defer, without an
// error or a duration; its open breakers are a gauge, and a record it
// disables is counted.
func TestHealthDeferralsAndAutoDisable(t *testing.T) {
	e := newOtel(t)
	rc := newReceiver(t, map[string]int{"/fail": 500})
	store := webhook.NewMemoryStore()
	attempt := func(m *health.Monitor, w *webhook.Webhook) transport.Outcome {
		sender := webhook.NewSender(store, append(e.tel.SenderOptions(), webhook.WithMiddleware(m.Middleware()),
			loopbackClient(e.tel), webhook.WithLogger(quietLogger()))...)
		env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: orderTrigger, Body: []byte(`{}`)}
		return sender.Attempt(context.Background(), env, 1).Outcome
	}
	quiet := health.WithLogger(quietLogger())

	breaking := createHook(t, store, rc.URL+"/fail", false)
	m := health.New(store, health.WithBreaker(health.Breaker{Failures: 1, OpenFor: time.Hour}), quiet)
	assert.Equal(t, transport.Retry, attempt(m, breaking))
	assert.Equal(t, transport.Defer, attempt(m, breaking), "the breaker is open")
	require.NoError(t, e.tel.AddGauges(telemetry.Gauges{OpenBreakers: m.OpenBreakers}))
	open, reported := gauge(t, e.collect(t), telemetry.MetricBreakerOpen)
	assert.True(t, reported)
	assert.EqualValues(t, 1, open, "one endpoint's breaker is open")

	disabled := createHook(t, store, rc.URL+"/fail", false)
	m = health.New(store, health.WithDisablePolicy(health.DisablePolicy{Failures: 1}), health.WithOnDisable(e.tel.OnDisable), quiet)
	assert.Equal(t, transport.Retry, attempt(m, disabled))

	rm := e.collect(t)
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricAttempts, telemetry.AttrOutcome.String("defer")))
	assert.EqualValues(t, 2, count(t, rm, telemetry.MetricRequestDuration), "a deferral sends nothing")
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricAutoDisabled))
	spans := e.attemptSpans(breaking.ID.String())
	require.Len(t, spans, 2)
	assert.Equal(t, codes.Unset, spans[1].Status().Code, "a deferral is not a failure")
	assert.Equal(t, "defer", attr(spans[1].Attributes(), telemetry.AttrOutcome).AsString())
}

// HTTPClient(nil) wraps the Sender's default client, guard included: the
// loopback receiver is refused, and the refusal is a "blocked" error.
func TestHTTPClientNilIsTheGuardedDefault(t *testing.T) {
	e := newOtel(t)
	rc := newReceiver(t, nil)
	store := webhook.NewMemoryStore()
	w := createHook(t, store, rc.URL+"/ok", false)
	sender := webhook.NewSender(store, append(e.tel.SenderOptions(), webhook.WithHTTPClient(e.tel.HTTPClient(nil)),
		webhook.WithLogger(quietLogger()))...)
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: orderTrigger, Body: []byte(`{}`)}
	at := sender.Attempt(context.Background(), env, 1)
	require.Equal(t, transport.Permanent, at.Outcome)
	assert.ErrorIs(t, at.Err, netguard.ErrBlocked)
	assert.Empty(t, rc.requests("/ok"))
	spans := e.attemptSpans(w.ID.String())
	require.Len(t, spans, 1)
	assert.Equal(t, "blocked", attr(spans[0].Attributes(), semconv.ErrorTypeKey).AsString())
	assert.Equal(t, "127.0.0.1", attr(spans[0].Attributes(), semconv.ServerAddressKey).AsString())
}
