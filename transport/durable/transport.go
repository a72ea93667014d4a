package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/outhook/outhook/transport"
)

var (
	// ErrDeliveryNotFound is returned by Redeliver for a delivery ID with no
	// job (never enqueued, or its job was cleaned up).
	ErrDeliveryNotFound = errors.New("durable: delivery not found")
	// ErrInProgress is returned by Redeliver for a delivery that is still
	// queued, waiting for a retry, or being sent, or that a concurrent
	// RedeliverTx is replaying.
	ErrInProgress = errors.New("durable: delivery still in progress")
)

// Transport is a transport.Transport that enqueues one River job per
// envelope; a Worker makes the attempts, in this process or another one
// sharing the database. TTx is the River driver's transaction type:
// pgx.Tx (riverpgxv5) or *sql.Tx (riversqlite, riverdatabasesql).
//
// It is a transport.Deduplicator: an envelope with an IdempotencyKey becomes
// a River unique job, and a record's second envelope with the same tenant,
// trigger and key creates nothing while the first one's job exists (see the
// package documentation for how long that is).
type Transport[TTx any] struct {
	client *river.Client[TTx]
}

var (
	_ transport.Deduplicator = (*Transport[any])(nil)
	_ transport.Deduplicator = txTransport[any]{}
)

// New returns a Transport that inserts jobs with client. The client needs a
// Worker registered (river.AddWorker(workers, durable.NewWorker(sender))) in
// the processes that work the Queue; an insert-only client needs none.
func New[TTx any](client *river.Client[TTx]) *Transport[TTx] { return &Transport[TTx]{client: client} }

// Client returns the River client.
func (t *Transport[TTx]) Client() *river.Client[TTx] { return t.client }

// Send implements transport.Transport: it inserts one job per envelope in one
// batch and reports them StatusQueued. Every job may take as many attempts as
// a's backoff schedule allows.
//
// An envelope with an IdempotencyKey whose record already has a job of the
// same tenant, trigger and key (in any state, inserted earlier or in the same
// batch) inserts nothing: its Result is that delivery's, with its delivery
// ID, Duplicate set, and the status it has reached (StatusQueued,
// StatusDelivered, or StatusFailed with a *transport.DeliveryError).
func (t *Transport[TTx]) Send(ctx context.Context, a transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	return enqueue(a, envs, "", inserter{
		many: func(ps []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
			return t.client.InsertMany(ctx, ps)
		},
		fast: func(ps []river.InsertManyParams) (int, error) { return t.client.InsertManyFast(ctx, ps) },
	})
}

// DeduplicatesByKey implements transport.Deduplicator: Send honours
// Envelope.IdempotencyKey with River's unique jobs.
func (t *Transport[TTx]) DeduplicatesByKey() bool { return true }

// InTx returns the Transport bound to the application's transaction tx:
// its Send inserts the jobs in tx, so they exist if and only if tx commits
// (the transactional outbox). Give it to webhook.Dispatcher.DispatchVia:
//
//	deliveries, err := dispatcher.DispatchVia(ctx, riverTransport.InTx(tx), msg)
//
// The records are still read through the Dispatcher's store, outside tx. It
// de-duplicates by idempotency key as Send does (it is a
// transport.Deduplicator); a key inserted in tx holds only once tx commits,
// and on PostgreSQL a concurrent insert of the same key waits for tx.
func (t *Transport[TTx]) InTx(tx TTx) transport.Transport { return txTransport[TTx]{t: t, tx: tx} }

// txTransport is a Transport bound to one transaction.
type txTransport[TTx any] struct {
	t  *Transport[TTx]
	tx TTx
}

// Send implements transport.Transport inside the bound transaction.
func (b txTransport[TTx]) Send(ctx context.Context, a transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	return enqueue(a, envs, " in transaction", inserter{
		many: func(ps []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
			return b.t.client.InsertManyTx(ctx, b.tx, ps)
		},
		fast: func(ps []river.InsertManyParams) (int, error) { return b.t.client.InsertManyFastTx(ctx, b.tx, ps) },
	})
}

// DeduplicatesByKey implements transport.Deduplicator, as
// Transport.DeduplicatesByKey.
func (b txTransport[TTx]) DeduplicatesByKey() bool { return true }

// inserter inserts a batch of jobs: many returns the jobs (River's
// InsertMany), fast only how many it inserted (InsertManyFast), which spares
// the database returning every row, body included, and River decoding it.
type inserter struct {
	many func([]river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	fast func([]river.InsertManyParams) (int, error)
}

// enqueue inserts one job per envelope in one batch with ins (see
// Transport.Send); where completes the error message. A batch without
// idempotency keys needs no job back, every envelope being queued: it goes
// through ins.fast. A keyed one needs River's answer for each key.
func enqueue(a transport.Attempter, envs []transport.Envelope, where string, ins inserter) ([]transport.Result, error) {
	if len(envs) == 0 {
		return []transport.Result{}, nil // River refuses an empty batch
	}
	b := newBatch(a, envs)
	var res []*rivertype.JobInsertResult
	var err error
	if b.keyed {
		res, err = ins.many(b.params)
	} else {
		var n int
		if n, err = ins.fast(b.params); err == nil && n != len(b.params) {
			err = fmt.Errorf("only %d of %d jobs were inserted", n, len(b.params))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("durable: enqueue %d deliveries%s: %w", len(envs), where, err)
	}
	return b.results(res)
}

// DeadLetter is a delivery that gave up: its job was discarded (retries
// exhausted) or cancelled (a permanent failure, a deleted or disabled record).
type DeadLetter struct {
	// DeliveryID is the delivery's ID, the one Redeliver takes.
	DeliveryID uuid.UUID
	// WebhookID is the record it was for.
	WebhookID uuid.UUID
	// Tenant is the tenant it was dispatched for ("" for the application's
	// own records).
	Tenant string
	// Trigger is the message's trigger identifier.
	Trigger string
	// State is rivertype.JobStateDiscarded or rivertype.JobStateCancelled.
	State rivertype.JobState
	// Attempts made, replays and interrupted attempts included: the number
	// of the last attempt in the delivery log.
	Attempts int
	// FinalizedAt is when the delivery gave up.
	FinalizedAt time.Time
	// LastError is the last attempt's error.
	LastError string
	// JobID is the River job.
	JobID int64
}

// MaxDeadLetters is the most DeadLetters lists at once (River's JobList limit).
const MaxDeadLetters = 10_000

// DeadLetters lists the deliveries that gave up, most recent first, at most
// limit of them; a limit below 1 or above MaxDeadLetters is an error. River's
// cleaner deletes them after its DiscardedJobRetentionPeriod and
// CancelledJobRetentionPeriod.
func (t *Transport[TTx]) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	if limit < 1 || limit > MaxDeadLetters {
		return nil, fmt.Errorf("durable: list dead letters: limit %d is not between 1 and %d", limit, MaxDeadLetters)
	}
	p := river.NewJobListParams().Kinds(Kind).
		States(rivertype.JobStateDiscarded, rivertype.JobStateCancelled).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).First(limit)
	res, err := t.client.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("durable: list dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		a, err := decodeArgs(j)
		if err != nil {
			return nil, err
		}
		dl := DeadLetter{DeliveryID: a.DeliveryID, WebhookID: a.WebhookID, Tenant: a.Tenant, Trigger: a.Trigger, State: j.State,
			Attempts: j.Attempt + a.AttemptOffset + interruptions(j), JobID: j.ID}
		if j.FinalizedAt != nil {
			dl.FinalizedAt = *j.FinalizedAt
		}
		if len(j.Errors) > 0 {
			dl.LastError = j.Errors[len(j.Errors)-1].Error
		}
		out = append(out, dl)
	}
	return out, nil
}

// deliveryWhere selects the jobs of one delivery. The kind is a literal, not
// a parameter, so that the query implies the predicate of the partial index
// Migrate creates (outhook_river_job_delivery) and PostgreSQL and SQLite use
// it, in generic plans too.
const deliveryWhere = "kind = '" + Kind + "' AND args->>'delivery_id' = @delivery_id"

// latestJob returns the newest job of a delivery.
func latestJob(id uuid.UUID) *river.JobListParams {
	return river.NewJobListParams().
		Where(deliveryWhere, river.NamedArgs{"delivery_id": id.String()}).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1)
}

// redeliverable checks that j, the newest job of a delivery (nil: none), is
// finished and returns the arguments of its replay.
func redeliverable(deliveryID uuid.UUID, j *rivertype.JobRow) (Args, error) {
	if j == nil {
		return Args{}, fmt.Errorf("%w: %s", ErrDeliveryNotFound, deliveryID)
	}
	switch j.State {
	case rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
	default:
		return Args{}, fmt.Errorf("%w: %s is %s", ErrInProgress, deliveryID, j.State)
	}
	a, err := decodeArgs(j)
	if err != nil {
		return Args{}, err
	}
	a.AttemptOffset += j.Attempt + interruptions(j)
	return a, nil
}

func first(jobs []*rivertype.JobRow) *rivertype.JobRow {
	if len(jobs) == 0 {
		return nil
	}
	return jobs[0]
}

// Redeliver enqueues a finished delivery again with the same delivery ID and
// a fresh retry schedule; its attempt numbers continue where they stopped.
// It is meant for dead letters and works for delivered ones too. A delivery
// still in progress gives ErrInProgress; an unknown one ErrDeliveryNotFound.
//
// Redeliver inserts the new job before it deletes the old one, outside any
// transaction, so two concurrent calls for one delivery may both enqueue it
// (receivers de-duplicate on the delivery ID). RedeliverTx, and the Outbox's
// Redeliver, enqueue it once.
//
// For the same reason the new job of a delivery dispatched with an
// idempotency key cannot take over the key from the old one, which holds it
// until it is deleted: the replay is sent, but once it is enqueued a
// dispatch with that key creates new deliveries. RedeliverTx keeps the key.
func (t *Transport[TTx]) Redeliver(ctx context.Context, deliveryID uuid.UUID) error {
	res, err := t.client.JobList(ctx, latestJob(deliveryID))
	if err != nil {
		return fmt.Errorf("durable: find delivery %s: %w", deliveryID, err)
	}
	j := first(res.Jobs)
	a, err := redeliverable(deliveryID, j)
	if err != nil {
		return err
	}
	if _, err := t.client.Insert(ctx, a, insertOpts(j.Queue, j.MaxAttempts, false)); err != nil {
		return fmt.Errorf("durable: redeliver %s: %w", deliveryID, err)
	}
	// The new job replaces the old one; if this delete fails the old job
	// only stays listed until River's cleaner removes it.
	if _, err := t.client.JobDelete(ctx, j.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("durable: redeliver %s: remove old job %d: %w", deliveryID, j.ID, err)
	}
	return nil
}

// RedeliverTx is Redeliver inside tx: it replaces the delivery's finished
// job with a new one when tx commits. Of two concurrent calls for one
// delivery, one replaces it and the other gets ErrInProgress. The new job of
// a delivery dispatched with an idempotency key holds the key as the old one
// did, so a dispatch with it still creates no new delivery.
func (t *Transport[TTx]) RedeliverTx(ctx context.Context, tx TTx, deliveryID uuid.UUID) error {
	res, err := t.client.JobListTx(ctx, tx, latestJob(deliveryID))
	if err != nil {
		return fmt.Errorf("durable: find delivery %s: %w", deliveryID, err)
	}
	j := first(res.Jobs)
	if j != nil {
		// Lock the job's row (an update that changes nothing) and read it
		// again. A concurrent RedeliverTx that got the lock first has deleted
		// the job by the time this one gets it: the update then finds no row,
		// where River's JobDelete, reading the row as of its own start,
		// would report it deleted a second time.
		j, err = t.client.JobUpdateTx(ctx, tx, j.ID, nil)
		if errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("%w: %s is being redelivered", ErrInProgress, deliveryID)
		}
		if err != nil {
			return fmt.Errorf("durable: redeliver %s: lock job: %w", deliveryID, err)
		}
	}
	a, err := redeliverable(deliveryID, j)
	if err != nil {
		return err
	}
	if _, err := t.client.JobDeleteTx(ctx, tx, j.ID); err != nil {
		return fmt.Errorf("durable: redeliver %s: remove old job %d: %w", deliveryID, j.ID, err)
	}
	// The old job is deleted in tx, so the new one can take over its key.
	keyed := len(j.UniqueKey) > 0 && a.IdempotencyKey != ""
	ins, err := t.client.InsertTx(ctx, tx, a, insertOpts(j.Queue, j.MaxAttempts, keyed))
	if err != nil {
		return fmt.Errorf("durable: redeliver %s: %w", deliveryID, err)
	}
	if ins.UniqueSkippedAsDuplicate {
		return fmt.Errorf("durable: redeliver %s: its idempotency key is held by job %d", deliveryID, ins.Job.ID)
	}
	return nil
}
