package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
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

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := health.New(store,
		health.WithLogger(quiet),
		// Disable after 3 failed attempts in a row; a real policy adds time,
		// e.g. the default: 20 failures over at least 24 hours.
		health.WithDisablePolicy(health.DisablePolicy{Failures: 3}),
		health.WithBreaker(health.Breaker{Failures: 5, OpenFor: time.Minute}),
		health.WithRateLimit(10, 20),
		health.WithConcurrencyLimit(4),
		health.WithOnDisable(func(ctx context.Context, w *webhook.Webhook, reason string) {
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

func ExampleMonitor_State() {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rec := &webhook.Webhook{Name: "CRM sync", Triggers: []string{"myapp/page-updated"}, URL: "https://crm.example.com/hook"}
	_ = store.Create(ctx, rec)

	// A manual test clock, so that the times printed are fixed; any
	// transport.Clock does, and transport.SystemClock is the default.
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	m := health.New(store,
		health.WithClock(clock),
		health.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		health.WithBreaker(health.Breaker{Failures: 3, OpenFor: time.Minute}),
	)
	// Stands in for the Sender: the receiver refuses every connection.
	refused := func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		return transport.Attempt{Number: n, Outcome: transport.Retry, Err: errors.New("connection refused")}
	}
	attempt := m.Middleware()(refused)
	env := transport.Envelope{WebhookID: rec.ID, Trigger: "myapp/page-updated"}

	for n := 1; n <= 4; n++ {
		fmt.Printf("attempt %d: %s\n", n, attempt(ctx, env, n).Outcome)
		clock.Advance(time.Second)
	}
	st := m.State(rec.ID)
	fmt.Println("failures:", st.ConsecutiveFailures, "since", st.FirstFailure.Format(time.TimeOnly))
	fmt.Println("last error:", st.LastError)
	fmt.Println("breaker:", st.Breaker, "until", st.HalfOpenAt.Format(time.TimeOnly))

	clock.Advance(time.Minute)
	fmt.Println("a minute later:", m.State(rec.ID).Breaker)
	// Output:
	// attempt 1: retry
	// attempt 2: retry
	// attempt 3: retry
	// attempt 4: defer
	// failures: 3 since 12:00:00
	// last error: connection refused
	// breaker: open until 12:01:02
	// a minute later: half-open
}

func ExampleWithTenantRateLimit() {
	// Each tenant may start 2 attempts at once, and 1 a second after that,
	// over all its records together.
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	m := health.New(nil, health.WithClock(clock), health.WithTenantRateLimit(1, 2), health.WithMaxWait(0))
	// Stands in for the Sender: every receiver answers 200.
	ok := func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
		return transport.Attempt{Number: n, StatusCode: 200, Outcome: transport.Success}
	}
	attempt := m.Middleware()(ok)

	for _, tenant := range []string{"acme", "acme", "acme", "globex"} {
		// Each attempt goes to another of the tenant's records.
		env := transport.Envelope{WebhookID: uuid.New(), Tenant: tenant}
		at := attempt(context.Background(), env, 1)
		fmt.Println(tenant, at.Outcome, errors.Is(at.Err, health.ErrRateLimited), at.RetryAfter)
	}
	// Output:
	// acme success false 0s
	// acme success false 0s
	// acme defer true 1s
	// globex success false 0s
}
