package telemetry

import (
	"context"
	"errors"
	"net"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// Attribute keys of outhook's own; the HTTP ones are semconv's.
const (
	// AttrDeliveryID is the delivery's ID (spans only).
	AttrDeliveryID = attribute.Key("outhook.delivery.id")
	// AttrWebhookID is the record's ID (spans only: one time series per
	// record would be too many).
	AttrWebhookID = attribute.Key("outhook.webhook.id")
	// AttrTenant is the tenant (spans; metrics with WithTenantMetrics).
	AttrTenant = attribute.Key("outhook.tenant")
	// AttrTrigger is the trigger identifier.
	AttrTrigger = attribute.Key("outhook.trigger")
	// AttrAttempt is the attempt number, from 1 (spans only).
	AttrAttempt = attribute.Key("outhook.attempt")
	// AttrOutcome is the attempt's transport.Outcome: success, retry,
	// permanent or defer.
	AttrOutcome = attribute.Key("outhook.outcome")
	// AttrStatusClass is the response status class: 2xx, 3xx, 4xx or 5xx.
	AttrStatusClass = attribute.Key("outhook.status_class")
)

// Middleware returns the attempt middleware: one span per attempt and the
// attempt metrics, under every transport. The span is a child of the
// context the attempt runs in (the dispatching span on transport.Sync) or,
// when that has none (a Memory worker, a River job), of the span that was
// current at Dispatch, read from the envelope's Meta; when both exist and
// differ, the span links to the dispatching one. The attempt runs in the
// span's context, so a record with PropagateTrace receives the attempt's
// traceparent.
func (t *Telemetry) Middleware() transport.Middleware {
	return func(next transport.AttemptFunc) transport.AttemptFunc {
		return func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
			ctx, span, req := t.start(ctx, env, n)
			at := next(ctx, env, n)
			t.end(ctx, span, req, env, at)
			return at
		}
	}
}

// start begins the attempt's span and returns the context to attempt in,
// which carries the span and the record of the request HTTPClient fills.
func (t *Telemetry) start(ctx context.Context, env transport.Envelope, n int) (context.Context, trace.Span, *request) {
	attrs := []attribute.KeyValue{
		AttrDeliveryID.String(env.DeliveryID.String()),
		AttrWebhookID.String(env.WebhookID.String()),
		AttrTenant.String(env.Tenant),
		AttrTrigger.String(env.Trigger),
		AttrAttempt.Int(n),
	}
	if n > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCountKey.Int(n-1))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if len(env.Meta) > 0 {
		dispatched := trace.SpanContextFromContext(t.prop.Extract(context.Background(), propagation.MapCarrier(env.Meta)))
		current := trace.SpanContextFromContext(ctx)
		switch {
		case !dispatched.IsValid():
		case !current.IsValid():
			ctx = trace.ContextWithRemoteSpanContext(ctx, dispatched)
		case current.TraceID() != dispatched.TraceID() || current.SpanID() != dispatched.SpanID():
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: dispatched}))
		}
	}
	name := "webhook"
	if env.Trigger != "" {
		name += " " + env.Trigger
	}
	ctx, span := t.tracer.Start(ctx, name, opts...)
	req := &request{}
	return context.WithValue(ctx, requestKey{}, req), span, req
}

// end finishes the span and records the attempt's metrics.
func (t *Telemetry) end(ctx context.Context, span trace.Span, req *request, env transport.Envelope, at transport.Attempt) {
	method, host, port, sent := req.get()
	var httpAttrs []attribute.KeyValue
	if sent {
		httpAttrs = append(httpAttrs, semconv.HTTPRequestMethodKey.String(method), semconv.ServerAddressKey.String(host))
		if port > 0 {
			httpAttrs = append(httpAttrs, semconv.ServerPortKey.Int(port))
		}
	}
	if at.StatusCode > 0 {
		httpAttrs = append(httpAttrs, semconv.HTTPResponseStatusCodeKey.Int(at.StatusCode))
	}
	failed := at.Outcome == transport.Retry || at.Outcome == transport.Permanent
	if failed {
		httpAttrs = append(httpAttrs, semconv.ErrorTypeKey.String(ErrorType(at.Err)))
	}
	outcome := AttrOutcome.String(at.Outcome.String())
	span.SetAttributes(append(httpAttrs, outcome)...)
	if failed && at.Err != nil {
		span.SetStatus(codes.Error, at.Err.Error())
	} else if failed {
		span.SetStatus(codes.Error, at.Outcome.String())
	}
	span.End()

	counted := t.metricAttrs(env, outcome)
	if at.StatusCode > 0 {
		counted = append(counted, AttrStatusClass.String(strconv.Itoa(at.StatusCode/100)+"xx"))
	}
	t.attempts.Add(ctx, 1, metric.WithAttributes(counted...))
	if sent || (at.Outcome != transport.Defer && (at.StatusCode > 0 || at.Duration > 0)) {
		t.duration.Record(ctx, at.Duration.Seconds(), metric.WithAttributes(httpAttrs...))
	}
}

// metricAttrs are the attributes every delivery metric carries: the trigger,
// the tenant with WithTenantMetrics, and more.
func (t *Telemetry) metricAttrs(env transport.Envelope, more ...attribute.KeyValue) []attribute.KeyValue {
	attrs := append([]attribute.KeyValue{AttrTrigger.String(env.Trigger)}, more...)
	if t.tenantMetrics {
		attrs = append(attrs, AttrTenant.String(env.Tenant))
	}
	return attrs
}

// ErrorType returns the error.type attribute value of an attempt's or a
// delivery's error, with few distinct values as OpenTelemetry asks: the
// status code for an HTTP answer ("503"), a name for outhook's conditions
// ("timeout", "blocked", "redirect", "record_deleted", "record_disabled",
// "tenant_mismatch", "store_unavailable", "budget_exceeded", "closed") and
// otherwise the error's Go type, as semconv.ErrorType gives it.
func ErrorType(err error) string {
	var se *transport.StatusError
	var ne net.Error
	switch {
	case err == nil:
		return semconv.ErrorTypeOther.Value.AsString()
	case errors.As(err, &se):
		return strconv.Itoa(se.StatusCode)
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return semconv.ErrorType(err).Value.AsString()
}

// errorKinds name outhook's error conditions, first match wins.
var errorKinds = []struct {
	err  error
	name string
}{
	{netguard.ErrBlocked, "blocked"},
	{netguard.ErrRedirect, "redirect"},
	{webhook.ErrWebhookGone, "record_deleted"},
	{webhook.ErrWebhookDisabled, "record_disabled"},
	{webhook.ErrTenantMismatch, "tenant_mismatch"},
	{webhook.ErrStoreUnavailable, "store_unavailable"},
	{transport.ErrBudgetExceeded, "budget_exceeded"},
	{transport.ErrClosed, "closed"},
}
