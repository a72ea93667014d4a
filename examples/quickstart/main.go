// Command quickstart shows outhook's whole path on one machine: it starts a
// webhook receiver on 127.0.0.1, registers a trigger, stores a webhook record
// pointing at the receiver, dispatches a message, and has the receiver verify
// the TYPO3 signature. It exits 0 when the delivery arrived verified.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// PageUpdated is the application's message: the value JSONSerialize returns
// is the body the receiver gets.
type PageUpdated struct {
	PageID int    `json:"page_id"`
	Action string `json:"action"`
	Title  string `json:"title"`
}

// JSONSerialize implements trigger.Message.
func (p PageUpdated) JSONSerialize() any { return p }

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatalf("quickstart: %v", err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// 1. The application registers its message types as triggers.
	reg := trigger.NewRegistry()
	if err := trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted"); err != nil {
		return err
	}

	// 2. An administrator creates a webhook record; ID and secret are generated.
	store := webhook.NewMemoryStore()
	rec := &webhook.Webhook{
		Name:     "Local receiver",
		Triggers: []string{"myapp/page-updated"},
		Method:   http.MethodPost,
	}

	// The receiver side: another service that knows the record's UUID and secret.
	verified := make(chan string, 1)
	recv, err := startReceiver(out, func() (string, string) { return rec.ID.String(), rec.Secret }, verified)
	if err != nil {
		return err
	}
	defer recv.Close()

	rec.URL = "http://" + recv.Addr + "/hooks"
	if err := store.Create(ctx, rec); err != nil {
		return err
	}
	fmt.Fprintf(out, "created webhook %s -> %s\n", rec.ID, rec.URL)

	// 3. The application's event hook dispatches a message.
	// The default client refuses internal addresses (SSRF guard); this demo's
	// receiver is on 127.0.0.1, so loopback is allowed explicitly.
	d := webhook.NewDispatcher(store, reg, webhook.WithGuard(netguard.New(netguard.AllowLoopback())))
	deliveries, err := d.Dispatch(ctx, PageUpdated{PageID: 42, Action: "edit", Title: "Home"})
	if err != nil {
		return err
	}
	for _, del := range deliveries {
		fmt.Fprintf(out, "delivery %s: %s after %d attempt(s), HTTP %d\n", del.ID, del.Status, del.Attempts, del.StatusCode)
		if del.Err != nil {
			return del.Err
		}
	}
	select {
	case body := <-verified:
		fmt.Fprintf(out, "ok: the receiver verified the signature of %s\n", body)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startReceiver serves on 127.0.0.1 and verifies each request's TYPO3
// signature with the record's UUID and secret.
func startReceiver(out io.Writer, creds func() (id, secret string), verified chan<- string) (*receiver, error) {
	typo3, err := signer.NewTYPO3("sha256")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		id, secret := creds()
		if err := typo3.Verify(r.Header, []string{secret}, signer.Input{WebhookID: id, Body: body}); err != nil {
			fmt.Fprintf(out, "receiver: refused: %v\n", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(out, "receiver: %s %s\n  Webhook-Signature: %s\n  Webhook-Delivery-Id: %s\n  body: %s\n",
			r.Method, r.URL.Path, r.Header.Get("Webhook-Signature"), r.Header.Get("Webhook-Delivery-Id"), body)
		w.WriteHeader(http.StatusNoContent)
		select {
		case verified <- string(body):
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return &receiver{srv: srv, Addr: ln.Addr().String()}, nil
}

type receiver struct {
	srv  *http.Server
	Addr string
}

func (r *receiver) Close() { _ = r.srv.Close() }
