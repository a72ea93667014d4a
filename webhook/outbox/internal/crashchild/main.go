// Command crashchild is the child process of the durable transport's crash
// and multi-process tests: it enqueues deliveries, then works them until it
// is killed. The tests build it without -race, so that SQLite runs at speed.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// NS derives delivery IDs from indexes, so the parent knows every ID.
var NS = uuid.MustParse("6f0d2a8e-6c1b-4f59-9a53-0b0c7d1e2f30")

type page struct{}

func (page) JSONSerialize() any { return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashchild:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	kind, db, schema := os.Getenv("CHILD_KIND"), os.Getenv("CHILD_DB"), os.Getenv("CHILD_SCHEMA")
	hook, err := uuid.Parse(os.Getenv("CHILD_WEBHOOK"))
	if err != nil {
		return err
	}
	var n int
	fmt.Sscan(os.Getenv("CHILD_ENQUEUE"), &n)
	reg := trigger.NewRegistry()
	if err := trigger.Register[page](reg, "test/page-updated", ""); err != nil {
		return err
	}
	cfg := []outbox.Option{
		outbox.WithWorkers(32),
		outbox.WithJobTimeout(3 * time.Second),
		outbox.WithFetchPollInterval(20 * time.Millisecond),
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback())),
			webhook.WithAttemptTimeout(2*time.Second),
			webhook.WithUserAgent(os.Getenv("CHILD_AGENT")),
			webhook.WithBackOff(func() backoff.BackOff {
				return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), 9)
			})),
		// Rescue jobs of a killed process quickly (River checks every 30 s).
		outbox.WithRiverConfig(func(c *river.Config) { c.RescueStuckJobsAfter = 4 * time.Second }),
	}
	var (
		tr    transport.Transport
		start func(context.Context) error
		d     *webhook.Dispatcher
	)
	switch kind {
	case "sqlite":
		ob, err := outboxsqlite.Open(db, reg, cfg...)
		if err != nil {
			return err
		}
		defer ob.Close(context.Background())
		tr, start, d = ob.Transport(), ob.Start, ob.Dispatcher()
	case "postgres":
		pool, err := pgxpool.New(ctx, db)
		if err != nil {
			return err
		}
		defer pool.Close()
		ob, err := outboxpg.New(pool, reg, append(cfg, outbox.WithSchema(schema))...)
		if err != nil {
			return err
		}
		defer ob.Close(context.Background())
		tr, start, d = ob.Transport(), ob.Start, ob.Dispatcher()
	default:
		return fmt.Errorf("unknown CHILD_KIND %q", kind)
	}
	const batch = 1000
	for i := 0; i < n; i += batch {
		envs := make([]transport.Envelope, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			envs = append(envs, transport.Envelope{DeliveryID: uuid.NewSHA1(NS, []byte(fmt.Sprint(j))), WebhookID: hook,
				Trigger: "test/page-updated", Body: []byte(fmt.Sprintf(`{"n":%d}`, j)), CreatedAt: time.Now()})
		}
		if _, err := tr.Send(ctx, d.Sender(), envs); err != nil {
			return err
		}
	}
	if err := start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
