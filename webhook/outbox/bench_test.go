package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// BenchmarkDeliveries measures deliveries per second end to end (enqueue →
// 2xx received by a loopback receiver) for each transport at 1, 16 and 128
// workers, beside two limits measured in the same run: the bare net/http
// client doing the same POSTs, and River working no-op jobs. Run it with a
// fixed count, e.g.
//
//	OUTHOOK_TEST_POSTGRES=... go test -run '^$' -bench Deliveries -benchtime 3000x ./webhook/outbox/
func BenchmarkDeliveries(b *testing.B) {
	for _, workers := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("net-http/workers=%d", workers), func(b *testing.B) { benchHTTP(b, workers) })
		b.Run(fmt.Sprintf("memory/workers=%d", workers), func(b *testing.B) { benchMemory(b, workers) })
		for _, kind := range []string{"sqlite", "postgres"} {
			b.Run(fmt.Sprintf("river-noop-%s/workers=%d", kind, workers), func(b *testing.B) { benchNoop(b, kind, workers) })
			b.Run(fmt.Sprintf("river-%s/workers=%d", kind, workers), func(b *testing.B) { benchRiver(b, kind, workers) })
		}
	}
}

type counter struct {
	n    atomic.Int64
	done chan struct{}
	want int64
}

func newCounter(want int) *counter { return &counter{done: make(chan struct{}), want: int64(want)} }

func (c *counter) add() {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
}

func (c *counter) wait(b *testing.B) {
	select {
	case <-c.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d done", c.n.Load(), c.want)
	}
}

func report(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

func receiver(b *testing.B, c *counter) *outboxtest.Receiver {
	rc := outboxtest.NewReceiver(b, webhook.HeaderDeliveryID)
	rc.Handle = func(w http.ResponseWriter, _ *http.Request, _ string, _ int) bool { c.add(); return true }
	return rc
}

func benchHTTP(b *testing.B, workers int) {
	c := newCounter(b.N)
	rc := receiver(b, c)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	body := `{"id":1,"title":"bench"}`
	jobs := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := client.Post(rc.URL, "application/json", strings.NewReader(body))
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		jobs <- i
	}
	close(jobs)
	c.wait(b)
	report(b, start)
	wg.Wait()
}

func benchMemory(b *testing.B, workers int) {
	c := newCounter(b.N)
	rc := receiver(b, c)
	store := webhook.NewMemoryStore()
	createHook(b, store, rc.URL)
	m := transport.NewMemory(transport.WithWorkers(workers), transport.WithQueueSize(b.N+1))
	d := webhook.NewDispatcher(store, registry(b), webhook.WithTransport(m), webhook.WithLogger(quietLogger()),
		webhook.WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}))
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := d.Dispatch(ctx, PageUpdated{ID: i}); err != nil {
			b.Fatal(err)
		}
	}
	c.wait(b)
	report(b, start)
	_, _ = m.Close(ctx)
}

// benchOptions sends to the one receiver with every worker: the fair share
// of a record (a quarter of the workers by default) would measure a quarter
// of the pool.
func benchOptions(workers int, more ...outbox.Option) []outbox.Option {
	return append([]outbox.Option{
		outbox.WithWorkers(workers),
		outbox.WithPerEndpoint(-1),
		outbox.WithLogger(quietLogger()),
		outbox.WithSenderOptions(webhook.WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}})),
	}, more...)
}

func benchRiver(b *testing.B, kind string, workers int) {
	c := newCounter(b.N)
	rc := receiver(b, c)
	ctx := context.Background()
	var dispatch func(i int) error
	var startOb func(context.Context) error
	switch kind {
	case "sqlite":
		o, err := outboxsqlite.Open(b.TempDir()+"/bench.db", registry(b), benchOptions(workers)...)
		require.NoError(b, err)
		b.Cleanup(func() { _ = o.Close(context.Background()) })
		require.NoError(b, o.Migrate(ctx))
		createHook(b, o.Store(), rc.URL)
		dispatch = func(i int) error { _, err := o.Dispatch(ctx, PageUpdated{ID: i}); return err }
		startOb = o.Start
	case "postgres":
		schema, dsn := pgtest.NewSchema(b)
		o, err := outboxpg.New(pgtest.NewPool(b, dsn), registry(b), benchOptions(workers, outbox.WithSchema(schema))...)
		require.NoError(b, err)
		b.Cleanup(func() { _ = o.Close(context.Background()) })
		require.NoError(b, o.Migrate(ctx))
		createHook(b, o.Store(), rc.URL)
		dispatch = func(i int) error { _, err := o.Dispatch(ctx, PageUpdated{ID: i}); return err }
		startOb = o.Start
	}
	require.NoError(b, startOb(ctx))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := dispatch(i); err != nil {
			b.Fatal(err)
		}
	}
	c.wait(b)
	report(b, start)
}

// noopArgs is a job that does nothing: River's own ceiling.
type noopArgs struct{}

func (noopArgs) Kind() string { return "outhook.bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	c *counter
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error { w.c.add(); return nil }

func benchNoop(b *testing.B, kind string, workers int) {
	c := newCounter(b.N)
	ctx := context.Background()
	cfg := benchOptions(workers, outbox.WithRiverConfig(func(rc *river.Config) { river.AddWorker(rc.Workers, &noopWorker{c: c}) }))
	var insert func(n int) error
	switch kind {
	case "sqlite":
		o, err := outboxsqlite.Open(b.TempDir()+"/bench.db", registry(b), cfg...)
		require.NoError(b, err)
		b.Cleanup(func() { _ = o.Close(context.Background()) })
		require.NoError(b, o.Migrate(ctx))
		require.NoError(b, o.Start(ctx))
		insert = func(n int) error { return insertNoop(ctx, o.Client(), n) }
	case "postgres":
		schema, dsn := pgtest.NewSchema(b)
		o, err := outboxpg.New(pgtest.NewPool(b, dsn), registry(b), append(cfg, outbox.WithSchema(schema))...)
		require.NoError(b, err)
		b.Cleanup(func() { _ = o.Close(context.Background()) })
		require.NoError(b, o.Migrate(ctx))
		require.NoError(b, o.Start(ctx))
		insert = func(n int) error { return insertNoop(ctx, o.Client(), n) }
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := insert(1); err != nil { // one insert per job, as Dispatch does
			b.Fatal(err)
		}
	}
	c.wait(b)
	report(b, start)
}

func insertNoop[TTx any](ctx context.Context, c *river.Client[TTx], n int) error {
	ps := make([]river.InsertManyParams, n)
	for i := range ps {
		ps[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: durable.Queue}}
	}
	_, err := c.InsertMany(ctx, ps)
	return err
}
