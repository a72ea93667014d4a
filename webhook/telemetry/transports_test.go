package telemetry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
	"github.com/outhook/outhook/webhook/telemetry"
)

// harness is one transport under test.
type harness struct {
	store    webhook.Store
	dispatch func(ctx context.Context, msg trigger.Message, opts ...webhook.DispatchOption) ([]webhook.Delivery, error)
	// gauge is the gauge the transport reports, if any.
	gauge string
	// jobMeta returns the Meta stored in the deliveries' jobs (River only).
	jobMeta func(t *testing.T) []map[string]string
}

var transports = []struct {
	name string
	open func(t *testing.T, e *otelEnv) harness
	// later: the attempts run outside Dispatch's context.
	later bool
}{
	{"sync", openSync, false},
	{"memory", openMemory, true},
	{"river-sqlite", openRiver, true},
}

func openSync(t *testing.T, e *otelEnv) harness {
	store := webhook.NewMemoryStore()
	d := webhook.NewDispatcher(store, registry(t), append(e.tel.DispatcherOptions(), loopbackClient(e.tel),
		webhook.WithBackOff(twoAttempts), webhook.WithLogger(quietLogger()))...)
	return harness{store: store, dispatch: d.Dispatch}
}

func openMemory(t *testing.T, e *otelEnv) harness {
	store := webhook.NewMemoryStore()
	mem := transport.NewMemory(transport.WithWorkers(2), transport.WithOnDone(e.tel.OnDone))
	t.Cleanup(func() { _, _ = mem.Close(context.Background()) })
	require.NoError(t, e.tel.AddGauges(telemetry.Gauges{QueueLength: mem.Len}))
	d := webhook.NewDispatcher(store, registry(t), append(e.tel.DispatcherOptions(), webhook.WithTransport(mem),
		loopbackClient(e.tel), webhook.WithBackOff(twoAttempts), webhook.WithLogger(quietLogger()))...)
	return harness{store: store, dispatch: d.Dispatch, gauge: telemetry.MetricQueueLength}
}

func openRiver(t *testing.T, e *otelEnv) harness {
	sopts := append(e.tel.SenderOptions(), loopbackClient(e.tel), webhook.WithBackOff(twoAttempts))
	ob, err := outboxsqlite.Open(filepath.Join(t.TempDir(), "outhook.db"), registry(t),
		outbox.WithSenderOptions(sopts...), outbox.WithOnDeadLetter(e.tel.OnDeadLetter),
		outbox.WithFetchPollInterval(20*time.Millisecond), outbox.WithLogger(quietLogger()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { _ = ob.Close(context.Background()); cancel() })
	require.NoError(t, ob.Migrate(ctx))
	require.NoError(t, ob.Start(ctx))
	require.NoError(t, e.tel.AddGauges(telemetry.Gauges{QueueLag: ob.QueueLag}))
	jobMeta := func(t *testing.T) []map[string]string {
		res, err := ob.Client().JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
		require.NoError(t, err)
		var out []map[string]string
		for _, j := range res.Jobs {
			var a durable.Args
			require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
			out = append(out, a.Meta)
		}
		return out
	}
	return harness{store: ob.Store(), dispatch: ob.Dispatch, gauge: telemetry.MetricQueueLag, jobMeta: jobMeta}
}

// Under every transport: one span per attempt, a child of the span that
// dispatched (also when the attempt runs later, on a Memory worker or a
// River job), error status on failures, traceparent sent to the record that
// opted in and to no other, and the attempt, duration and dead-letter
// metrics without record IDs.
func TestEveryTransport(t *testing.T) {
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			e := newOtel(t)
			rc := newReceiver(t, map[string]int{"/fail": 500})
			h := tc.open(t, e)
			ok := createHook(t, h.store, rc.URL+"/ok", true)
			bad := createHook(t, h.store, rc.URL+"/fail", false)

			ctx, dispatch := e.app.Start(context.Background(), "place order")
			_, err := h.dispatch(ctx, OrderPlaced{ID: 7})
			require.NoError(t, err)
			dispatch.End()
			require.Eventually(t, func() bool {
				return len(e.attemptSpans("")) == 3 && count(t, e.collect(t), telemetry.MetricDeadLettered) == 1
			}, 30*time.Second, 10*time.Millisecond, "three attempts and one dead letter")

			dsc := dispatch.SpanContext()
			okSpan := checkSpans(t, e, dsc, ok, bad, tc.later)
			checkTraceparent(t, rc, dsc, okSpan)
			checkMetrics(t, e.collect(t))
			if h.gauge != "" {
				v, reported := gauge(t, e.collect(t), h.gauge)
				assert.True(t, reported, h.gauge)
				assert.Zero(t, v, "nothing waits any more")
			}
			if h.jobMeta != nil {
				for _, m := range h.jobMeta(t) {
					assert.Contains(t, m["traceparent"], dsc.TraceID().String(), "the job carries the dispatching span")
				}
			}
		})
	}
}

// checkSpans checks the attempt spans and returns the successful one.
func checkSpans(t *testing.T, e *otelEnv, dsc trace.SpanContext, ok, bad *webhook.Webhook, later bool) sdktrace.ReadOnlySpan {
	okSpans := e.attemptSpans(ok.ID.String())
	require.Len(t, okSpans, 1)
	s := okSpans[0]
	assert.Equal(t, "webhook "+orderTrigger, s.Name())
	assert.Equal(t, trace.SpanKindClient, s.SpanKind())
	assert.Equal(t, dsc.TraceID(), s.SpanContext().TraceID(), "the dispatching span's trace")
	assert.Equal(t, dsc.SpanID(), s.Parent().SpanID(), "a child of the dispatching span")
	assert.Equal(t, later, s.Parent().IsRemote(), "read from the envelope when the attempt runs later")
	assert.Equal(t, codes.Unset, s.Status().Code)
	attrs := s.Attributes()
	assert.NotEmpty(t, attr(attrs, telemetry.AttrDeliveryID).AsString())
	assert.Equal(t, orderTrigger, attr(attrs, telemetry.AttrTrigger).AsString())
	assert.Equal(t, "success", attr(attrs, telemetry.AttrOutcome).AsString())
	assert.EqualValues(t, 1, attr(attrs, telemetry.AttrAttempt).AsInt64())
	assert.EqualValues(t, 200, attr(attrs, semconv.HTTPResponseStatusCodeKey).AsInt64())
	assert.Equal(t, "POST", attr(attrs, semconv.HTTPRequestMethodKey).AsString())
	assert.Equal(t, "127.0.0.1", attr(attrs, semconv.ServerAddressKey).AsString())
	assert.NotZero(t, attr(attrs, semconv.ServerPortKey).AsInt64())

	badSpans := e.attemptSpans(bad.ID.String())
	require.Len(t, badSpans, 2)
	sort.Slice(badSpans, func(i, j int) bool {
		return attr(badSpans[i].Attributes(), telemetry.AttrAttempt).AsInt64() < attr(badSpans[j].Attributes(), telemetry.AttrAttempt).AsInt64()
	})
	for i, s := range badSpans {
		attrs := s.Attributes()
		assert.EqualValues(t, i+1, attr(attrs, telemetry.AttrAttempt).AsInt64())
		assert.Equal(t, codes.Error, s.Status().Code, "a failed attempt")
		assert.Contains(t, s.Status().Description, "500")
		assert.Equal(t, "500", attr(attrs, semconv.ErrorTypeKey).AsString())
		assert.Equal(t, "retry", attr(attrs, telemetry.AttrOutcome).AsString())
		assert.Equal(t, dsc.TraceID(), s.SpanContext().TraceID())
	}
	assert.EqualValues(t, 1, attr(badSpans[1].Attributes(), semconv.HTTPRequestResendCountKey).AsInt64())
	return s
}

// checkTraceparent checks that the opted-in record got the attempt span's
// traceparent and the other record none.
func checkTraceparent(t *testing.T, rc *receiver, dsc trace.SpanContext, okSpan sdktrace.ReadOnlySpan) {
	got := rc.requests("/ok")
	require.Len(t, got, 1)
	want := fmt.Sprintf("00-%s-%s-01", dsc.TraceID(), okSpan.SpanContext().SpanID())
	assert.Equal(t, want, got[0].Get("traceparent"), "the attempt's span, for the record with PropagateTrace")
	failed := rc.requests("/fail")
	require.Len(t, failed, 2)
	for _, h := range failed {
		assert.Empty(t, h.Get("traceparent"), "no trace context for a record without PropagateTrace")
		assert.Empty(t, h.Get("tracestate"))
	}
}

func checkMetrics(t *testing.T, rm metricdata.ResourceMetrics) {
	trg := telemetry.AttrTrigger.String(orderTrigger)
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricAttempts, trg,
		telemetry.AttrOutcome.String("success"), telemetry.AttrStatusClass.String("2xx")))
	assert.EqualValues(t, 2, count(t, rm, telemetry.MetricAttempts, trg,
		telemetry.AttrOutcome.String("retry"), telemetry.AttrStatusClass.String("5xx")))
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricRequestDuration, semconv.HTTPResponseStatusCodeKey.Int(200),
		semconv.HTTPRequestMethodKey.String("POST"), semconv.ServerAddressKey.String("127.0.0.1")))
	assert.EqualValues(t, 2, count(t, rm, telemetry.MetricRequestDuration, semconv.HTTPResponseStatusCodeKey.Int(500),
		semconv.ErrorTypeKey.String("500")))
	assert.EqualValues(t, 1, count(t, rm, telemetry.MetricDeadLettered, trg, semconv.ErrorTypeKey.String("500")))
	noHighCardinality(t, rm)
}

// noHighCardinality checks that no metric carries a record or delivery ID,
// nor the tenant without WithTenantMetrics.
func noHighCardinality(t *testing.T, rm metricdata.ResourceMetrics) {
	check := func(name string, set attribute.Set) {
		for _, k := range []attribute.Key{telemetry.AttrWebhookID, telemetry.AttrDeliveryID, telemetry.AttrTenant} {
			_, found := set.Value(k)
			assert.False(t, found, "%s has %s", name, k)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					check(m.Name, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					check(m.Name, p.Attributes)
				}
			}
		}
	}
}
