package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/telemetry"
)

// A Dispatcher instrumented with telemetry: each attempt is a span under
// the span that dispatched, and counted. The in-memory exporters stand in
// for the application's tracing and metrics pipelines (OTLP, Prometheus).
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := telemetry.New(telemetry.WithTracerProvider(tp), telemetry.WithMeterProvider(mp))
	if err != nil {
		panic(err)
	}

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	reg := trigger.NewRegistry()
	_ = trigger.Register[OrderPlaced](reg, "shop/order-placed", "an order was placed")
	store := webhook.NewMemoryStore()
	_ = store.Create(context.Background(), &webhook.Webhook{Name: "CRM", Triggers: []string{"shop/order-placed"}, URL: receiver.URL})
	client := netguard.NewClient(netguard.New(netguard.AllowLoopback())) // the test receiver is on 127.0.0.1
	d := webhook.NewDispatcher(store, reg, append(tel.DispatcherOptions(), webhook.WithHTTPClient(tel.HTTPClient(client)))...)

	ctx, span := tp.Tracer("shop").Start(context.Background(), "POST /orders")
	_, _ = d.Dispatch(ctx, OrderPlaced{ID: 7})
	span.End()

	for _, s := range spans.Ended() {
		if s.Name() != "POST /orders" {
			fmt.Printf("span %q, child of %q: %v\n", s.Name(), "POST /orders", s.Parent().SpanID() == span.SpanContext().SpanID())
		}
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, p := range sum.DataPoints {
				outcome, _ := p.Attributes.Value(telemetry.AttrOutcome)
				fmt.Printf("%s{outcome=%s}: %d\n", m.Name, outcome.AsString(), p.Value)
			}
		}
	}
	// Output:
	// span "webhook shop/order-placed", child of "POST /orders": true
	// outhook.delivery.attempts{outcome=success}: 1
}
