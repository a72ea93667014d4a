package durable

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/outhook/outhook/transport"
)

// uniqueOpts makes the job of a delivery with an idempotency key unique by
// the river:"unique" fields of Args (record, tenant, trigger, key) in every
// job state, cancelled and discarded included, so that a dead letter is not
// created again. It sets no ByPeriod: River's periods are buckets aligned
// to multiples of the period, not a window that starts at the first
// dispatch, so a repeat a minute later across a bucket boundary would be
// sent again. The key holds as long as the job row exists (see the package
// documentation).
func uniqueOpts() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()}
}

// insertOpts are the insert options of a delivery job; unique adds
// uniqueOpts.
func insertOpts(queue string, maxAttempts int, unique bool) *river.InsertOpts {
	o := &river.InsertOpts{Queue: queue, MaxAttempts: maxAttempts}
	if unique {
		o.UniqueOpts = uniqueOpts()
	}
	return o
}

// uniqueKey is what River's unique job compares for a keyed delivery.
type uniqueKey struct {
	webhook              uuid.UUID
	tenant, trigger, key string
}

// jobIdentity is the part of a job's Args that identifies its delivery,
// decoded without the body.
type jobIdentity struct {
	DeliveryID     uuid.UUID `json:"delivery_id"`
	WebhookID      uuid.UUID `json:"webhook_id"`
	Tenant         string    `json:"tenant"`
	Trigger        string    `json:"trigger"`
	IdempotencyKey string    `json:"idempotency_key"`
	AttemptOffset  int       `json:"attempt_offset"`
}

func (id jobIdentity) key() uniqueKey {
	return uniqueKey{webhook: id.WebhookID, tenant: id.Tenant, trigger: id.Trigger, key: id.IdempotencyKey}
}

func envelopeKey(env transport.Envelope) uniqueKey {
	return uniqueKey{webhook: env.WebhookID, tenant: env.Tenant, trigger: env.Trigger, key: env.IdempotencyKey}
}

// batch is the jobs of one Send: one per envelope, except for an envelope
// with the unique key of an earlier one in the same Send. River cannot
// insert those two in one batch (PostgreSQL refuses to update one row twice
// in a statement, riversqlite refuses a repeated unique key), so the later
// one is left out and reported as a duplicate of the earlier one.
type batch struct {
	envs   []transport.Envelope
	params []river.InsertManyParams
	keyed  bool  // some envelope has an idempotency key
	first  []int // per envelope: the first envelope with its unique key
}

// newBatch returns the jobs of envs, each of which may take as many
// attempts as a's schedule allows. Envelopes without an idempotency key are
// plain jobs, without unique options.
func newBatch(a transport.Attempter, envs []transport.Envelope) *batch {
	n := maxAttempts(a)
	plain, unique := insertOpts(Queue, n, false), insertOpts(Queue, n, true)
	b := &batch{envs: envs, params: make([]river.InsertManyParams, 0, len(envs)), first: make([]int, len(envs))}
	seen := map[uniqueKey]int{}
	for i, env := range envs {
		b.first[i] = i
		opts := plain
		if env.IdempotencyKey != "" {
			k := envelopeKey(env)
			if j, ok := seen[k]; ok {
				b.first[i] = j
				continue
			}
			seen[k], b.keyed, opts = i, true, unique
		}
		b.params = append(b.params, river.InsertManyParams{Args: NewArgs(env), InsertOpts: opts})
	}
	return b
}

// results reports one Result per envelope from River's insert results:
// StatusQueued for an inserted job, the existing delivery's Result marked
// Duplicate for a keyed envelope whose key a job already held.
func (b *batch) results(res []*rivertype.JobInsertResult) ([]transport.Result, error) {
	jobs, err := b.byKey(res)
	if err != nil {
		return nil, err
	}
	rs := make([]transport.Result, len(b.envs))
	for i, env := range b.envs {
		if env.IdempotencyKey == "" {
			rs[i] = transport.Result{DeliveryID: env.DeliveryID, Status: transport.StatusQueued}
			continue
		}
		j, ok := jobs[envelopeKey(env)]
		if !ok {
			return nil, fmt.Errorf("durable: River returned no job for delivery %s", env.DeliveryID)
		}
		rs[i] = j.result
		rs[i].Duplicate = j.duplicate || b.first[i] != i
	}
	return rs, nil
}

// keyedJob is the job that holds a unique key after an insert.
type keyedJob struct {
	result    transport.Result
	duplicate bool // the job existed before the insert
}

// byKey indexes the keyed jobs of res by their unique key.
func (b *batch) byKey(res []*rivertype.JobInsertResult) (map[uniqueKey]keyedJob, error) {
	if !b.keyed {
		return nil, nil
	}
	jobs := make(map[uniqueKey]keyedJob, len(res))
	for _, r := range res {
		var id jobIdentity
		if err := json.Unmarshal(r.Job.EncodedArgs, &id); err != nil {
			return nil, fmt.Errorf("durable: decode job %d: %w", r.Job.ID, err)
		}
		if id.IdempotencyKey != "" {
			jobs[id.key()] = keyedJob{result: resultOf(r.Job, id), duplicate: r.UniqueSkippedAsDuplicate}
		}
	}
	return jobs, nil
}

// resultOf reports the delivery of job j as it stands: StatusDelivered once
// completed, StatusFailed once discarded or cancelled (a dead letter), and
// StatusQueued before.
func resultOf(j *rivertype.JobRow, id jobIdentity) transport.Result {
	n := j.Attempt + id.AttemptOffset + interruptions(j)
	r := transport.Result{DeliveryID: id.DeliveryID, Status: transport.StatusQueued, Attempts: n}
	switch j.State {
	case rivertype.JobStateCompleted:
		r.Status = transport.StatusDelivered
	case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
		last := lastError(j)
		r.Status = transport.StatusFailed
		r.Err = &transport.DeliveryError{DeliveryID: id.DeliveryID, Attempts: n, Err: errors.New(last),
			Retryable: j.State == rivertype.JobStateDiscarded || strings.Contains(last, ErrRetriesExhausted.Error())}
	}
	return r
}

// lastError is the error of j's last attempt, or its state without one.
func lastError(j *rivertype.JobRow) string {
	if len(j.Errors) == 0 {
		return "job " + string(j.State)
	}
	return j.Errors[len(j.Errors)-1].Error
}
