// Package admin serves the administration of outhook's webhooks as an
// http.Handler: a JSON API and a server-rendered web page (TYPO3's System >
// Webhooks), for the operator of an application or, scoped to one tenant,
// as a portal for each of its customers.
//
//	h, err := admin.New(store, reg, func(r *http.Request) (admin.Scope, error) {
//		u, err := app.User(r) // the application's own login
//		if err != nil {
//			return admin.Scope{}, err
//		}
//		return admin.Portal(u.OrgID, u.Name), nil // or admin.Operator(u.Name)
//	}, admin.WithDeliveryLog(log), admin.WithResender(resender),
//		admin.WithHealth(monitor), admin.WithTestSender(dispatcher.Sender()))
//	mux.Handle("/admin/", http.StripPrefix("/admin", h))
//
// The API lives under /api/: the event catalog (every trigger with the JSON
// Schema of its body and an example), records (list, get, create, update,
// delete, enable, disable, rotate the secret, send a test delivery), a
// record's deliveries (filtered by status, resent) and its health. Errors
// are RFC 9457 problem details naming the field at fault. A secret is shown
// once, in the answer to create and rotate, and redacted everywhere else.
//
// The Authorize function is required: it tells each request's Scope, and a
// portal user's requests never see or change another tenant's records or
// deliveries (they are not found). State-changing requests from other
// origins are refused with net/http's CrossOriginProtection, which is the
// forms' CSRF protection; bodies are capped and unknown JSON fields refused.
// The pages use no inline script or style, under a strict
// Content-Security-Policy, and work without JavaScript.
package admin
