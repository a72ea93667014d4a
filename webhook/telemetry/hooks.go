package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// OnDispatch counts the deliveries of a Dispatch that came back failed, which
// only a transport that delivers inline (transport.Sync) reports: Memory
// and River return them queued and report failures later (OnDone,
// OnDeadLetter). Repeats of an idempotent dispatch are not counted again.
// Give it to webhook.WithObserver; DispatcherOptions does.
func (t *Telemetry) OnDispatch(ctx context.Context, d webhook.Dispatched) {
	for _, del := range d.Deliveries {
		if del.Status == transport.StatusFailed && !del.Duplicate {
			env := transport.Envelope{Tenant: del.Tenant, Trigger: del.Trigger}
			t.deadLetter(ctx, env, del.Err)
		}
	}
}

// OnDone counts a transport.Memory delivery that failed; give it to
// transport.WithOnDone, or call it from your own function there (without
// one, Memory logs failures, with one it leaves that to the function).
func (t *Telemetry) OnDone(env transport.Envelope, r transport.Result) {
	if r.Status == transport.StatusFailed {
		t.deadLetter(context.Background(), env, r.Err)
	}
}

// OnDeadLetter counts a durable delivery that gave up; give it to
// outbox.WithOnDeadLetter (or durable.WithOnDeadLetter), or call it from
// your own function there.
func (t *Telemetry) OnDeadLetter(ctx context.Context, env transport.Envelope, res transport.Result) {
	t.deadLetter(ctx, env, res.Err)
}

func (t *Telemetry) deadLetter(ctx context.Context, env transport.Envelope, err error) {
	attrs := t.metricAttrs(env, semconv.ErrorTypeKey.String(ErrorType(err)))
	t.deadLettered.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// OnDisable counts a record the health monitor disabled; give it to
// health.WithOnDisable, or call it from your own function there.
func (t *Telemetry) OnDisable(ctx context.Context, w *webhook.Webhook, _ string) {
	var attrs []attribute.KeyValue
	if t.tenantMetrics {
		attrs = append(attrs, AttrTenant.String(w.Tenant))
	}
	t.autoDisabled.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// Gauges are the sources of the gauges, each read at every collection. Leave
// out what the application does not have.
type Gauges struct {
	// QueueLength reports the deliveries an in-process queue holds, as
	// outhook.queue.length: transport.Memory's Len.
	QueueLength func() int
	// QueueLag reports how long the oldest due delivery of the durable queue
	// has waited, as outhook.queue.lag in seconds: the outbox's QueueLag. An
	// error leaves the gauge out of that collection and goes to
	// OpenTelemetry's error handler (otel.Handle).
	QueueLag func(ctx context.Context) (time.Duration, error)
	// OpenBreakers reports how many endpoints have an open circuit breaker,
	// as outhook.endpoint.breaker_open: the health monitor's OpenBreakers.
	OpenBreakers func() int
}

// AddGauges registers the gauges of g's sources, which exist only once
// the Telemetry is built (the Memory queue, the outbox and the health
// monitor take its hooks). Give each source once: two for one gauge would
// report the same series twice. Close unregisters them.
func (t *Telemetry) AddGauges(g Gauges) error {
	var observables []metric.Observable
	var length, breakers metric.Int64ObservableGauge
	var lag metric.Float64ObservableGauge
	var err error
	if g.QueueLength != nil {
		if length, err = t.meter.Int64ObservableGauge(MetricQueueLength, metric.WithUnit("{delivery}"),
			metric.WithDescription("Deliveries held by the in-process queue: waiting, scheduled or in flight.")); err != nil {
			return err
		}
		observables = append(observables, length)
	}
	if g.QueueLag != nil {
		if lag, err = t.meter.Float64ObservableGauge(MetricQueueLag, metric.WithUnit("s"),
			metric.WithDescription("How long the oldest due delivery of the durable queue has waited for a worker.")); err != nil {
			return err
		}
		observables = append(observables, lag)
	}
	if g.OpenBreakers != nil {
		if breakers, err = t.meter.Int64ObservableGauge(MetricBreakerOpen, metric.WithUnit("{endpoint}"),
			metric.WithDescription("Endpoints whose circuit breaker is open.")); err != nil {
			return err
		}
		observables = append(observables, breakers)
	}
	if len(observables) == 0 {
		return nil
	}
	reg, err := t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if g.QueueLength != nil {
			o.ObserveInt64(length, int64(g.QueueLength()))
		}
		if g.QueueLag != nil {
			if d, err := g.QueueLag(ctx); err != nil {
				otel.Handle(err)
			} else {
				o.ObserveFloat64(lag, d.Seconds())
			}
		}
		if g.OpenBreakers != nil {
			o.ObserveInt64(breakers, int64(g.OpenBreakers()))
		}
		return nil
	}, observables...)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.gauges = append(t.gauges, reg)
	t.mu.Unlock()
	return nil
}
