// Command outbox shows the durable SQLite transport: it enqueues webhook
// deliveries to a receiver on 127.0.0.1 in one transaction with the app's
// own write, sends them, and exits when all have arrived. Stop it mid-way
// (Ctrl-C, kill -9, or -crash-after) and start it again with the same -db:
// it finishes the work without losing a delivery.
//
//	go run ./examples/outbox -db /tmp/outbox.db -n 2000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// OrderPaid is the app's message.
type OrderPaid struct {
	Order int `json:"order"`
}

// JSONSerialize implements trigger.Message.
func (o OrderPaid) JSONSerialize() any { return o }

func main() {
	dbPath := flag.String("db", "outbox.db", "SQLite database file (kept between runs)")
	n := flag.Int("n", 1000, "deliveries to enqueue on the first run")
	crashAfter := flag.Int("crash-after", 0, "exit abruptly after this many deliveries arrived (0: never)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dbPath, *n, *crashAfter); err != nil {
		fmt.Fprintln(os.Stderr, "outbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dbPath string, n, crashAfter int) error {
	reg := trigger.NewRegistry()
	if err := trigger.Register[OrderPaid](reg, "shop/order-paid", "an order was paid"); err != nil {
		return err
	}
	ob, err := outboxsqlite.Open(dbPath, reg,
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		// The default client refuses loopback and private addresses (SSRF
		// guard); this demo's receiver is on 127.0.0.1.
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))),
	)
	if err != nil {
		return err
	}
	defer ob.Close(context.Background())
	if err := ob.Migrate(ctx); err != nil {
		return err
	}
	// The app's own tables: the orders, and what the receiver got.
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS example_order (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE IF NOT EXISTS example_received (delivery_id TEXT PRIMARY KEY)`,
	} {
		if _, err := ob.DB().ExecContext(ctx, q); err != nil {
			return err
		}
	}

	// The receiver, on a new port each run: the record's URL follows it.
	var arrived atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(webhook.HeaderDeliveryID)
		// A duplicate after a crash has the same delivery ID: de-duplicate on it.
		if _, err := ob.DB().ExecContext(r.Context(), `INSERT OR IGNORE INTO example_received (delivery_id) VALUES (?)`, id); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if got := arrived.Add(1); crashAfter > 0 && got >= int64(crashAfter) {
			fmt.Println("crashing on purpose, mid-way")
			os.Exit(3) // no cleanup at all, like kill -9
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/hooks"

	page, err := ob.Store().List(ctx, webhook.ListQuery{Limit: 1})
	if err != nil {
		return err
	}
	if hooks := page.Records; len(hooks) == 0 {
		if err := ob.Store().Create(ctx, &webhook.Webhook{Name: "local receiver", Triggers: []string{"shop/order-paid"}, URL: url}); err != nil {
			return err
		}
	} else {
		hooks[0].URL = url
		if err := ob.Store().Update(ctx, hooks[0]); err != nil {
			return err
		}
	}

	// First run: each order and its webhook commit together (DispatchTx).
	var orders int
	if err := ob.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM example_order`).Scan(&orders); err != nil {
		return err
	}
	for i := orders; i < n; i++ {
		tx, err := ob.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO example_order (id) VALUES (?)`, i); err != nil {
			return errors.Join(err, tx.Rollback())
		}
		if _, err := ob.DispatchTx(ctx, tx, OrderPaid{Order: i}); err != nil {
			return errors.Join(err, tx.Rollback())
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	total := max(n, orders)
	fmt.Printf("%d orders, sending their webhooks to %s\n", total, url)
	if err := ob.Start(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var got int
		if err := ob.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM example_received`).Scan(&got); err != nil {
			return err
		}
		if got >= total {
			fmt.Printf("all %d deliveries arrived\n", got)
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Printf("stopped with %d of %d delivered; run again to finish\n", got, total)
			return nil
		case <-tick.C:
		}
	}
}
