package webhooktest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

const (
	pageTrigger  = "myapp/page-updated"
	orderTrigger = "shop/order-paid"
)

// PageUpdated is an application's message.
type PageUpdated struct {
	PageID int    `json:"page_id"`
	Title  string `json:"title"`
}

// JSONSerialize returns the body receivers get.
func (p PageUpdated) JSONSerialize() any { return p }

// OrderPaid belongs to a tenant and carries a campaign channel.
type OrderPaid struct {
	Order    int    `json:"order"`
	Campaign string `json:"-"`
}

// JSONSerialize returns the body receivers get.
func (o OrderPaid) JSONSerialize() any { return o }

// Channels labels the order with its campaign.
func (o OrderPaid) Channels() []string {
	if o.Campaign == "" {
		return nil
	}
	return []string{"campaign/" + o.Campaign}
}

func registry(t testing.TB) *trigger.Registry {
	t.Helper()
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[PageUpdated](reg, pageTrigger, "A page was saved"))
	require.NoError(t, trigger.Register[OrderPaid](reg, orderTrigger, "An order was paid", trigger.PerTenant()))
	return reg
}

// create stores a record of tenant for trigger at url.
func create(t testing.TB, store webhook.Store, url string, mod ...func(*webhook.Webhook)) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: "test", Triggers: []string{pageTrigger}, URL: url}
	for _, m := range mod {
		m(w)
	}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

// quiet keeps the attempts' warnings out of the test output.
var quiet = webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// fastRetries retries at once, at most n attempts in all.
func fastRetries(n int) webhook.SenderOption {
	return webhook.WithBackOff(func() backoff.BackOff {
		return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), uint64(n-1))
	})
}

// fakeTB is a testing.TB whose failures the helpers' tests observe. Only
// the methods the helpers call are implemented.
type fakeTB struct {
	testing.TB

	mu       sync.Mutex
	failed   bool
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = true
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit() // as testing.T's FailNow
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// cleanup runs the cleanups, last first, as the testing package does.
func (f *fakeTB) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// run calls fn with f on a goroutine of its own, as the testing package
// runs a test, so that Fatalf can end it; it reports whether fn failed,
// and what it said.
func (f *fakeTB) run(fn func(t testing.TB)) (failed bool, said string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	failed, said = f.failed, strings.Join(f.logs, "\n")
	f.failed, f.logs = false, nil
	return failed, said
}
