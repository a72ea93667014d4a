// Package webhooktest helps an application test its use of outhook: a
// Recorder that captures what the application dispatched, assertions in the
// style of River's rivertest, and a Server that receives and verifies
// deliveries the way the real consumer will.
//
// Recording dispatches, without an endpoint:
//
//	rec := webhooktest.NewRecorder()
//	d := webhook.NewDispatcher(store, reg, rec.Option(), webhook.WithTransport(rec.Transport()))
//	app := myapp.New(d)
//	app.SavePage(ctx, 42)
//	msg := webhooktest.RequireDispatched(t, rec, func(m PageUpdated) bool { return m.PageID == 42 },
//		webhooktest.WithTenant("org-42"))
//
// rec.Option (a webhook.WithObserver) records every Dispatch the Dispatcher
// accepts: the typed message, its trigger, tenant and channels, and per
// record reached the exact signed request (method, URL, headers, body) it
// would receive. rec.Transport sends nothing and reports every delivery
// queued. To keep the application's own transport (Sync, Memory, River)
// instead, leave out WithTransport and call rec.Attach(d) once the
// Dispatcher exists: the recorder needs the Dispatcher's Sender to build the
// signed requests, and gets it from rec.Transport or Attach. Assertions:
// RequireDispatched, RequireNotDispatched, RequireDispatchedN and Count.
//
// Receiving and verifying, with a scripted answer:
//
//	srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithStatuses(503, 200))
//	store.Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: srv.URL + "/crm"})
//	d := webhook.NewDispatcher(store, reg, webhooktest.AllowLoopback())
//	...
//	got, err := srv.Wait(ctx, 2) // two verified requests: the 503 and its retry
//
// The Server verifies each request with the scheme and secrets of the
// record whose URL it was sent to, keeps verified and refused requests
// apart, and is closed by t.Cleanup. The default HTTP client refuses
// loopback addresses such as the Server's 127.0.0.1: give the Dispatcher
// AllowLoopback (or outbox.WithSenderOptions(webhooktest.AllowLoopback())).
//
// # With River's rivertest
//
// The same application test works with every transport: the Recorder
// observes the Dispatcher, whichever transport it hands deliveries to. An
// Outbox (webhook/outbox) builds its own Dispatcher; give it the Recorder's
// option when it is opened:
//
//	ob, err := outboxsqlite.Open(path, reg, outbox.WithDispatcherOptions(rec.Option()))
//	rec.Attach(ob.Dispatcher())
//	_, err = ob.DispatchTx(ctx, tx, msg)
//
// An application that dispatches in its own transaction can also check the
// River job with rivertest, in that transaction, before it commits. Each
// delivery is one job of kind durable.Kind in queue durable.Queue, whose
// arguments are durable.Args (DeliveryID, WebhookID, Tenant, Trigger, Body):
//
//	job := rivertest.RequireInsertedTx[*riversqlite.Driver](ctx, t, tx, &durable.Args{},
//		&rivertest.RequireInsertedOpts{Queue: durable.Queue})
//	// job.Args.DeliveryID is the Recorder's Delivery.ID
//
// RequireInsertedTx fails when the table holds more than one job of the
// kind, finished ones included (a message reaching two records makes two
// jobs): use RequireManyInsertedTx then. rivertest sees the job, not the
// typed message or the signed request; the Recorder sees those. On SQLite,
// use a database file for transactions: an in-memory one (":memory:") has
// a single connection, which the open transaction holds while Dispatch
// reads the records.
package webhooktest
