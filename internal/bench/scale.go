package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
)

// scaleRow measures PostgreSQL's scale-out: two Outboxes on one database,
// each with its own pool, River client and workers (as two app instances
// run them), each dispatching half the messages, beside one Outbox
// dispatching them all. Its receiver answers after scaleReceiverDelay, as
// a real endpoint does, and fails the run if one delivery ID arrives while
// it is still being answered: no delivery is sent twice at the same time.
//
// The delay makes an instance's workers its bound. With an instant
// receiver one instance already keeps most of this 2-core machine busy
// (the database, River and the receiver share it), and a second instance
// on the same cores has nothing left to add: that measures the machine,
// not the scale-out.
func scaleRow(workers, n, quickN int) *row {
	return &row{
		name: fmt.Sprintf("river-postgres-scale/%d", workers),
		what: fmt.Sprintf("River + PostgreSQL, 2 instances × %d workers on one database vs 1 instance, receiver answering in %s", workers, scaleReceiverDelay),
		unit: perSecond, records: 1, n: n, quickN: quickN,
		skip: func() string {
			if os.Getenv(postgresEnv) == "" {
				return postgresEnv + " is not set"
			}
			return ""
		},
		setup: func(ctx context.Context, e *env) (sides, error) { return scaleSides(ctx, e, workers) },
	}
}

func scaleSides(ctx context.Context, e *env, workers int) (sides, error) {
	recv, err := startOnceReceiver()
	if err != nil {
		return sides{}, err
	}
	schema, pool, drop, err := newSchema(ctx, e.dsn)
	if err != nil {
		recv.close()
		return sides{}, err
	}
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		drop()
		recv.close()
	}
	open := func(p *pgxpool.Pool) (*outboxpg.Outbox, error) {
		opts, closeClient := e.senderOptions(workers)
		o, err := outboxpg.New(p, e.reg, outbox.WithWorkers(workers), outbox.WithPerEndpoint(-1), outbox.WithLogger(e.log),
			outbox.WithSenderOptions(opts...), outbox.WithSchema(schema))
		if err != nil {
			closeClient()
			return nil, err
		}
		closers = append(closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = o.Close(ctx)
			closeClient()
		})
		return o, nil
	}
	a, err := open(pool)
	if err == nil {
		err = prepareScale(ctx, a, recv.url)
	}
	var b *outboxpg.Outbox
	if err == nil {
		var second *pgxpool.Pool
		if second, err = pgxpool.NewWithConfig(ctx, pool.Config()); err == nil {
			closers = append(closers, second.Close)
			b, err = open(second)
		}
	}
	if err != nil {
		cleanup()
		return sides{}, err
	}
	msg := rawMessage(body)
	dispatch := func(ctx context.Context, o *outboxpg.Outbox, n int) error {
		for range n {
			if _, err := o.Dispatch(ctx, msg); err != nil {
				return err
			}
		}
		return nil
	}
	return sides{
		baseline: func(ctx context.Context, n int) (time.Duration, error) {
			t := recv.measure(n)
			defer recv.tally.Store(nil)
			start := time.Now()
			if err := dispatch(ctx, a, n); err != nil {
				return 0, err
			}
			return recv.finish(ctx, t, start)
		},
		outhook: func(ctx context.Context, n int) (time.Duration, error) {
			if err := b.Start(ctx); err != nil {
				return 0, err
			}
			defer func() { _ = b.Stop(context.Background()) }()
			t := recv.measure(n)
			defer recv.tally.Store(nil)
			start := time.Now()
			errs := make([]error, 2)
			var wg sync.WaitGroup
			wg.Go(func() { errs[0] = dispatch(ctx, a, n/2) })
			wg.Go(func() { errs[1] = dispatch(ctx, b, n-n/2) })
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return 0, err
			}
			return recv.finish(ctx, t, start)
		},
		close: cleanup,
	}, nil
}

// prepareScale migrates, creates the one record and starts o.
func prepareScale(ctx context.Context, o *outboxpg.Outbox, url string) error {
	if err := o.Migrate(ctx); err != nil {
		return err
	}
	if err := o.Store().Create(ctx, &webhook.Webhook{Name: "bench", Triggers: []string{rawTrigger}, URL: url}); err != nil {
		return err
	}
	return o.Start(ctx)
}

// scaleReceiverDelay is how long the scale row's receiver takes to answer.
const scaleReceiverDelay = 50 * time.Millisecond

// onceReceiver counts arrivals and fails the measurement when a delivery ID
// arrives while a request with it is being answered.
type onceReceiver struct {
	srv      *http.Server
	url      string
	tally    atomic.Pointer[tally]
	inFlight sync.Map // delivery ID → struct{}
	twice    atomic.Int64
}

func startOnceReceiver() (*onceReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &onceReceiver{url: "http://" + ln.Addr().String() + "/hook"}
	rc.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(webhook.HeaderDeliveryID)
		if _, dup := rc.inFlight.LoadOrStore(id, struct{}{}); dup {
			rc.twice.Add(1)
			if t := rc.tally.Load(); t != nil {
				t.fail(fmt.Errorf("delivery %s sent twice at the same time", id))
			}
		} else {
			defer rc.inFlight.Delete(id)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(scaleReceiverDelay)
		w.WriteHeader(http.StatusNoContent)
		if t := rc.tally.Load(); t != nil {
			t.add()
		}
	})}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *onceReceiver) measure(n int) *tally {
	t := newTally(n)
	rc.tally.Store(t)
	return t
}

func (rc *onceReceiver) finish(ctx context.Context, t *tally, start time.Time) (time.Duration, error) {
	if err := t.wait(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (rc *onceReceiver) close() { _ = rc.srv.Close() }
