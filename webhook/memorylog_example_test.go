package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/cenkalti/backoff/v4"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// A MemoryLog records every attempt under Sync or Memory and keeps the
// latest deliveries with their bodies, so that one that failed can be sent
// again, with the same delivery ID, once the receiver is back.
func ExampleNewResender() {
	ctx := context.Background()
	var up atomic.Bool
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("received %s\n", body)
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()
	_ = store.Create(ctx, &webhook.Webhook{Name: "CRM", Triggers: []string{"myapp/page-updated"}, URL: receiver.URL})

	log := webhook.NewMemoryLog(webhook.WithDeliveriesPerRecord(50))
	d := webhook.NewDispatcher(store, reg,
		webhook.WithMiddleware(webhook.LogAttempts(log)),
		webhook.WithBackOff(func() backoff.BackOff { return &backoff.StopBackOff{} }), // one attempt, for the example
		webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
		webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	deliveries, _ := d.Dispatch(ctx, PageUpdated{PageID: 42, Action: "edit"})
	id := deliveries[0].ID
	fmt.Println("dispatched:", deliveries[0].Status)

	up.Store(true)
	err := webhook.NewResender(d, log).Resend(ctx, id)
	fmt.Println("resent:", err)

	page, _ := log.Attempts(ctx, webhook.AttemptQuery{DeliveryID: id}) // newest first
	for _, a := range page.Attempts {
		fmt.Println("attempt", a.Attempt, a.StatusCode, a.Outcome, a.DeliveryID == id)
	}
	// Output:
	// dispatched: failed
	// received {"page_id":42,"action":"edit"}
	// resent: <nil>
	// attempt 2 200 success true
	// attempt 1 503 retry true
}
