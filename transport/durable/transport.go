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
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

var (
	// ErrDeliveryNotFound is returned by Redeliver for a delivery ID with no
	// job (never enqueued, or its job was cleaned up).
	ErrDeliveryNotFound = errors.New("durable: delivery not found")
	// ErrInProgress is returned by Redeliver for a delivery that is still
	// queued, waiting for a retry, or being sent.
	ErrInProgress = errors.New("durable: delivery still in progress")
)

// Transport is a transport.Transport that enqueues one River job per
// envelope; a Worker makes the attempts, in this process or another one
// sharing the database. TTx is the River driver's transaction type:
// pgx.Tx (riverpgxv5) or *sql.Tx (riversqlite, riverdatabasesql).
type Transport[TTx any] struct {
	client *river.Client[TTx]
}

var _ transport.Transport = (*Transport[any])(nil)

// New returns a Transport that inserts jobs with client. The client needs a
// Worker registered (river.AddWorker(workers, durable.NewWorker(sender))) in
// the processes that work the Queue; an insert-only client needs none.
func New[TTx any](client *river.Client[TTx]) *Transport[TTx] { return &Transport[TTx]{client: client} }

// Client returns the River client.
func (t *Transport[TTx]) Client() *river.Client[TTx] { return t.client }

// Send implements transport.Transport: it inserts one job per envelope in one
// batch and reports them StatusQueued. Every job may take as many attempts as
// a's backoff schedule allows.
func (t *Transport[TTx]) Send(ctx context.Context, a transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	if _, err := t.client.InsertMany(ctx, params(a, envs)); err != nil {
		return nil, fmt.Errorf("durable: enqueue %d deliveries: %w", len(envs), err)
	}
	return queued(envs), nil
}

// SendTx is Send inside the application's transaction tx: the jobs exist if
// and only if tx commits.
func (t *Transport[TTx]) SendTx(ctx context.Context, tx TTx, a transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	if _, err := t.client.InsertManyTx(ctx, tx, params(a, envs)); err != nil {
		return nil, fmt.Errorf("durable: enqueue %d deliveries in transaction: %w", len(envs), err)
	}
	return queued(envs), nil
}

// DispatchTx is d.Dispatch through this transport inside the application's
// transaction tx (the transactional outbox): the webhook deliveries exist if
// and only if tx commits. The records are read through d's Store outside tx.
func (t *Transport[TTx]) DispatchTx(ctx context.Context, tx TTx, d *webhook.Dispatcher, msg trigger.Message) ([]webhook.Delivery, error) {
	trg, envs, err := d.Prepare(ctx, msg)
	if err != nil {
		return nil, err
	}
	if len(envs) == 0 {
		return []webhook.Delivery{}, nil
	}
	if _, err := t.SendTx(ctx, tx, d.Sender(), envs); err != nil {
		return nil, fmt.Errorf("webhook: dispatch %s: %w", trg.Identifier, err)
	}
	out := make([]webhook.Delivery, len(envs))
	for i, env := range envs {
		out[i] = webhook.Delivery{ID: env.DeliveryID, WebhookID: env.WebhookID, Trigger: env.Trigger, Status: webhook.StatusQueued}
	}
	return out, nil
}

func params(a transport.Attempter, envs []transport.Envelope) []river.InsertManyParams {
	opts := &river.InsertOpts{Queue: Queue, MaxAttempts: maxAttempts(a)}
	ps := make([]river.InsertManyParams, len(envs))
	for i, env := range envs {
		ps[i] = river.InsertManyParams{Args: NewArgs(env), InsertOpts: opts}
	}
	return ps
}

func queued(envs []transport.Envelope) []transport.Result {
	rs := make([]transport.Result, len(envs))
	for i, env := range envs {
		rs[i] = transport.Result{DeliveryID: env.DeliveryID, Status: transport.StatusQueued}
	}
	return rs
}

// DeadLetter is a delivery that gave up: its job was discarded (retries
// exhausted) or cancelled (a permanent failure, a deleted or disabled record).
type DeadLetter struct {
	DeliveryID uuid.UUID
	WebhookID  uuid.UUID
	Trigger    string
	// State is rivertype.JobStateDiscarded or rivertype.JobStateCancelled.
	State rivertype.JobState
	// Attempts made, replays included.
	Attempts int
	// FinalizedAt is when the delivery gave up.
	FinalizedAt time.Time
	// LastError is the last attempt's error.
	LastError string
	// JobID is the River job.
	JobID int64
}

// DeadLetters lists the deliveries that gave up, most recent first, at most
// limit (1 to 10,000) of them. River's cleaner deletes them after its
// DiscardedJobRetentionPeriod and CancelledJobRetentionPeriod.
func (t *Transport[TTx]) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
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
		dl := DeadLetter{DeliveryID: a.DeliveryID, WebhookID: a.WebhookID, Trigger: a.Trigger, State: j.State,
			Attempts: j.Attempt + a.AttemptOffset, JobID: j.ID}
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

// Redeliver enqueues a finished delivery again with the same delivery ID and
// a fresh retry schedule; its attempt numbers continue where they stopped.
// It is meant for dead letters and works for delivered ones too. A delivery
// still in progress gives ErrInProgress; an unknown one ErrDeliveryNotFound.
func (t *Transport[TTx]) Redeliver(ctx context.Context, deliveryID uuid.UUID) error {
	p := river.NewJobListParams().Kinds(Kind).
		Where("args->>'delivery_id' = @delivery_id", river.NamedArgs{"delivery_id": deliveryID.String()}).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1)
	res, err := t.client.JobList(ctx, p)
	if err != nil {
		return fmt.Errorf("durable: find delivery %s: %w", deliveryID, err)
	}
	if len(res.Jobs) == 0 {
		return fmt.Errorf("%w: %s", ErrDeliveryNotFound, deliveryID)
	}
	j := res.Jobs[0]
	switch j.State {
	case rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
	default:
		return fmt.Errorf("%w: %s is %s", ErrInProgress, deliveryID, j.State)
	}
	a, err := decodeArgs(j)
	if err != nil {
		return err
	}
	a.AttemptOffset += j.Attempt
	if _, err := t.client.Insert(ctx, a, &river.InsertOpts{Queue: j.Queue, MaxAttempts: j.MaxAttempts}); err != nil {
		return fmt.Errorf("durable: redeliver %s: %w", deliveryID, err)
	}
	// The new job replaces the old one; if this delete fails the old job
	// only stays listed until River's cleaner removes it.
	if _, err := t.client.JobDelete(ctx, j.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("durable: redeliver %s: remove old job %d: %w", deliveryID, j.ID, err)
	}
	return nil
}
