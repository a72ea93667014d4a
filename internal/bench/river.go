package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// noopArgs is a job that does nothing: River's own ceiling.
type noopArgs struct{}

func (noopArgs) Kind() string { return "outhook.bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	tally *atomic.Pointer[tally]
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	if t := w.tally.Load(); t != nil {
		t.add()
	}
	return nil
}

// riverRow measures the durable transport on kind ("sqlite" or "postgres")
// beside no-op jobs on the same database, client and workers.
func riverRow(kind string, workers, n, quickN int) *row {
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[kind]
	r := &row{
		name: fmt.Sprintf("river-%s/%d", kind, workers),
		what: fmt.Sprintf("River + %s, %d workers vs River no-op jobs, same database and workers", name, workers),
		unit: perSecond, records: 1, n: n, quickN: quickN,
		setup: func(ctx context.Context, e *env) (sides, error) {
			var noop atomic.Pointer[tally]
			opts, closeClient := e.senderOptions(workers)
			cfg := []outbox.Option{outbox.WithWorkers(workers), outbox.WithPerEndpoint(-1), outbox.WithLogger(e.log), outbox.WithSenderOptions(opts...),
				outbox.WithRiverConfig(func(rc *river.Config) { river.AddWorker(rc.Workers, &noopWorker{tally: &noop}) })}
			var s sides
			var err error
			if kind == "sqlite" {
				s, err = sqliteSides(ctx, e, cfg, &noop)
			} else {
				s, err = postgresSides(ctx, e, cfg, &noop)
			}
			if err != nil {
				closeClient()
				return sides{}, err
			}
			closeRiver := s.close
			s.close = func() { closeRiver(); closeClient() }
			return s, nil
		},
	}
	if kind == "postgres" {
		r.skip = func() string {
			if os.Getenv(postgresEnv) == "" {
				return postgresEnv + " is not set"
			}
			return ""
		}
	}
	return r
}

func sqliteSides(ctx context.Context, e *env, cfg []outbox.Option, noop *atomic.Pointer[tally]) (sides, error) {
	dir, err := os.MkdirTemp("", "outhook-bench-")
	if err != nil {
		return sides{}, err
	}
	o, err := outboxsqlite.Open(filepath.Join(dir, "bench.db"), e.reg, cfg...)
	if err != nil {
		os.RemoveAll(dir)
		return sides{}, err
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = o.Close(ctx)
		os.RemoveAll(dir)
	}
	if err := prepare(ctx, o.Outbox, o.Start, e.recv.url); err != nil {
		cleanup()
		return sides{}, err
	}
	return riverSides(o.Outbox, e, noop, cleanup), nil
}

func postgresSides(ctx context.Context, e *env, cfg []outbox.Option, noop *atomic.Pointer[tally]) (sides, error) {
	schema, pool, drop, err := newSchema(ctx, e.dsn)
	if err != nil {
		return sides{}, err
	}
	o, err := outboxpg.New(pool, e.reg, append(cfg, outbox.WithSchema(schema))...)
	if err != nil {
		drop()
		return sides{}, err
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = o.Close(ctx)
		drop()
	}
	if err := prepare(ctx, o.Outbox, o.Start, e.recv.url); err != nil {
		cleanup()
		return sides{}, err
	}
	return riverSides(o.Outbox, e, noop, cleanup), nil
}

// prepare migrates, creates the one record and starts working jobs.
func prepare[TTx any](ctx context.Context, o *outbox.Outbox[TTx], start func(context.Context) error, url string) error {
	if err := o.Migrate(ctx); err != nil {
		return err
	}
	if err := o.Store().Create(ctx, &webhook.Webhook{Name: "bench", Triggers: []string{rawTrigger}, URL: url}); err != nil {
		return err
	}
	return start(ctx)
}

func riverSides[TTx any](o *outbox.Outbox[TTx], e *env, noop *atomic.Pointer[tally], cleanup func()) sides {
	msg := rawMessage(body)
	return sides{
		outhook: func(ctx context.Context, n int) (time.Duration, error) {
			return e.dispatchAll(ctx, newTally(n), n, o.Dispatch, msg)
		},
		baseline: func(ctx context.Context, n int) (time.Duration, error) {
			t := newTally(n)
			noop.Store(t)
			defer noop.Store(nil)
			start := time.Now()
			for range n {
				// One insert per job, as Dispatch makes for one record.
				_, err := o.Client().InsertMany(ctx, []river.InsertManyParams{{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: durable.Queue}}})
				if err != nil {
					return 0, err
				}
			}
			if err := t.wait(ctx); err != nil {
				return 0, err
			}
			return time.Since(start), nil
		},
		close: cleanup,
	}
}

// newSchema creates a fresh schema in the database at dsn and returns a pool
// whose search_path is it, and a function that closes the pool and drops the
// schema (the tests' internal/pgtest does the same with a testing.TB).
func newSchema(ctx context.Context, dsn string) (schema string, pool *pgxpool.Pool, drop func(), err error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema = "outhook_bench_" + hex.EncodeToString(b[:])
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return "", nil, nil, fmt.Errorf("connect %s: %w", postgresEnv, err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, nil, fmt.Errorf("create schema: %w", err)
	}
	dropSchema := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", schema, err)
		}
		admin.Close()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err == nil {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		cfg.MaxConns = 20
		pool, err = pgxpool.NewWithConfig(ctx, cfg)
	}
	if err != nil {
		dropSchema()
		return "", nil, nil, errors.Join(errors.New("connect to the schema"), err)
	}
	return schema, pool, func() { pool.Close(); dropSchema() }, nil
}
