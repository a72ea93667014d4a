package outbox

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

var (
	// ErrClosed is returned by an Outbox's methods after Close.
	ErrClosed = errors.New("outbox: closed")
	// ErrNotMigrated is returned by Start, and by Dispatch and DispatchTx
	// when they fail, on a database that lacks the outbox's tables.
	ErrNotMigrated = errors.New("outbox: the database has no outbox tables: call Migrate first")
)

// Defaults of an Outbox built with New; the driver packages (outboxsqlite,
// outboxpg) set their own measured ones.
const (
	DefaultWorkers             = 16
	DefaultCompletedRetention  = 24 * time.Hour
	DefaultDeadLetterRetention = 7 * 24 * time.Hour
	DefaultAttemptRetention    = 30 * 24 * time.Hour
)

// Option configures an Outbox.
type Option func(*config)

type config struct {
	workers             int
	fetchCooldown       time.Duration
	fetchPollInterval   time.Duration
	completedRetention  time.Duration
	deadLetterRetention time.Duration
	attemptRetention    time.Duration
	store               webhook.Store
	reader              *sql.DB
	senderOptions       []webhook.SenderOption
	dispatcherOptions   []webhook.DispatcherOption
	maxBody             int
	logger              *slog.Logger
	schema              string
	jobTimeout          time.Duration
	river               func(*river.Config)
	rescueOnStart       bool
	now                 func() time.Time
	perEndpoint         *int
	cache               time.Duration
	logBatch            int
	onDeadLetter        func(context.Context, transport.Envelope, transport.Result)
}

// WithWorkers sets how many deliveries this process sends at once (the
// Queue's MaxWorkers). Without it, outbox.New uses DefaultWorkers (16), and
// outboxsqlite.Open/New and outboxpg.New/NewSQL 64.
func WithWorkers(n int) Option { return func(c *config) { c.workers = n } }

// WithFetchCooldown sets River's fetch cooldown for the Queue (River's
// default, 100 ms, otherwise).
func WithFetchCooldown(d time.Duration) Option { return func(c *config) { c.fetchCooldown = d } }

// WithFetchPollInterval sets River's fetch poll interval for the Queue
// (River's default, 1 s, otherwise).
func WithFetchPollInterval(d time.Duration) Option {
	return func(c *config) { c.fetchPollInterval = d }
}

// WithCompletedRetention sets how long delivered jobs are kept (River's
// CompletedJobRetentionPeriod; DefaultCompletedRetention otherwise).
func WithCompletedRetention(d time.Duration) Option {
	return func(c *config) { c.completedRetention = d }
}

// WithDeadLetterRetention sets how long discarded and cancelled jobs are
// kept for DeadLetters and Redeliver (DefaultDeadLetterRetention otherwise).
func WithDeadLetterRetention(d time.Duration) Option {
	return func(c *config) { c.deadLetterRetention = d }
}

// WithAttemptRetention sets how long delivery log rows are kept
// (DefaultAttemptRetention otherwise); a negative d keeps them forever.
func WithAttemptRetention(d time.Duration) Option { return func(c *config) { c.attemptRetention = d } }

// WithStore sets where the records live (an sqlstore.Store on the same
// database otherwise).
func WithStore(s webhook.Store) Option { return func(c *config) { c.store = s } }

// WithReader makes the default record store and the delivery log read
// through rdb, a second pool on the same database (see sqlstore.WithReader).
func WithReader(rdb *sql.DB) Option { return func(c *config) { c.reader = rdb } }

// WithSenderOptions configures the Sender that makes every attempt: HTTP
// client or guard, backoff, timeouts, middleware. Without webhook.WithBackOff
// among them, deliveries retry on durable.DefaultBackOff (about two and a
// half days), not on webhook.DefaultBackOff (one minute). Options given in
// several calls add up, later ones winning.
func WithSenderOptions(opts ...webhook.SenderOption) Option {
	return func(c *config) { c.senderOptions = append(c.senderOptions, opts...) }
}

// WithDispatcherOptions configures the Outbox's Dispatcher with opts, such
// as webhook.WithObserver (a test recorder), webhook.WithPropagator or the
// idempotency settings. The Outbox's own transport always wins over a
// webhook.WithTransport among them. Options that configure the Sender
// belong in WithSenderOptions, which the worker's Sender gets too.
func WithDispatcherOptions(opts ...webhook.DispatcherOption) Option {
	return func(c *config) { c.dispatcherOptions = append(c.dispatcherOptions, opts...) }
}

// WithMaxBodySize caps the encoded message size (webhook.DefaultMaxBodySize
// otherwise); Dispatch refuses a larger one with webhook.ErrBodyTooLarge.
func WithMaxBodySize(n int) Option { return func(c *config) { c.maxBody = n } }

// WithLogger sets the logger of River, the worker and the Sender
// (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithSchema sets the database schema of River's tables (PostgreSQL);
// outhook's own tables follow the connection's search_path.
func WithSchema(schema string) Option { return func(c *config) { c.schema = schema } }

// WithJobTimeout bounds one attempt's job (River's default, 1 minute,
// otherwise; a negative d means none). A job running a minute longer than
// this is taken for one of a dead process and retried (River's
// RescueStuckJobsAfter); with no timeout, after River's default hour.
func WithJobTimeout(d time.Duration) Option { return func(c *config) { c.jobTimeout = d } }

// WithRiverConfig sets a function that edits the River config before the
// client is built, for settings this package does not name.
func WithRiverConfig(edit func(*river.Config)) Option { return func(c *config) { c.river = edit } }

// WithRescueOnStart makes Start put deliveries left running by a crashed
// process back in the queue at once, instead of after River's stuck-job
// timeout. Their attempt may or may not have reached the receiver: at least
// once. It assumes that this process is the only one working the database
// (the embedded SQLite case, where outboxsqlite turns it on); never use it
// when several processes work one database.
func WithRescueOnStart(on bool) Option { return func(c *config) { c.rescueOnStart = on } }

// WithPerEndpoint sets the most attempts one webhook record may have in
// flight in this process. By default a record gets a fair share of the
// workers, a quarter of them and at least one (durable.FairShare of
// WithWorkers), so that a receiver that hangs cannot hold up the other
// records' deliveries; n <= 0 lifts the limit. A delivery whose
// record holds its share waits (about as long as the record's attempts take,
// from 0.1 s to 30 s) and tries again, costing no attempt (see
// durable.Worker). With one record only, deliveries go out on its share of
// the workers: give a larger n where that matters more than fairness.
func WithPerEndpoint(n int) Option { return func(c *config) { c.perEndpoint = &n } }

// WithOnDeadLetter sets a function called once for each delivery that gives
// up, after its last attempt is in the delivery log: its retries ran out, it
// failed permanently, or its record was deleted or disabled (res.Err tells
// which; see durable.WithOnDeadLetter). These are the deliveries DeadLetters
// lists; Redeliver sends one again.
func WithOnDeadLetter(fn func(ctx context.Context, env transport.Envelope, res transport.Result)) Option {
	return func(c *config) { c.onDeadLetter = fn }
}

// WithCache makes the Outbox reuse what it read from the default store (an
// sqlstore.Store, also one given with WithStore) for up to ttl
// (sqlstore.DefaultCacheTTL, 1 s, is a good value): the records Dispatch
// reaches for a route, and the record each attempt is sent with. ttl <= 0
// turns it off: every Dispatch and every attempt reads the database. Other
// stores are never cached.
//
// outbox.New leaves it off. outboxsqlite and outboxpg.New turn it on with
// sqlstore.DefaultCacheTTL, because there no change can go unnoticed for
// long (see sqlstore.Cache): a change made through the Outbox's Store applies
// to the next Dispatch and attempt; on SQLite a change by any process
// applies at once too; on PostgreSQL, outboxpg's listener drops the cache
// when a change is notified, typically milliseconds after it committed, at
// most ttl after, and while it does not listen (before Start, after Close,
// or when its connection fails) nothing is cached. With outbox.New or
// outboxpg.NewSQL, which have no listener, a change made by another process
// or directly in the database applies at most ttl after it committed; so it
// does for a store given with WithStore on another PostgreSQL database than
// the Outbox's, whose changes that listener does not hear.
func WithCache(ttl time.Duration) Option {
	return func(c *config) { c.cache = max(ttl, 0) }
}

// WithLogBatch sets how many attempts the delivery log writes in one
// statement when workers log at once (sqlstore.DefaultLogBatch, 64, unless
// set; 1 writes each alone). Each attempt is still logged before its job
// finishes: a crash loses no logged attempt (see sqlstore.WithLogBatch).
func WithLogBatch(n int) Option { return func(c *config) { c.logBatch = n } }

// WithClock sets the clock of the retry schedule and the log's retention
// (time.Now otherwise). River keeps its own clock for when jobs run.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Outbox is the ready-made durable setup: a River client working the
// durable.Queue, the River transport, a Dispatcher wired to it, the record
// Store and the delivery log, all in one database. Build one with
// outboxsqlite.Open or outboxpg.New (or New with any River driver), then
// Migrate and Start.
type Outbox[TTx any] struct {
	client     *river.Client[TTx]
	transport  *durable.Transport[TTx]
	dispatcher *webhook.Dispatcher
	store      webhook.Store
	log        *sqlstore.Log
	cache      *sqlstore.Cache // nil: none

	driver  riverdriver.Driver[TTx]
	db      *sql.DB
	reader  *sql.DB // nil: db
	dialect sqlstore.Dialect
	schema  string
	logger  *slog.Logger
	rescue  bool

	closed   atomic.Bool
	migrated atomic.Bool // seen migrated once: no need to look again
	// begin starts a transaction for Redeliver when TTx is *sql.Tx.
	begin func(ctx context.Context) (tx TTx, commit, rollback func() error, err error)
}

// Client returns the River client; insert your own jobs with it too.
func (o *Outbox[TTx]) Client() *river.Client[TTx] { return o.client }

// Transport returns the River transport deliveries are enqueued through.
func (o *Outbox[TTx]) Transport() *durable.Transport[TTx] { return o.transport }

// Dispatcher returns the Dispatcher, whose transport is Transport.
func (o *Outbox[TTx]) Dispatcher() *webhook.Dispatcher { return o.dispatcher }

// Store returns the record store.
func (o *Outbox[TTx]) Store() webhook.Store { return o.store }

// Cache returns the cache that Dispatch and the worker read records
// through (see WithCache), or nil when there is none. outboxpg's listener
// feeds it.
func (o *Outbox[TTx]) Cache() *sqlstore.Cache { return o.cache }

// Logger returns the logger of River, the worker and the Sender (see
// WithLogger).
func (o *Outbox[TTx]) Logger() *slog.Logger { return o.logger }

// Log returns the delivery log: every attempt of every delivery, a
// webhook.DeliveryLog. The worker records the attempts itself
// (durable.WithAttemptLog): do not add webhook.LogAttempts with this log
// to the sender options, or every attempt is logged twice.
func (o *Outbox[TTx]) Log() *sqlstore.Log { return o.log }

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

// viaOutbox is the Dispatcher's transport: the River transport, which exists
// only once the client it needs is built, after the Dispatcher. It is a
// transport.Deduplicator as the River transport is, so that the Dispatcher
// leaves idempotency keys to River's unique jobs.
type viaOutbox[TTx any] struct{ o *Outbox[TTx] }

var _ transport.Deduplicator = viaOutbox[any]{}

func (v viaOutbox[TTx]) Send(ctx context.Context, a transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	return v.o.transport.Send(ctx, a, envs)
}

func (v viaOutbox[TTx]) DeduplicatesByKey() bool { return true }

// lookup is store as the Dispatcher, and its Sender, read it: through a
// sqlstore.Cache of ttl when store is an sqlstore.Store and ttl > 0, and
// that Cache (nil otherwise).
func lookup(store webhook.Store, ttl time.Duration) (webhook.Lookup, *sqlstore.Cache) {
	s, ok := store.(*sqlstore.Store)
	if !ok || ttl <= 0 {
		return store, nil
	}
	c := sqlstore.NewCache(s, ttl)
	return c, c
}

func newConfig(opts []Option) config {
	c := config{workers: DefaultWorkers, completedRetention: DefaultCompletedRetention,
		deadLetterRetention: DefaultDeadLetterRetention, attemptRetention: DefaultAttemptRetention, now: time.Now,
		logBatch: sqlstore.DefaultLogBatch}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.workers <= 0 {
		c.workers = DefaultWorkers
	}
	return c
}

// New builds an Outbox on a River driver and the *sql.DB of the same
// database (for outhook's tables), with d its dialect. It does not touch the
// database: call Migrate, then Start.
func New[TTx any](driver riverdriver.Driver[TTx], db *sql.DB, d sqlstore.Dialect, reg *trigger.Registry, opts ...Option) (*Outbox[TTx], error) {
	cfg := newConfig(opts)
	store := cfg.store
	if store == nil {
		store = sqlstore.New(db, d, sqlstore.WithReader(cfg.reader))
	}
	o := &Outbox[TTx]{driver: driver, db: db, reader: cfg.reader, dialect: d, schema: cfg.schema, logger: cfg.logger,
		rescue: cfg.rescueOnStart, store: store,
		log: sqlstore.NewLog(db, d, sqlstore.WithReader(cfg.reader), sqlstore.WithLogBatch(cfg.logBatch))}
	// The caller's options come after the defaults, so theirs win.
	sopts := append([]webhook.SenderOption{webhook.WithLogger(cfg.logger), webhook.WithBackOff(durable.DefaultBackOff)},
		cfg.senderOptions...)
	dopts := append(append([]webhook.DispatcherOption(nil), cfg.dispatcherOptions...), webhook.WithTransport(viaOutbox[TTx]{o}))
	if cfg.maxBody > 0 {
		dopts = append(dopts, webhook.WithMaxBodySize(cfg.maxBody))
	}
	for _, so := range sopts {
		dopts = append(dopts, so)
	}
	var l webhook.Lookup
	l, o.cache = lookup(store, cfg.cache)
	o.dispatcher = webhook.NewDispatcher(l, reg, dopts...)

	workers := river.NewWorkers()
	rc := riverConfig(cfg, workers, o.log)
	// Added after the callback, so that the fair share follows the Queue's
	// worker count it may have changed.
	wopts := []durable.WorkerOption{durable.WithAttemptLog(o.log), durable.WithLogger(cfg.logger),
		durable.WithJobTimeout(cfg.jobTimeout), durable.WithClock(cfg.now),
		durable.WithQueueWorkers(rc.Queues[durable.Queue].MaxWorkers), durable.WithOnDeadLetter(cfg.onDeadLetter)}
	if cfg.perEndpoint != nil {
		wopts = append(wopts, durable.WithPerEndpoint(*cfg.perEndpoint))
	}
	river.AddWorker(workers, durable.NewWorker(o.dispatcher.Sender(), wopts...))
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
		return nil, fmt.Errorf("outbox: river client: %w", err)
	}
	o.client = client
	o.transport = durable.New(client)
	return o, nil
}

// riverConfig is the River client's configuration for cfg, with workers
// (holding the prune worker when attempt rows expire) and the WithRiverConfig
// callback applied; the delivery Worker is added by New.
func riverConfig(cfg config, workers *river.Workers, log *sqlstore.Log) *river.Config {
	rc := &river.Config{
		Logger:                      cfg.logger,
		Schema:                      cfg.schema,
		Workers:                     workers,
		CompletedJobRetentionPeriod: cfg.completedRetention,
		DiscardedJobRetentionPeriod: cfg.deadLetterRetention,
		CancelledJobRetentionPeriod: cfg.deadLetterRetention,
		Queues: map[string]river.QueueConfig{durable.Queue: {
			MaxWorkers: cfg.workers, FetchCooldown: cfg.fetchCooldown, FetchPollInterval: cfg.fetchPollInterval,
		}},
	}
	if cfg.attemptRetention > 0 {
		river.AddWorker(workers, durable.NewPruneWorker(log, cfg.attemptRetention, cfg.now))
		rc.PeriodicJobs = append(rc.PeriodicJobs, durable.PrunePeriodicJob(min(cfg.attemptRetention/4, time.Hour)))
	}
	if cfg.jobTimeout != 0 {
		rc.JobTimeout = cfg.jobTimeout
	}
	rescue := rescueAfter(rc.JobTimeout)
	rc.RescueStuckJobsAfter = rescue
	if cfg.river != nil {
		cfg.river(rc)
		if rc.RescueStuckJobsAfter == rescue { // follow a JobTimeout the callback changed
			rc.RescueStuckJobsAfter = rescueAfter(rc.JobTimeout)
		}
	}
	return rc
}

// Migrate brings the database up to date: River's migrations and the index
// Redeliver uses (durable.Migrate), and outhook's tables (sqlstore.Migrate).
// It is idempotent.
func (o *Outbox[TTx]) Migrate(ctx context.Context) error {
	if o.closed.Load() {
		return ErrClosed
	}
	if err := durable.Migrate(ctx, o.driver, o.db, o.schema, o.logger); err != nil {
		return err
	}
	return sqlstore.Migrate(ctx, o.db, o.dialect)
}

// rescueRunning puts the deliveries a crashed process left running back in
// the queue (WithRescueOnStart). River has no API for it (JobRetry leaves
// running jobs alone), so this writes River's job table directly: the one
// write outside River's API, which TestRescueOnStart checks against the
// River version in go.mod.
func (o *Outbox[TTx]) rescueRunning(ctx context.Context) error {
	table := "river_job"
	if o.schema != "" {
		table = `"` + strings.ReplaceAll(o.schema, `"`, `""`) + `".river_job`
	}
	q := "UPDATE " + table + " SET state = 'available' WHERE state = 'running' AND kind = '" + durable.Kind + "'"
	if _, err := o.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("outbox: rescue running deliveries: %w", err)
	}
	return nil
}

// Start starts working deliveries; it returns once the client runs. The
// client keeps running after Start returns, until Stop or Close, but it also
// stops, cancelling the attempts in flight, when ctx ends (River's rule):
// pass a context that lives as long as the Outbox, not a request's.
//
// With WithRescueOnStart it first puts deliveries a crash left running back
// in the queue. On a database that Migrate has not prepared it returns
// ErrNotMigrated; after Close, ErrClosed.
func (o *Outbox[TTx]) Start(ctx context.Context) error {
	if o.closed.Load() {
		return ErrClosed
	}
	if err := o.checkMigrated(ctx); err != nil {
		return err
	}
	if o.rescue {
		if err := o.rescueRunning(ctx); err != nil {
			return err
		}
	}
	return o.client.Start(ctx)
}

// Stop stops fetching new deliveries and waits for the running attempts to
// finish, or for ctx to end. Start starts it again.
func (o *Outbox[TTx]) Stop(ctx context.Context) error {
	if o.closed.Load() {
		return ErrClosed
	}
	return o.client.Stop(ctx)
}

// stopTimeout bounds how long Close waits for cancelled attempts.
const stopTimeout = 10 * time.Second

// Close stops the client like Stop. If ctx ends first, it cancels the
// attempts still running (River's StopAndCancel; they are retried later, with
// the same delivery ID) and waits for them up to 10 seconds more, so that
// no River goroutine outlives Close; the error then says ctx ended. It closes
// no database: the driver packages' Close does that too.
//
// After Close every method, Close included, returns ErrClosed.
func (o *Outbox[TTx]) Close(ctx context.Context) error {
	if !o.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	err := o.client.Stop(ctx)
	if err == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return errors.Join(fmt.Errorf("outbox: stop: %w", err), o.client.StopAndCancel(cctx))
}

// Dispatch enqueues msg for every record its dispatch reaches (see
// webhook.Dispatcher.Dispatch and its options: webhook.WithTenant,
// webhook.WithChannels, webhook.WithIdempotencyKey). An idempotency key is
// kept in the database with River's unique jobs, so it holds across
// restarts and processes: a repeat with the same key, tenant and trigger
// enqueues nothing for a record that has a delivery of it and returns that
// delivery marked Duplicate, for as long as the delivery's job is kept (at
// least WithCompletedRetention after it was delivered, WithDeadLetterRetention
// after it gave up; see package durable). On a database that Migrate has not
// prepared it fails with ErrNotMigrated; after Close, with ErrClosed.
func (o *Outbox[TTx]) Dispatch(ctx context.Context, msg trigger.Message, opts ...webhook.DispatchOption) ([]webhook.Delivery, error) {
	if o.closed.Load() {
		return nil, ErrClosed
	}
	ds, err := o.dispatcher.Dispatch(ctx, msg, opts...)
	return ds, o.explain(ctx, err)
}

// DispatchTx enqueues msg inside the application's transaction tx: the
// deliveries exist if and only if tx commits, and so does the idempotency
// key of webhook.WithIdempotencyKey (a rolled-back dispatch leaves no key
// behind). Its options and errors are Dispatch's.
func (o *Outbox[TTx]) DispatchTx(ctx context.Context, tx TTx, msg trigger.Message, opts ...webhook.DispatchOption) ([]webhook.Delivery, error) {
	if o.closed.Load() {
		return nil, ErrClosed
	}
	ds, err := o.dispatcher.DispatchVia(ctx, o.transport.InTx(tx), msg, opts...)
	return ds, o.explain(ctx, err)
}

// explain adds ErrNotMigrated to err, a failed Dispatch's error, when the
// database lacks the outbox's tables.
func (o *Outbox[TTx]) explain(ctx context.Context, err error) error {
	if err == nil || o.migrated.Load() {
		return err
	}
	// Through the reader when there is one: the app's transaction may hold
	// SQLite's one writer connection (DispatchTx). Bounded, in case it has
	// no other.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), migratedCheckTimeout)
	defer cancel()
	if cerr := o.checkMigrated(cctx); errors.Is(cerr, ErrNotMigrated) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// migratedCheckTimeout bounds the look for the outbox's tables after a
// failed Dispatch.
const migratedCheckTimeout = 5 * time.Second

// checkMigrated returns ErrNotMigrated if River's job table or the delivery
// log's table is missing; other errors of the look are returned as they are.
func (o *Outbox[TTx]) checkMigrated(ctx context.Context) error {
	if o.migrated.Load() {
		return nil
	}
	db := o.db
	if o.reader != nil {
		db = o.reader
	}
	var riverOK, logOK bool
	var err error
	if o.driver.DatabaseName() == riverdriver.DatabaseNamePostgres {
		// River's table is in the schema; outhook's follow the search_path.
		table := "river_job"
		if o.schema != "" {
			table = `"` + strings.ReplaceAll(o.schema, `"`, `""`) + `".river_job`
		}
		err = db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass('outhook_attempt') IS NOT NULL`, table).Scan(&riverOK, &logOK)
	} else {
		master := "sqlite_master"
		if o.schema != "" { // an attached database
			master = `"` + strings.ReplaceAll(o.schema, `"`, `""`) + `".sqlite_master`
		}
		err = db.QueryRowContext(ctx, `SELECT
	EXISTS (SELECT 1 FROM `+master+` WHERE type = 'table' AND name = 'river_job'),
	EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outhook_attempt')`).Scan(&riverOK, &logOK)
	}
	if err != nil {
		return fmt.Errorf("outbox: look for the outbox's tables: %w", err)
	}
	if !riverOK || !logOK {
		return ErrNotMigrated
	}
	o.migrated.Store(true)
	return nil
}

// DeadLetters lists deliveries that gave up; see durable.Transport.DeadLetters.
func (o *Outbox[TTx]) DeadLetters(ctx context.Context, limit int) ([]durable.DeadLetter, error) {
	if o.closed.Load() {
		return nil, ErrClosed
	}
	return o.transport.DeadLetters(ctx, limit)
}

// Closed reports whether Close was called. The driver packages' methods
// check it before using a database that Close closed.
func (o *Outbox[TTx]) Closed() bool { return o.closed.Load() }

// Redeliver enqueues a finished delivery again with the same delivery ID;
// see durable.Transport.RedeliverTx. With TTx *sql.Tx (SQLite, outboxpg.NewSQL)
// it runs in a transaction of its own, so that concurrent calls for one
// delivery enqueue it once; outboxpg's Outbox does the same with pgx. Other
// drivers fall back to Transport.Redeliver.
func (o *Outbox[TTx]) Redeliver(ctx context.Context, deliveryID uuid.UUID) error {
	if o.closed.Load() {
		return ErrClosed
	}
	if o.begin == nil {
		return o.transport.Redeliver(ctx, deliveryID)
	}
	tx, commit, rollback, err := o.begin(ctx)
	if err != nil {
		return fmt.Errorf("outbox: redeliver %s: begin: %w", deliveryID, err)
	}
	defer rollback() //nolint:errcheck // a no-op after commit
	if err := o.transport.RedeliverTx(ctx, tx, deliveryID); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return fmt.Errorf("outbox: redeliver %s: commit: %w", deliveryID, err)
	}
	return nil
}

var _ webhook.Resender = (*Outbox[*sql.Tx])(nil)

// Resend implements webhook.Resender: it is Redeliver, with its errors
// matching webhook's sentinels too (see ResendError).
func (o *Outbox[TTx]) Resend(ctx context.Context, deliveryID uuid.UUID) error {
	return ResendError(o.Redeliver(ctx, deliveryID))
}

// ResendError returns err, an error of Redeliver, as Resend returns it: an
// unknown delivery's error matches webhook.ErrDeliveryNotFound too, and a
// delivery still in progress webhook.ErrDeliveryInProgress.
func ResendError(err error) error {
	switch {
	case errors.Is(err, durable.ErrDeliveryNotFound) && !errors.Is(err, webhook.ErrDeliveryNotFound):
		return fmt.Errorf("%w (%w)", webhook.ErrDeliveryNotFound, err)
	case errors.Is(err, durable.ErrInProgress) && !errors.Is(err, webhook.ErrDeliveryInProgress):
		return fmt.Errorf("%w (%w)", webhook.ErrDeliveryInProgress, err)
	}
	return err
}
