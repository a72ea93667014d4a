// Package webhook holds webhook records, the Store they live in, and the
// Dispatcher that turns an application's trigger messages into signed HTTP
// deliveries.
//
//	store := webhook.NewMemoryStore()
//	err := store.Create(ctx, &webhook.Webhook{Name: "CRM sync",
//		Triggers: []string{"myapp/page-updated"}, URL: "https://crm.example/hooks"})
//	d := webhook.NewDispatcher(store, reg)
//	deliveries, err := d.Dispatch(ctx, PageUpdated{PageID: 42, Action: "edit"})
//
// Dispatch encodes the message once, finds every active record subscribed to
// its trigger (of its tenant, and of its channels when the record has any)
// and hands one envelope per record to a transport.Transport
// (transport.Sync by default). The Sender makes each attempt: it loads the
// record, signs the body with the record's scheme and secret, sends it with a
// per-attempt timeout and classifies the answer. DispatchVia sends one
// Dispatch through another transport, such as the River transport bound to
// the application's database transaction.
//
// Multi-tenant applications give each record a Tenant and dispatch with
// WithTenant; a trigger registered with trigger.PerTenant cannot be
// dispatched without it. Records may restrict themselves to Channels, which
// messages carry with WithChannels. WithIdempotencyKey makes a repeated
// dispatch return the first one's deliveries. Stores look records up by
// Route through an index, and List pages through one tenant's records.
//
// Records are read and written through a Store. Update is optimistic: a
// record carries the Version it was read at, and an Update based on a stale
// read fails with ErrConflict instead of undoing someone else's write; Modify
// re-reads and retries. The health monitor disables a record with
// Store.Disable, one atomic write. Secrets are of type Secret, which never
// prints, logs or encodes its value; Reveal reads it.
//
// Options are functional, one type per constructor: NewDispatcher takes
// DispatcherOptions, NewSender SenderOptions; every SenderOption is a
// DispatcherOption too (it configures the Dispatcher's Sender), while
// WithTransport, WithMaxBodySize and WithIDGenerator apply to a Dispatcher
// only. A Dispatcher reads records through a Lookup and a Sender through a
// Getter; the full Store is for administration. The zero MemoryStore is an
// empty store, ready to use.
package webhook
