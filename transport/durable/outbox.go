package durable

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// Config tunes an Outbox. The zero value is usable; the driver packages
// (durablesqlite, durablepg) fill in settings measured for their database.
type Config struct {
	// Workers is how many deliveries this process sends at once (the Queue's
	// MaxWorkers). Default 16.
	Workers int
	// FetchCooldown and FetchPollInterval are River's fetch settings for the
	// Queue; 0 keeps River's defaults (100 ms and 1 s).
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// CompletedRetention is how long delivered jobs are kept (River's
	// CompletedJobRetentionPeriod). Default 24 hours.
	CompletedRetention time.Duration
	// DeadLetterRetention is how long discarded and cancelled jobs are kept
	// for DeadLetters and Redeliver. Default 7 days.
	DeadLetterRetention time.Duration
	// AttemptRetention is how long delivery log rows are kept. Default 30
	// days; -1 keeps them forever.
	AttemptRetention time.Duration
	// Store holds the records; default an sqlstore.Store on the same database.
	Store webhook.Store
	// DispatcherOptions configure the Dispatcher and its Sender: backoff,
	// HTTP client, timeouts. WithTransport is set by the Outbox. Without
	// webhook.WithBackOff here, deliveries retry on DefaultBackOff (about
	// two and a half days), not on webhook.DefaultBackOff (one minute).
	DispatcherOptions []webhook.Option
	// Logger is given to River and the worker (slog.Default() otherwise).
	Logger *slog.Logger
	// Schema is the database schema of River's tables (PostgreSQL); outhook's
	// own tables follow the connection's search_path.
	Schema string
	// JobTimeout bounds one attempt's job; default River's (1 minute), -1
	// for none. A job running a minute longer than this is taken for one of
	// a dead process and retried (River's RescueStuckJobsAfter); with no
	// timeout, after River's default hour.
	JobTimeout time.Duration
	// River, if set, edits the River config before the client is built.
	River func(*river.Config)
}

// Outbox is the ready-made durable setup: a River client working the Queue,
// the Transport, a Dispatcher wired to it, the record Store and the delivery
// log, all in one database. Build one with durablesqlite.Open or
// durablepg.Open (or NewOutbox with any River driver), Migrate, Start.
type Outbox[TTx any] struct {
	// Client is the River client; insert your own jobs with it too.
	Client *river.Client[TTx]
	// Transport enqueues deliveries.
	Transport *Transport[TTx]
	// Dispatcher sends messages through Transport.
	Dispatcher *webhook.Dispatcher
	// Store holds the webhook records.
	Store webhook.Store
	// Log is the delivery log.
	Log *sqlstore.Log

	driver  riverdriver.Driver[TTx]
	db      *sql.DB
	dialect sqlstore.Dialect
	schema  string
	log     *slog.Logger
	// begin starts a transaction for Redeliver when TTx is *sql.Tx.
	begin func(ctx context.Context) (tx TTx, commit, rollback func() error, err error)
}

// rescueAfter is River's RescueStuckJobsAfter for a JobTimeout. An attempt
// cannot outlive its job's timeout, so a job running a minute longer belongs
// to a process that died: retry it then, not after River's default hour.
// Without a timeout (-1) a job may legitimately run for long, and rescuing
// it early would send it twice at once: River's default stays.
func rescueAfter(jobTimeout time.Duration) time.Duration {
	if jobTimeout < 0 {
		return 0
	}
	return cmp.Or(jobTimeout, river.JobTimeoutDefault) + time.Minute
}

// NewOutbox builds an Outbox on a River driver and the *sql.DB of the same
// database (for outhook's tables), with d its dialect. It does not touch the
// database: call Migrate, then Start.
func NewOutbox[TTx any](driver riverdriver.Driver[TTx], db *sql.DB, d sqlstore.Dialect, reg *trigger.Registry, cfg Config) (*Outbox[TTx], error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	store := cfg.Store
	if store == nil {
		store = sqlstore.New(db, d)
	}
	o := &Outbox[TTx]{driver: driver, db: db, dialect: d, schema: cfg.Schema, log: cfg.Logger,
		Store: store, Log: sqlstore.NewLog(db, d), Transport: &Transport[TTx]{}}
	// The caller's options come after the defaults, so theirs win.
	opts := append([]webhook.Option{webhook.WithLogger(cfg.Logger), webhook.WithBackOff(DefaultBackOff)}, cfg.DispatcherOptions...)
	opts = append(opts, webhook.WithTransport(o.Transport))
	o.Dispatcher = webhook.NewDispatcher(store, reg, opts...)

	workers := river.NewWorkers()
	river.AddWorker(workers, NewWorker(o.Dispatcher.Sender(), WithAttemptLog(o.Log),
		WithWorkerLogger(cfg.Logger), WithJobTimeout(cfg.JobTimeout)))
	rc := &river.Config{
		Logger:                      cfg.Logger,
		Schema:                      cfg.Schema,
		Workers:                     workers,
		CompletedJobRetentionPeriod: cfg.CompletedRetention,
		DiscardedJobRetentionPeriod: cfg.DeadLetterRetention,
		CancelledJobRetentionPeriod: cfg.DeadLetterRetention,
		Queues: map[string]river.QueueConfig{Queue: {
			MaxWorkers: cfg.Workers, FetchCooldown: cfg.FetchCooldown, FetchPollInterval: cfg.FetchPollInterval,
		}},
	}
	if cfg.DeadLetterRetention == 0 {
		rc.CancelledJobRetentionPeriod = 7 * 24 * time.Hour
	}
	if cfg.AttemptRetention == 0 {
		cfg.AttemptRetention = 30 * 24 * time.Hour
	}
	if cfg.AttemptRetention > 0 {
		river.AddWorker(workers, &PruneWorker{Log: o.Log, MaxAge: cfg.AttemptRetention})
		rc.PeriodicJobs = append(rc.PeriodicJobs, PrunePeriodicJob(min(cfg.AttemptRetention/4, time.Hour)))
	}
	if cfg.JobTimeout != 0 {
		rc.JobTimeout = cfg.JobTimeout
	}
	rescue := rescueAfter(rc.JobTimeout)
	rc.RescueStuckJobsAfter = rescue
	if cfg.River != nil {
		cfg.River(rc)
		if rc.RescueStuckJobsAfter == rescue { // follow a JobTimeout the callback changed
			rc.RescueStuckJobsAfter = rescueAfter(rc.JobTimeout)
		}
	}
	if _, ok := any((*TTx)(nil)).(**sql.Tx); ok {
		o.begin = func(ctx context.Context) (TTx, func() error, func() error, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				var zero TTx
				return zero, nil, nil, err
			}
			return any(tx).(TTx), tx.Commit, tx.Rollback, nil
		}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("durable: river client: %w", err)
	}
	o.Client = client
	o.Transport.client = client
	return o, nil
}

// Migrate brings the database up to date: River's migrations (rivermigrate),
// outhook's tables (sqlstore.Migrate) and the index Redeliver uses; see the
// package-level Migrate. It is idempotent.
func (o *Outbox[TTx]) Migrate(ctx context.Context) error {
	return Migrate(ctx, o.driver, o.db, o.dialect, o.schema, o.log)
}

// Migrate runs River's migrations with driver (in schema, "" for the default),
// creates outhook's tables through db, and adds to River's job table a
// partial index that Redeliver uses (outhook_river_job_delivery; it holds
// only outhook's delivery jobs). It is idempotent; an app that brings its
// own River client calls it from its own migration step. Run it again after
// upgrading River.
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], db *sql.DB, d sqlstore.Dialect, schema string, log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return fmt.Errorf("durable: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("durable: migrate river: %w", err)
	}
	if err := sqlstore.Migrate(ctx, db, d); err != nil {
		return err
	}
	return migrateDeliveryIndex(ctx, db, d, schema)
}

// deliveryIndex is the name of the partial index on River's job table that
// finds a delivery's jobs by delivery ID (Redeliver) without a full scan.
const deliveryIndex = "outhook_river_job_delivery"

// migrateDeliveryIndex creates deliveryIndex. It holds only outhook's
// delivery jobs, so the app's other River jobs do not pay for it; the query
// must repeat its predicate literally (deliveryWhere) for the planner to use
// it. A River migration that rebuilds the table drops it, and the next
// Migrate, which runs River's migrations first, creates it again.
func migrateDeliveryIndex(ctx context.Context, db *sql.DB, d sqlstore.Dialect, schema string) error {
	// id after the delivery ID hands the rows over newest first, so that
	// "ORDER BY id DESC LIMIT 1" stops at the first entry: without it
	// PostgreSQL prefers walking the primary key backwards and filtering,
	// which reads the whole table for a delivery that is not there.
	const expr, where = "(args->>'delivery_id'), id", "WHERE kind = '" + Kind + "'"
	var q string
	switch d {
	case sqlstore.Postgres:
		table := "river_job"
		if schema != "" {
			table = `"` + strings.ReplaceAll(schema, `"`, `""`) + `".river_job`
		}
		q = "CREATE INDEX IF NOT EXISTS " + deliveryIndex + " ON " + table + " (" + expr + ") " + where
	default: // SQLite names the index's schema, not the table's
		name := deliveryIndex
		if schema != "" {
			name = `"` + strings.ReplaceAll(schema, `"`, `""`) + `".` + name
		}
		q = "CREATE INDEX IF NOT EXISTS " + name + " ON river_job (" + expr + ") " + where
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("durable: migrate delivery index: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d == sqlstore.Postgres {
		// Concurrent CREATE INDEX IF NOT EXISTS can collide; take turns.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7301152027)`); err != nil {
			return fmt.Errorf("durable: migrate delivery index: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("durable: migrate delivery index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("durable: migrate delivery index: %w", err)
	}
	return nil
}

// Start starts working deliveries; it returns once the client runs. The
// client keeps running after Start returns, until Stop or Close, but it also
// stops, cancelling the attempts in flight, when ctx ends (River's rule):
// pass a context that lives as long as the Outbox, not a request's.
func (o *Outbox[TTx]) Start(ctx context.Context) error { return o.Client.Start(ctx) }

// Stop stops fetching new deliveries and waits for the running attempts to
// finish, or for ctx to end.
func (o *Outbox[TTx]) Stop(ctx context.Context) error { return o.Client.Stop(ctx) }

// stopTimeout bounds how long Close waits for cancelled attempts.
const stopTimeout = 10 * time.Second

// Close stops the client like Stop. If ctx ends first, it cancels the
// attempts still running (River's StopAndCancel; they are retried later, with
// the same delivery ID) and waits for them up to 10 seconds more, so that
// no River goroutine outlives Close; the error then says ctx ended. It closes
// no database: the driver packages' Close does that too.
func (o *Outbox[TTx]) Close(ctx context.Context) error {
	err := o.Client.Stop(ctx)
	if err == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return errors.Join(fmt.Errorf("durable: stop: %w", err), o.Client.StopAndCancel(cctx))
}

// Dispatch enqueues msg for every active record subscribed to its trigger.
func (o *Outbox[TTx]) Dispatch(ctx context.Context, msg trigger.Message) ([]webhook.Delivery, error) {
	return o.Dispatcher.Dispatch(ctx, msg)
}

// DispatchTx enqueues msg inside the application's transaction tx: the
// deliveries exist if and only if tx commits.
func (o *Outbox[TTx]) DispatchTx(ctx context.Context, tx TTx, msg trigger.Message) ([]webhook.Delivery, error) {
	return o.Transport.DispatchTx(ctx, tx, o.Dispatcher, msg)
}

// DeadLetters lists deliveries that gave up; see Transport.DeadLetters.
func (o *Outbox[TTx]) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	return o.Transport.DeadLetters(ctx, limit)
}

// Redeliver enqueues a finished delivery again with the same delivery ID;
// see Transport.RedeliverTx. With TTx *sql.Tx (SQLite, OpenDB on PostgreSQL)
// it runs in a transaction of its own, so that concurrent calls for one
// delivery enqueue it once; durablepg's Outbox does the same with pgx. Other
// drivers fall back to Transport.Redeliver.
func (o *Outbox[TTx]) Redeliver(ctx context.Context, deliveryID uuid.UUID) error {
	if o.begin == nil {
		return o.Transport.Redeliver(ctx, deliveryID)
	}
	tx, commit, rollback, err := o.begin(ctx)
	if err != nil {
		return fmt.Errorf("durable: redeliver %s: begin: %w", deliveryID, err)
	}
	defer rollback() //nolint:errcheck // a no-op after commit
	if err := o.Transport.RedeliverTx(ctx, tx, deliveryID); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return fmt.Errorf("durable: redeliver %s: commit: %w", deliveryID, err)
	}
	return nil
}
