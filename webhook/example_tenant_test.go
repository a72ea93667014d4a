package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// TransactionCreated is a ticket shop's message: it belongs to an
// organization (the tenant) and a campaign (a channel).
type TransactionCreated struct {
	OrderID  string `json:"orderId"`
	Campaign string `json:"-"`
}

// JSONSerialize returns the body receivers get.
func (t TransactionCreated) JSONSerialize() any { return t }

// Channels labels the message with its campaign.
func (t TransactionCreated) Channels() []string { return []string{"campaign/" + t.Campaign} }

// A multi-tenant app: each organization configures its own webhook records,
// optionally for some campaigns only, and a message dispatched for one
// organization reaches none of another's.
func ExampleWithTenant() {
	ctx := context.Background()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	// PerTenant: dispatching it without WithTenant is an error.
	_ = trigger.Register[TransactionCreated](reg, "tikkl/transaction-created", "A ticket order was placed", trigger.PerTenant())
	store := webhook.NewMemoryStore(webhook.WithMaxRecordsPerTenant(20))
	for _, w := range []*webhook.Webhook{
		{Name: "awesomeorg, all campaigns", Tenant: "awesomeorg", URL: receiver.URL + "/awesomeorg/all"},
		{Name: "awesomeorg, tech-conf only", Tenant: "awesomeorg", Channels: []string{"campaign/tech-conf"}, URL: receiver.URL + "/awesomeorg/tech-conf"},
		{Name: "otherorg", Tenant: "otherorg", URL: receiver.URL + "/otherorg"},
	} {
		w.Triggers = []string{"tikkl/transaction-created"}
		_ = store.Create(ctx, w)
	}

	d := webhook.NewDispatcher(store, reg, webhook.WithGuard(netguard.New(netguard.AllowLoopback())))
	_, err := d.Dispatch(ctx, TransactionCreated{OrderID: "123", Campaign: "tech-conf"})
	fmt.Println(err)
	show := func(deliveries []webhook.Delivery) {
		for _, del := range deliveries {
			w, _ := store.Get(ctx, del.WebhookID)
			fmt.Printf("%s: %s\n", w.Name, del.Status)
		}
	}
	deliveries, _ := d.Dispatch(ctx, TransactionCreated{OrderID: "123", Campaign: "tech-conf"},
		webhook.WithTenant("awesomeorg"), webhook.WithIdempotencyKey("order-123"))
	show(deliveries)
	deliveries, _ = d.Dispatch(ctx, TransactionCreated{OrderID: "124", Campaign: "spring-gala"}, webhook.WithTenant("awesomeorg"))
	show(deliveries)
	// Output:
	// webhook: the trigger is per tenant; dispatch it WithTenant: tikkl/transaction-created (webhook_test.TransactionCreated)
	// awesomeorg, all campaigns: delivered
	// awesomeorg, tech-conf only: delivered
	// awesomeorg, all campaigns: delivered
}

// The same idempotency key, tenant and trigger give the first dispatch's
// deliveries again, and send nothing new.
func ExampleWithIdempotencyKey() {
	ctx := context.Background()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("received", r.Header.Get(webhook.HeaderTrigger))
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()
	_ = store.Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: receiver.URL})
	d := webhook.NewDispatcher(store, reg, webhook.WithGuard(netguard.New(netguard.AllowLoopback())))

	first, _ := d.Dispatch(ctx, PageUpdated{PageID: 42}, webhook.WithIdempotencyKey("page-42-v7"))
	again, _ := d.Dispatch(ctx, PageUpdated{PageID: 42}, webhook.WithIdempotencyKey("page-42-v7"))
	fmt.Println(again[0].ID == first[0].ID, again[0].Duplicate, again[0].Status)
	// Output:
	// received myapp/page-updated
	// true true delivered
}
