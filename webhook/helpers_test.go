package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

const pageTrigger = "myapp/page-updated"

// loopback lets the default client reach the httptest servers on 127.0.0.1,
// which the network guard refuses by default.
var loopback = webhook.WithGuard(netguard.New(netguard.AllowLoopback()))

type pageUpdated struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
}

func (p pageUpdated) JSONSerialize() any { return p }

type rawMessage json.RawMessage

func (r rawMessage) JSONSerialize() any { return json.RawMessage(r) }

type unregistered struct{}

func (unregistered) JSONSerialize() any { return 1 }

// received is one request as a receiver saw it.
type received struct {
	Method string
	Header http.Header
	Body   []byte
}

// receiver is an httptest server that records requests and answers with the
// next of its scripted handlers (the last one repeats).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
	answ []http.HandlerFunc
}

func newReceiver(t *testing.T, answers ...http.HandlerFunc) *receiver {
	t.Helper()
	if len(answers) == 0 {
		answers = []http.HandlerFunc{status(http.StatusNoContent)}
	}
	rc := &receiver{answ: answers}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, received{Method: r.Method, Header: r.Header.Clone(), Body: body})
		h := rc.answ[min(n, len(rc.answ)-1)]
		rc.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func registry(t *testing.T) *trigger.Registry {
	t.Helper()
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](reg, pageTrigger, "A page changed"))
	require.NoError(t, trigger.Register[rawMessage](reg, "myapp/raw", "Raw JSON"))
	return reg
}

func record(t *testing.T, store webhook.Store, url string, mod ...func(*webhook.Webhook)) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: "test", Triggers: []string{pageTrigger}, URL: url}
	for _, m := range mod {
		m(w)
	}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

// fastBackOff retries quickly, at most max attempts in all.
func fastBackOff(max int) func() backoff.BackOff {
	return func() backoff.BackOff {
		return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), uint64(max-1))
	}
}

// fixedLookup serves one record as it is, without a Store's validation.
type fixedLookup struct{ w *webhook.Webhook }

func (l fixedLookup) Get(_ context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	if id != l.w.ID {
		return nil, webhook.ErrNotFound
	}
	return l.w.Clone(), nil
}

func (l fixedLookup) ListActive(_ context.Context, r webhook.Route) ([]*webhook.Webhook, error) {
	if !l.w.Matches(r) {
		return nil, nil
	}
	return []*webhook.Webhook{l.w.Clone()}, nil
}
