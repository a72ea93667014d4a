package main

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

// received is one request the local receiver got.
type received struct {
	At         time.Time
	Trigger    string
	DeliveryID string
	Verified   string
	Body       string
}

// receiver stands in for a customer's endpoint: /hooks answers 200, /fail
// 503. It checks each signature against the records in the store, which a
// real receiver would do with the one secret it was given.
type receiver struct {
	store webhook.Store
	mu    sync.Mutex
	got   []received // newest first, at most 20
}

func newReceiver(store webhook.Store) *receiver { return &receiver{store: store} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	got := received{At: time.Now(), Trigger: r.Header.Get(webhook.HeaderTrigger),
		DeliveryID: r.Header.Get(webhook.HeaderDeliveryID), Verified: rc.verify(r.Context(), r.Header, body), Body: string(body)}
	if len(got.Body) > 200 {
		got.Body = got.Body[:200] + "…"
	}
	rc.mu.Lock()
	rc.got = append([]received{got}, rc.got...)
	if len(rc.got) > 20 {
		rc.got = rc.got[:20]
	}
	rc.mu.Unlock()
	if r.URL.Path == "/fail" {
		http.Error(w, "the demo receiver fails on purpose", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "received\n")
}

// verify names the record whose secret signed the request.
func (rc *receiver) verify(ctx context.Context, h http.Header, body []byte) string {
	page, err := rc.store.List(ctx, webhook.ListQuery{AllTenants: true, Limit: webhook.MaxPageSize})
	if err != nil {
		return "cannot list records"
	}
	for _, w := range page.Records {
		var opts []signer.VerifierOption
		if w.Signing.Scheme == "" || w.Signing.Scheme == signer.SchemeTYPO3 {
			opts = append(opts, signer.WithWebhookID(w.ID.String()))
		}
		v, err := signer.NewVerifier(w.Signing, w.Secrets(time.Now()), opts...)
		if err == nil && w.Signing.Scheme != signer.SchemeNone && v.Verify(h, body) == nil {
			return "verified: " + w.Name
		}
	}
	return "not verified"
}

func (rc *receiver) recent() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// newMessage returns the zero value of a registered message type (a
// pointer to one for a pointer type).
func newMessage(typ reflect.Type) trigger.Message {
	if typ.Kind() == reflect.Pointer {
		m, _ := reflect.New(typ.Elem()).Interface().(trigger.Message)
		return m
	}
	m, _ := reflect.Zero(typ).Interface().(trigger.Message)
	return m
}
