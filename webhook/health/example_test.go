package health_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
)

// PageUpdated is an application's webhook message.
type PageUpdated struct {
	PageID int `json:"page_id"`
}

// JSONSerialize returns what receivers get as the JSON body.
func (p PageUpdated) JSONSerialize() any { return p }

func ExampleNew() {
	ctx := context.Background()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable) // down for good
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page changed")
	store := webhook.NewMemoryStore()
	rec := &webhook.Webhook{Name: "CRM sync", Triggers: []string{"myapp/page-updated"}, URL: receiver.URL}
	_ = store.Create(ctx, rec)

	quiet := slog.New(slog.DiscardHandler)
	m := health.New(store,
		health.WithLogger(quiet),
		// Disable after 3 failed attempts in a row; a real policy adds time,
		// e.g. the default: 20 failures over at least 24 hours.
		health.WithDisablePolicy(health.DisablePolicy{Failures: 3}),
		health.WithBreaker(health.Breaker{Failures: 5, OpenFor: time.Minute}),
		health.WithRateLimit(10, 20),
		health.WithConcurrencyLimit(4),
		health.OnDisable(func(ctx context.Context, w *webhook.Webhook, reason string) {
			// reason: "endpoint failing since <RFC 3339 time>: <details>"
			_, details, _ := strings.Cut(reason, "Z: ")
			fmt.Printf("disabled %q: %s\n", w.Name, details)
		}),
	)
	d := webhook.NewDispatcher(store, reg,
		webhook.WithHTTPClient(receiver.Client()),
		webhook.WithLogger(quiet),
		webhook.WithMiddleware(m.Middleware()),
		webhook.WithBackOff(func() backoff.BackOff {
			return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 2)
		}),
	)
	_, _ = d.Dispatch(ctx, PageUpdated{PageID: 1})

	fmt.Println("breaker:", m.State(rec.ID).Breaker)
	// Output:
	// disabled "CRM sync": 3 consecutive failures, last: receiver answered HTTP 503
	// breaker: closed
}
