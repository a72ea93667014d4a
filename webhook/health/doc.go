// Package health watches webhook endpoints through the attempts made to them
// and protects them: a circuit breaker stops sending to an endpoint that keeps
// failing and probes it later, per-endpoint rate and concurrency limits keep
// bursts polite, per-tenant ones (WithTenantRateLimit,
// WithTenantConcurrencyLimit) keep one customer's burst from using up
// another's share, and a record that fails for long enough is disabled in the
// Store with a reason, and its owner can be told.
//
// It is transport middleware, so it applies under every transport; attempts
// it holds back come back as transport.Defer and are rescheduled, not lost:
//
//	m := health.New(store, health.WithOnDisable(notifyOwner))
//	d := webhook.NewDispatcher(store, registry, webhook.WithMiddleware(m.Middleware()))
package health
