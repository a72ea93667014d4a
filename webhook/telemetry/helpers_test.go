package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/telemetry"
)

// OrderPlaced is the test message.
type OrderPlaced struct {
	ID int `json:"id"`
}

func (o OrderPlaced) JSONSerialize() any { return o }

const orderTrigger = "shop/order-placed"

func registry(t testing.TB) *trigger.Registry {
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[OrderPlaced](reg, orderTrigger, "an order was placed"))
	return reg
}

// otelEnv is a Telemetry on the SDK's in-memory exporters, and an
// application tracer on the same provider for the dispatching spans.
type otelEnv struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tel    *telemetry.Telemetry
	app    trace.Tracer
}

func newOtel(t testing.TB, opts ...telemetry.Option) *otelEnv {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	tel, err := telemetry.New(append([]telemetry.Option{telemetry.WithTracerProvider(tp), telemetry.WithMeterProvider(mp)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Close() })
	return &otelEnv{spans: sr, reader: reader, tel: tel, app: tp.Tracer("app")}
}

// attemptSpans returns the ended attempt spans, of one record when
// recordID is not empty.
func (e *otelEnv) attemptSpans(recordID string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.spans.Ended() {
		if !strings.HasPrefix(s.Name(), "webhook") {
			continue
		}
		if recordID == "" || attr(s.Attributes(), telemetry.AttrWebhookID).AsString() == recordID {
			out = append(out, s)
		}
	}
	return out
}

func (e *otelEnv) collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, e.reader.Collect(context.Background(), &rm))
	return rm
}

func attr(kvs []attribute.KeyValue, k attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// has reports whether set holds every one of want.
func has(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// count adds up the points of a counter, or the counts of a histogram,
// whose attributes hold want.
func count(t testing.TB, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		return 0
	}
	var n int64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, want) {
				n += p.Value
			}
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, want) {
				n += int64(p.Count)
			}
		}
	default:
		t.Fatalf("%s is a %T", name, m.Data)
	}
	return n
}

// gauge returns a gauge's single value, and whether it was reported.
func gauge(t testing.TB, rm metricdata.ResourceMetrics, name string) (float64, bool) {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		return 0, false
	}
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		if len(d.DataPoints) == 1 {
			return float64(d.DataPoints[0].Value), true
		}
	case metricdata.Gauge[float64]:
		if len(d.DataPoints) == 1 {
			return d.DataPoints[0].Value, true
		}
	}
	return 0, false
}

// receiver answers each path with its status (200 for others) and keeps
// the headers of every request.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	status  map[string]int
	headers map[string][]http.Header
}

func newReceiver(t testing.TB, status map[string]int) *receiver {
	rc := &receiver{status: status, headers: map[string][]http.Header{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.headers[r.URL.Path] = append(rc.headers[r.URL.Path], r.Header.Clone())
		code, ok := rc.status[r.URL.Path]
		rc.mu.Unlock()
		if !ok {
			code = http.StatusOK
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests(path string) []http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.headers[path]...)
}

// loopbackClient is the guarded client, allowing the test receiver, with
// the Telemetry's request attributes.
func loopbackClient(tel *telemetry.Telemetry) webhook.SenderOption {
	return webhook.WithHTTPClient(tel.HTTPClient(netguard.NewClient(netguard.New(netguard.AllowLoopback()))))
}

// twoAttempts retries once, at once.
func twoAttempts() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 1)
}

func createHook(t testing.TB, store webhook.Store, url string, propagate bool) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: "test", Triggers: []string{orderTrigger}, URL: url, PropagateTrace: propagate}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
