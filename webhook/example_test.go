package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// PageUpdated is an application's webhook message.
type PageUpdated struct {
	PageID int    `json:"page_id"`
	Action string `json:"action"`
}

// JSONSerialize returns what receivers get as the JSON body.
func (p PageUpdated) JSONSerialize() any { return p }

func ExampleNewDispatcher() {
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()

	d := webhook.NewDispatcher(store, reg,
		webhook.WithBackOff(webhook.DefaultBackOff),
		webhook.WithAttemptTimeout(10*time.Second),
		webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	deliveries, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1, Action: "new"})
	fmt.Println(len(deliveries), err) // no record subscribes yet
	// Output: 0 <nil>
}

func ExampleDispatcher_Dispatch() {
	ctx := context.Background()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("received %s %s\n", r.Header.Get("Webhook-Trigger"), body)
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()
	_ = store.Create(ctx, &webhook.Webhook{
		Name:     "CRM sync",
		Triggers: []string{"myapp/page-updated"},
		URL:      receiver.URL,
	})

	// The receiver listens on 127.0.0.1, which the default network guard refuses.
	d := webhook.NewDispatcher(store, reg, webhook.WithGuard(netguard.New(netguard.AllowLoopback())))
	deliveries, err := d.Dispatch(ctx, PageUpdated{PageID: 42, Action: "edit"})
	if err != nil {
		panic(err)
	}
	for _, del := range deliveries {
		fmt.Println(del.Status, del.StatusCode, del.Attempts)
	}
	// Output:
	// received myapp/page-updated {"page_id":42,"action":"edit"}
	// delivered 200 1
}

// Retries on the Sync transport follow the schedule given with WithBackOff;
// the delivery ID stays the same on every attempt.
func ExampleWithBackOff() {
	ctx := context.Background()
	answers := []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusOK}
	var ids []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, r.Header.Get(webhook.HeaderDeliveryID))
		w.WriteHeader(answers[len(ids)-1])
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	var store webhook.MemoryStore // the zero value is an empty store
	_ = store.Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: receiver.URL})

	d := webhook.NewDispatcher(&store, reg,
		webhook.WithTransport(transport.NewSync()),
		// Up to 4 attempts, 10 ms apart.
		webhook.WithBackOff(func() backoff.BackOff {
			return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), 3)
		}),
		webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
		webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	deliveries, _ := d.Dispatch(ctx, PageUpdated{PageID: 7, Action: "edit"})
	fmt.Println(deliveries[0].Status, deliveries[0].StatusCode, deliveries[0].Attempts)
	fmt.Println("same delivery ID every time:", ids[0] == ids[1] && ids[1] == ids[2])
	// Output:
	// delivered 200 3
	// same delivery ID every time: true
}

// DispatchVia sends one Dispatch through another transport: here one that
// only holds the deliveries, as a transport bound to a database transaction
// would.
func ExampleDispatcher_DispatchVia() {
	ctx := context.Background()
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()
	_ = store.Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: "https://crm.example/hooks"})

	d := webhook.NewDispatcher(store, reg)
	var held holdTransport
	deliveries, err := d.DispatchVia(ctx, &held, PageUpdated{PageID: 42, Action: "edit"})
	fmt.Println(len(deliveries), deliveries[0].Status, err)
	fmt.Println(string(held.envs[0].Body))
	// Output:
	// 1 queued <nil>
	// {"page_id":42,"action":"edit"}
}

// RotateSecret replaces a record's secret and keeps the old one valid for an
// overlap: a Standard Webhooks record then signs with both, so receivers
// holding either secret accept the deliveries while they switch.
func ExampleRotateSecret() {
	ctx := context.Background()
	var signatures []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		signatures = strings.Fields(r.Header.Get(signer.HeaderWebhookSignature))
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()
	rec := &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: receiver.URL,
		Signing: signer.Config{Scheme: signer.SchemeStandardWebhooks}}
	_ = store.Create(ctx, rec)
	old := rec.Secret

	rotated, err := webhook.RotateSecret(ctx, store, rec.ID, 24*time.Hour)
	if err != nil {
		panic(err)
	}
	fmt.Println("new secret:", rotated.Secret != old, "old one kept:", rotated.PreviousSecret == old)
	fmt.Println("valid now:", len(rotated.Secrets(time.Now())), "after the overlap:", len(rotated.Secrets(time.Now().Add(25*time.Hour))))

	d := webhook.NewDispatcher(store, reg, webhook.WithGuard(netguard.New(netguard.AllowLoopback())))
	_, _ = d.Dispatch(ctx, PageUpdated{PageID: 1, Action: "edit"})
	fmt.Println("signatures sent:", len(signatures))
	// Output:
	// new secret: true old one kept: true
	// valid now: 2 after the overlap: 1
	// signatures sent: 2
}
