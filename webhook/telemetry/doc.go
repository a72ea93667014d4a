// Package telemetry reports outhook's deliveries to OpenTelemetry: a span per
// attempt, linked to the span that dispatched the delivery even when the
// attempt runs later on a Memory worker or in another process on River, and
// metrics for attempts, their HTTP duration, dead letters, queue length and
// lag, open circuit breakers and auto-disabled records. It is a module of
// its own, so that the core imports no OpenTelemetry; it uses only the
// core's seams (attempt middleware, a Propagator, observers and hooks).
//
//	tel, err := telemetry.New() // OpenTelemetry's global providers
//	mem := transport.NewMemory(transport.WithOnDone(tel.OnDone))
//	d := webhook.NewDispatcher(store, reg, append(tel.DispatcherOptions(),
//		webhook.WithTransport(mem), webhook.WithHTTPClient(tel.HTTPClient(nil)))...)
//	err = tel.AddGauges(telemetry.Gauges{QueueLength: mem.Len})
//
// Record and delivery IDs go on spans only; metrics carry the trigger and,
// with WithTenantMetrics, the tenant, so that their number of series stays
// bounded. Trace context reaches receivers only for records that set
// PropagateTrace.
package telemetry
