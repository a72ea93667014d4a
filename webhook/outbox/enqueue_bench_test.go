package outbox_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// BenchmarkEnqueue measures the enqueue path alone, with no worker running:
// one Dispatch to one record beside one River InsertMany of a no-op job on
// the same database and client, the baseline. Compare ns/op of the pairs
// (alternate runs with -count), e.g.
//
//	OUTHOOK_TEST_POSTGRES=... go test -run '^$' -bench Enqueue -count 5 ./webhook/outbox/
func BenchmarkEnqueue(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run("river-noop-"+kind, func(b *testing.B) { benchEnqueue(b, kind, false) })
		b.Run("dispatch-"+kind, func(b *testing.B) { benchEnqueue(b, kind, true) })
	}
}

func benchEnqueue(b *testing.B, kind string, dispatch bool) {
	ctx := context.Background()
	var do func(i int) error
	// The client starts, so that the outbox's cache serves Dispatch as in
	// production (on PostgreSQL it serves only while the Outbox listens),
	// but it works another queue: no job is worked while the loop runs.
	opts := []outbox.Option{outbox.WithLogger(quietLogger()),
		outbox.WithRiverConfig(func(rc *river.Config) {
			river.AddWorker(rc.Workers, &noopWorker{})
			rc.Queues = map[string]river.QueueConfig{"outhook_bench_unworked": {MaxWorkers: 1}}
		})}
	switch kind {
	case "sqlite":
		o, err := outboxsqlite.Open(b.TempDir()+"/bench.db", registry(b), opts...)
		require.NoError(b, err)
		b.Cleanup(func() { _ = o.Close(context.Background()) })
		require.NoError(b, o.Migrate(ctx))
		createHook(b, o.Store(), "http://127.0.0.1:1/hook")
		require.NoError(b, o.Start(ctx))
		do = func(i int) error {
			if dispatch {
				_, err := o.Dispatch(ctx, PageUpdated{ID: i})
				return err
			}
			return insertNoop(ctx, o.Client(), 1)
		}
	case "postgres":
		schema, dsn := pgtest.NewSchema(b)
		o, err := outboxpg.New(pgtest.NewPool(b, dsn), registry(b), append(opts, outbox.WithSchema(schema))...)
		require.NoError(b, err)
		b.Cleanup(func() { _ = o.Close(context.Background()) })
		require.NoError(b, o.Migrate(ctx))
		createHook(b, o.Store(), "http://127.0.0.1:1/hook")
		require.NoError(b, o.Start(ctx))
		do = func(i int) error {
			if dispatch {
				_, err := o.Dispatch(ctx, PageUpdated{ID: i})
				return err
			}
			return insertNoop(ctx, o.Client(), 1)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := do(i); err != nil {
			b.Fatal(err)
		}
	}
}
