package durable

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

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
	// HTTP client, timeouts. WithTransport is set by the Outbox.
	DispatcherOptions []webhook.Option
	// Logger is given to River and the worker (slog.Default() otherwise).
	Logger *slog.Logger
	// Schema is the database schema of River's tables (PostgreSQL); outhook's
	// own tables follow the connection's search_path.
	Schema string
	// JobTimeout bounds one attempt's job; default River's (1 minute).
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
	opts := append(append([]webhook.Option{webhook.WithLogger(cfg.Logger)}, cfg.DispatcherOptions...), webhook.WithTransport(o.Transport))
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
	if cfg.JobTimeout > 0 {
		rc.JobTimeout = cfg.JobTimeout
	}
	// An attempt cannot outlive its job's timeout, so a job running much
	// longer belongs to a process that died: retry it after a minute more,
	// not after River's default hour.
	rc.RescueStuckJobsAfter = cmp.Or(rc.JobTimeout, river.JobTimeoutDefault) + time.Minute
	if cfg.River != nil {
		cfg.River(rc)
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("durable: river client: %w", err)
	}
	o.Client = client
	o.Transport.client = client
	return o, nil
}

// Migrate brings the database up to date: River's migrations (rivermigrate)
// and outhook's tables (sqlstore.Migrate). It is idempotent.
func (o *Outbox[TTx]) Migrate(ctx context.Context) error {
	return Migrate(ctx, o.driver, o.db, o.dialect, o.schema, o.log)
}

// Migrate runs River's migrations with driver (in schema, "" for the default)
// and creates outhook's tables through db. It is idempotent; an app that
// brings its own River client calls it, or rivermigrate and
// sqlstore.Migrate, from its own migration step.
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], db *sql.DB, d sqlstore.Dialect, schema string, log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return fmt.Errorf("durable: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("durable: migrate river: %w", err)
	}
	return sqlstore.Migrate(ctx, db, d)
}

// Start starts working deliveries; it returns once the client runs.
func (o *Outbox[TTx]) Start(ctx context.Context) error { return o.Client.Start(ctx) }

// Stop stops fetching new deliveries and waits for the running attempts to
// finish, or for ctx to end.
func (o *Outbox[TTx]) Stop(ctx context.Context) error { return o.Client.Stop(ctx) }

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
