package webhooktest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// PageService is the application under test: saving a page dispatches
// PageUpdated for the page's site, the tenant.
type PageService struct {
	Webhooks *webhook.Dispatcher
}

// Save saves a page; a draft is not announced.
func (p PageService) Save(ctx context.Context, site string, id int, title string) error {
	// ... the application's own work ...
	if title == "" {
		return nil
	}
	_, err := p.Webhooks.Dispatch(ctx, PageUpdated{PageID: id, Title: title}, webhook.WithTenant(site))
	return err
}

// An application's handler test: it asserts what saving a page dispatched,
// and the signed request the site's record would get, without an endpoint.
func Example() {
	t := &testing.T{} // in a test: the test's t
	ctx := context.Background()
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was saved")
	store := webhook.NewMemoryStore()
	_ = store.Create(ctx, &webhook.Webhook{Name: "CRM", Tenant: "site-42", Triggers: []string{"myapp/page-updated"},
		URL: "https://crm.example/hooks", Signing: signer.Config{Scheme: signer.SchemeStandardWebhooks}})

	rec := webhooktest.NewRecorder()
	app := PageService{Webhooks: webhook.NewDispatcher(store, reg, rec.Option(), webhook.WithTransport(rec.Transport()))}
	_ = app.Save(ctx, "site-42", 42, "Home")

	msg := webhooktest.RequireDispatched(t, rec, func(m PageUpdated) bool { return m.PageID == 42 },
		webhooktest.WithTenant("site-42"))
	fmt.Println(msg.Title)
	req := rec.Dispatches()[0].Deliveries[0].Request
	fmt.Println(req.Method, req.URL, string(req.Body))
	fmt.Println(req.Header.Get("Webhook-Trigger"), req.Header.Get("Webhook-Signature") != "")
	// Output:
	// Home
	// POST https://crm.example/hooks {"page_id":42,"title":"Home"}
	// myapp/page-updated true
}

// Saving a draft announces nothing.
func ExampleRequireNotDispatched() {
	t := &testing.T{} // in a test: the test's t
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was saved")
	rec := webhooktest.NewRecorder()
	app := PageService{Webhooks: webhook.NewDispatcher(webhook.NewMemoryStore(), reg, rec.Option(),
		webhook.WithTransport(rec.Transport()))}

	_ = app.Save(context.Background(), "site-42", 43, "")

	webhooktest.RequireNotDispatched[PageUpdated](t, rec, nil)
	fmt.Println(t.Failed())
	// Output: false
}

// Saving two pages of a site dispatches two messages; Count counts
// without failing.
func ExampleRequireDispatchedN() {
	t := &testing.T{} // in a test: the test's t
	ctx := context.Background()
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was saved")
	rec := webhooktest.NewRecorder()
	app := PageService{Webhooks: webhook.NewDispatcher(webhook.NewMemoryStore(), reg, rec.Option(),
		webhook.WithTransport(rec.Transport()))}

	_ = app.Save(ctx, "site-42", 1, "Home")
	_ = app.Save(ctx, "site-42", 2, "About")
	_ = app.Save(ctx, "site-7", 3, "Contact")

	msgs := webhooktest.RequireDispatchedN[PageUpdated](t, rec, 2, nil, webhooktest.WithTenant("site-42"))
	fmt.Println(msgs[0].Title, msgs[1].Title)
	fmt.Println(webhooktest.Count[PageUpdated](rec, nil))
	// Output:
	// Home About
	// 3
}

// The application keeps its own transport (here Sync, which sends), and a
// Server receives and verifies what the record gets.
func ExampleRecorder_Attach() {
	t := &testing.T{} // in a test: the test's t
	ctx := context.Background()
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was saved")
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store))
	crm := &webhook.Webhook{Name: "CRM", Tenant: "site-42", Triggers: []string{"myapp/page-updated"}, URL: srv.URL + "/crm"}
	_ = store.Create(ctx, crm)

	rec := webhooktest.NewRecorder()
	d := webhook.NewDispatcher(store, reg, rec.Option(), webhooktest.AllowLoopback())
	rec.Attach(d) // the recorder signs with d's Sender
	_ = PageService{Webhooks: d}.Save(ctx, "site-42", 42, "Home")

	webhooktest.RequireDispatched[PageUpdated](t, rec, nil, webhooktest.WithWebhook(crm.ID))
	got := srv.Verified()
	fmt.Println(len(got), got[0].WebhookID == crm.ID, string(got[0].Body))
	// Output: 1 true {"page_id":42,"title":"Home"}
}

// An integration test against a receiver that fails twice: the delivery is
// retried with the same delivery ID until the receiver takes it. Wait
// replaces sleeping.
func ExampleNewServer() {
	t := &testing.T{} // in a test: the test's t
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was saved")
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithStatuses(503, 503, 200))
	_ = store.Create(ctx, &webhook.Webhook{Name: "CRM", Tenant: "site-42", Triggers: []string{"myapp/page-updated"},
		URL: srv.URL + "/crm"})
	app := PageService{Webhooks: webhook.NewDispatcher(store, reg, webhooktest.AllowLoopback(), quiet,
		webhook.WithBackOff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }))}

	_ = app.Save(ctx, "site-42", 42, "Home")

	got, err := srv.Wait(ctx, 3)
	if err != nil {
		panic(err) // in a test: require.NoError(t, err)
	}
	for _, r := range got {
		fmt.Println(r.Attempt, r.Status, r.Header.Get("Webhook-Delivery-Id") == got[0].Header.Get("Webhook-Delivery-Id"))
	}
	fmt.Println(len(srv.Refused()))
	// Output:
	// 1 503 true
	// 2 503 true
	// 3 200 true
	// 0
}
