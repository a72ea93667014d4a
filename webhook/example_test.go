package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

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
