package telemetry

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/outhook/outhook/webhook"
)

// ScopeName is the instrumentation scope of outhook's spans and metrics.
const ScopeName = "github.com/outhook/outhook/webhook/telemetry"

// Metric names. The attempt duration follows OpenTelemetry's HTTP client
// semantic conventions; the others are outhook's own.
const (
	// MetricAttempts counts attempts by outhook.outcome (success, retry,
	// permanent, defer), outhook.status_class (2xx…5xx, absent without a
	// response) and outhook.trigger.
	MetricAttempts = "outhook.delivery.attempts"
	// MetricRequestDuration is the duration of the HTTP requests attempts
	// make, in seconds: http.response.status_code, error.type and, with
	// HTTPClient, http.request.method, server.address and server.port.
	MetricRequestDuration = "http.client.request.duration"
	// MetricDeadLettered counts deliveries that gave up, by outhook.trigger
	// and error.type.
	MetricDeadLettered = "outhook.delivery.dead_lettered"
	// MetricQueueLength is the number of deliveries an in-process queue
	// holds (Gauges.QueueLength).
	MetricQueueLength = "outhook.queue.length"
	// MetricQueueLag is how long the oldest due delivery of the durable
	// queue has waited for a worker, in seconds (Gauges.QueueLag).
	MetricQueueLag = "outhook.queue.lag"
	// MetricBreakerOpen is the number of endpoints whose circuit breaker is
	// open (Gauges.OpenBreakers).
	MetricBreakerOpen = "outhook.endpoint.breaker_open"
	// MetricAutoDisabled counts records the health monitor disabled.
	MetricAutoDisabled = "outhook.webhook.auto_disabled"
)

// Telemetry records spans and metrics of outhook's deliveries. Build one
// with New, plug its parts into the Dispatcher (DispatcherOptions), the
// Sender of a durable worker (SenderOptions) and the hooks of the transport
// and the health monitor (OnDone, OnDeadLetter, OnDisable), add the gauges'
// sources (AddGauges), and Close it before those go away.
// Its methods are safe for concurrent use.
type Telemetry struct {
	tracer        trace.Tracer
	prop          propagation.TextMapPropagator
	tenantMetrics bool

	attempts     metric.Int64Counter
	duration     metric.Float64Histogram
	deadLettered metric.Int64Counter
	autoDisabled metric.Int64Counter

	meter  metric.Meter
	mu     sync.Mutex
	gauges []metric.Registration // AddGauges' callbacks
}

// Option configures New.
type Option func(*config)

type config struct {
	tp            trace.TracerProvider
	mp            metric.MeterProvider
	prop          propagation.TextMapPropagator
	tenantMetrics bool
}

// WithTracerProvider sets where spans go (otel.GetTracerProvider()
// otherwise).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets where metrics go (otel.GetMeterProvider()
// otherwise).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithPropagator sets the format trace context travels in: in each
// delivery's envelope (so attempts made later, or by another process, link
// to the span that dispatched it) and, for records with PropagateTrace, in
// the request headers. The default is W3C Trace Context alone
// (propagation.TraceContext{}): baggage is left out, as it would be handed
// to receivers.
func WithPropagator(p propagation.TextMapPropagator) Option { return func(c *config) { c.prop = p } }

// WithTenantMetrics adds outhook.tenant to the metrics' attributes. Off by
// default: every tenant adds a time series per attribute set, which a
// multi-tenant application with many customers pays for in its metrics
// backend. Spans always carry the tenant.
func WithTenantMetrics() Option { return func(c *config) { c.tenantMetrics = true } }

// New builds a Telemetry: its tracer and instruments. Gauges come with
// AddGauges, once their sources exist. It fails only when the meter
// provider refuses an instrument.
func New(opts ...Option) (*Telemetry, error) {
	c := config{}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = propagation.TraceContext{}
	}
	t := &Telemetry{
		tracer:        c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:          c.prop,
		tenantMetrics: c.tenantMetrics,
	}
	t.meter = c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	if err := t.instruments(t.meter); err != nil {
		return nil, err
	}
	return t, nil
}

// instruments creates the counters and the duration histogram.
func (t *Telemetry) instruments(meter metric.Meter) error {
	var errs [4]error
	t.attempts, errs[0] = meter.Int64Counter(MetricAttempts, metric.WithUnit("{attempt}"),
		metric.WithDescription("Delivery attempts, by outcome; defer counts attempts held back without a request."))
	d, err := httpconv.NewClientRequestDuration(meter)
	t.duration, errs[1] = d.Inst(), err
	t.deadLettered, errs[2] = meter.Int64Counter(MetricDeadLettered, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries that gave up: retries ran out, a permanent failure, or the record went away."))
	t.autoDisabled, errs[3] = meter.Int64Counter(MetricAutoDisabled, metric.WithUnit("{webhook}"),
		metric.WithDescription("Webhook records the health monitor disabled after failing for too long."))
	return errors.Join(errs[:]...)
}

// Close unregisters the gauges' callbacks, so that collections no longer
// call the sources given to AddGauges (an Outbox being closed, say). Spans
// and counters keep working.
func (t *Telemetry) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, r := range t.gauges {
		errs = append(errs, r.Unregister())
	}
	t.gauges = nil
	return errors.Join(errs...)
}

// Propagator returns the webhook.Propagator to give the Dispatcher and the
// Sender (webhook.WithPropagator); SenderOptions includes it.
func (t *Telemetry) Propagator() webhook.Propagator { return propagator{t.prop} }

// propagator adapts an OpenTelemetry TextMapPropagator to webhook.Propagator.
type propagator struct{ p propagation.TextMapPropagator }

func (p propagator) Inject(ctx context.Context, carrier map[string]string) {
	p.p.Inject(ctx, propagation.MapCarrier(carrier))
}

// SenderOptions returns the options that instrument a Sender: the attempt
// Middleware and the Propagator. Give them to a durable worker's Sender
// (outbox.WithSenderOptions) and before other middleware, so that the spans
// and metrics also see attempts that the health monitor holds back.
func (t *Telemetry) SenderOptions() []webhook.SenderOption {
	return []webhook.SenderOption{webhook.WithMiddleware(t.Middleware()), webhook.WithPropagator(t.Propagator())}
}

// DispatcherOptions returns SenderOptions plus the observer (OnDispatch) that
// counts the deliveries transport.Sync gives up on. Put them first among a
// Dispatcher's options.
func (t *Telemetry) DispatcherOptions() []webhook.DispatcherOption {
	opts := []webhook.DispatcherOption{}
	for _, o := range t.SenderOptions() {
		opts = append(opts, o)
	}
	return append(opts, webhook.WithObserver(t.OnDispatch))
}
