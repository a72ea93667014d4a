package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

const testTrigger = "myapp/page-updated"

// newClock returns a manual clock at a fixed time: time moves only when a
// test advances it, and rate-limit waits end only then.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func newJumpClock() *clocktest.Jumping {
	return clocktest.NewJumping(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// fakeSender stands in for webhook.Sender's attempt: it refuses deleted and
// disabled records the way the Sender does, and otherwise "answers" status.
type fakeSender struct {
	store    webhook.Store
	status   atomic.Int32
	requests atomic.Int32
}

func newFakeSender(store webhook.Store, status int) *fakeSender {
	f := &fakeSender{store: store}
	f.status.Store(int32(status))
	return f
}

func (f *fakeSender) attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	at := transport.Attempt{Number: n}
	w, err := f.store.Get(ctx, env.WebhookID)
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		at.Outcome, at.Err = transport.Permanent, fmt.Errorf("%w: %s", webhook.ErrWebhookGone, env.WebhookID)
		return at
	case err != nil:
		panic(err)
	case w.Disabled:
		at.Outcome, at.Err = transport.Permanent, fmt.Errorf("%w: %s", webhook.ErrWebhookDisabled, env.WebhookID)
		return at
	}
	f.requests.Add(1)
	at.StatusCode = int(f.status.Load())
	if at.Outcome = transport.Classify(at.StatusCode); at.Outcome != transport.Success {
		at.Err = &transport.StatusError{StatusCode: at.StatusCode}
	}
	return at
}

// gatedNext is an attempt function that blocks until released, for tests of
// attempts in flight.
type gatedNext struct {
	entered chan struct{}
	release chan struct{}
	status  int
}

func newGatedNext(status int) *gatedNext {
	return &gatedNext{entered: make(chan struct{}, 16), release: make(chan struct{}), status: status}
}

func (g *gatedNext) attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	g.entered <- struct{}{}
	<-g.release
	at := transport.Attempt{Number: n, StatusCode: g.status, Outcome: transport.Classify(g.status)}
	if at.Outcome != transport.Success {
		at.Err = &transport.StatusError{StatusCode: g.status}
	}
	return at
}

// async runs fn in a goroutine and returns a channel with its attempt.
func async(fn func() transport.Attempt) <-chan transport.Attempt {
	ch := make(chan transport.Attempt, 1)
	go func() { ch <- fn() }()
	return ch
}

// start runs fn in a goroutine and returns a channel with its attempt and
// one closed when fn has returned.
func start(fn func() transport.Attempt) (<-chan transport.Attempt, <-chan struct{}) {
	ch, done := make(chan transport.Attempt, 1), make(chan struct{})
	go func() {
		defer close(done)
		ch <- fn()
	}()
	return ch, done
}

func newRecord(t *testing.T, store webhook.Store, url string) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: "test", Triggers: []string{testTrigger}, URL: url}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

func envelope(id uuid.UUID) transport.Envelope {
	return transport.Envelope{DeliveryID: uuid.New(), WebhookID: id, Trigger: testTrigger, Body: []byte(`{}`)}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// disabledCalls records WithOnDisable calls.
type disabledCalls struct {
	mu      sync.Mutex
	records []*webhook.Webhook
	reasons []string
}

func (d *disabledCalls) fn(_ context.Context, w *webhook.Webhook, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records = append(d.records, w)
	d.reasons = append(d.reasons, reason)
}

func (d *disabledCalls) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.records)
}
