// Command quickstart shows outhook's whole path on one machine, on the
// embedded default: a durable outbox in a SQLite file (River over
// modernc.org/sqlite, no cgo, no server). It starts a webhook receiver on
// 127.0.0.1, registers a trigger, stores a webhook record, dispatches a
// message, lets the River worker deliver it, has the receiver verify the
// TYPO3 signature, and prints the delivery log. It exits 0 when the delivery
// arrived verified.
//
//	go run ./examples/quickstart            # a temporary database
//	go run ./examples/quickstart -db my.db  # keep it
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
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
	dbPath := flag.String("db", "", "SQLite database file (default: a temporary one, removed at exit)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "outhook-quickstart-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "outhook.db")
	}
	if err := run(ctx, *dbPath, os.Stdout); err != nil {
		log.Fatalf("quickstart: %v", err)
	}
}

func run(ctx context.Context, dbPath string, w io.Writer) error {
	out := &lockedWriter{w: w} // the receiver prints from its own goroutine
	// 1. The application registers its message types as triggers.
	reg := trigger.NewRegistry()
	if err := trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted"); err != nil {
		return err
	}

	// 2. The durable outbox: records, River's job tables and the delivery log
	// live in one SQLite file.
	ob, err := outboxsqlite.Open(dbPath, reg,
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		// The default client refuses internal addresses (SSRF guard); this
		// demo's receiver is on 127.0.0.1, so loopback is allowed explicitly.
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))),
	)
	if err != nil {
		return err
	}
	defer ob.Close(context.Background())
	if err := ob.Migrate(ctx); err != nil {
		return err
	}

	// 3. An administrator creates a webhook record; ID and secret are generated.
	rec := &webhook.Webhook{Name: "Local receiver", Triggers: []string{"myapp/page-updated"}}
	verified := make(chan string, 1)
	recv, err := startReceiver(out, rec, verified)
	if err != nil {
		return err
	}
	defer recv.Close()
	rec.URL = "http://" + recv.Addr + "/hooks"
	if err := ob.Store().Create(ctx, rec); err != nil {
		return err
	}
	fmt.Fprintf(out, "created webhook %s -> %s\n", rec.ID, rec.URL)

	// 4. The application's event hook dispatches a message: it is queued in
	// the database, and a River worker delivers it.
	if err := ob.Start(ctx); err != nil {
		return err
	}
	deliveries, err := ob.Dispatch(ctx, PageUpdated{PageID: 42, Action: "edit", Title: "Home"})
	if err != nil {
		return err
	}
	for _, del := range deliveries {
		fmt.Fprintf(out, "delivery %s: %s\n", del.ID, del.Status)
	}
	var body string
	select {
	case body = <-verified:
		fmt.Fprintf(out, "ok: the receiver verified the signature of %s\n", body)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the delivery: %w", ctx.Err())
	}

	// 5. The delivery log has the attempt (written right after the answer).
	for _, del := range deliveries {
		for {
			attempts, err := ob.Log().ByDelivery(ctx, del.ID)
			if err != nil {
				return err
			}
			if len(attempts) > 0 {
				for _, a := range attempts {
					fmt.Fprintf(out, "log: delivery %s attempt %d: %s, HTTP %d in %s\n",
						a.DeliveryID, a.Attempt, a.Outcome, a.StatusCode, a.Duration.Round(time.Microsecond))
				}
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the delivery log: %w", ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return ob.Stop(ctx)
}

// startReceiver serves on 127.0.0.1 and verifies each request's TYPO3
// signature with the record's UUID and secret, as the receiving service would.
func startReceiver(out io.Writer, rec *webhook.Webhook, verified chan<- string) (*receiver, error) {
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
		v, err := signer.NewVerifier(signer.Config{Scheme: signer.SchemeTYPO3}, []string{rec.Secret.Reveal()},
			signer.WithWebhookID(rec.ID.String()))
		if err == nil {
			err = v.Verify(r.Header, body)
		}
		if err != nil {
			fmt.Fprintf(out, "receiver: refused: %v\n", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(out, "receiver: %s %s\n  Webhook-Signature: %s\n  Webhook-Delivery-Id: %s\n  body: %s\n",
			r.Method, r.URL.Path, r.Header.Get("Webhook-Signature"), r.Header.Get(webhook.HeaderDeliveryID), body)
		w.WriteHeader(http.StatusNoContent)
		select {
		case verified <- string(body):
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return &receiver{srv: srv, Addr: ln.Addr().String()}, nil
}

// lockedWriter serializes writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type receiver struct {
	srv  *http.Server
	Addr string
}

func (r *receiver) Close() { _ = r.srv.Close() }
