package durable

import (
	"bytes"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/outhook/outhook/transport"
)

// Kind is the River job kind of a delivery.
const Kind = "outhook.delivery"

// Queue is the River queue deliveries are inserted into. An app that brings
// its own client gives this queue its own worker count.
const Queue = "outhook"

// MaxAttempts caps the attempts of one delivery when the Attempter's backoff
// never says backoff.Stop, such as one bounded only by MaxElapsedTime, which
// a durable transport cannot honour (see DefaultBackOff).
const MaxAttempts = 100

// Args are a delivery's River job arguments: identifiers and the body, never
// the secret. The worker loads the record when it sends.
//
// The fields tagged river:"unique" (WebhookID, Tenant, Trigger and
// IdempotencyKey) are what River's unique jobs compare for a delivery with
// an idempotency key (see Transport); they count only when a job is
// inserted with UniqueOpts.ByArgs, which Transport does for keyed
// deliveries alone.
type Args struct {
	// DeliveryID is sent as the delivery ID header on every attempt and replay.
	DeliveryID uuid.UUID `json:"delivery_id"`
	// WebhookID is the record to deliver to.
	WebhookID uuid.UUID `json:"webhook_id" river:"unique"`
	// Tenant is the tenant the message was dispatched for ("" for the
	// application's own records).
	Tenant string `json:"tenant,omitempty" river:"unique"`
	// Trigger is the message's trigger identifier.
	Trigger string `json:"trigger" river:"unique"`
	// IdempotencyKey is the key the message was dispatched with, or "".
	IdempotencyKey string `json:"idempotency_key,omitempty" river:"unique"`
	// Body is the encoded message when it is valid UTF-8 (a JSON body always
	// is). It is kept as a JSON string, not as raw JSON, because PostgreSQL's
	// jsonb would reorder the keys and the receiver must get the exact bytes.
	Body string `json:"body,omitempty"`
	// BodyBytes holds a body that is not valid UTF-8 or holds a NUL byte,
	// which PostgreSQL's jsonb cannot store in a string (base64 in the job).
	BodyBytes []byte `json:"body_bytes,omitempty"`
	// CreatedAt is when Dispatch created the delivery.
	CreatedAt time.Time `json:"created_at"`
	// AttemptOffset is added to the job's attempt number in the delivery log
	// and the Attempter, so a replay continues the count. It is the
	// envelope's AttemptOffset.
	AttemptOffset int `json:"attempt_offset,omitempty"`
	// Meta is the envelope's propagation fields (the dispatching span's
	// trace context), so that an attempt made later links to it. It is not
	// part of an idempotency key's uniqueness.
	Meta map[string]string `json:"meta,omitempty"`

	// next is the delay Work chose for NextRetry (backoff and Retry-After).
	next time.Duration
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return Kind }

// InsertOpts implements river.JobArgsWithInsertOpts: deliveries go to Queue.
func (Args) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// NewArgs returns the job arguments of env.
func NewArgs(env transport.Envelope) Args {
	a := Args{DeliveryID: env.DeliveryID, WebhookID: env.WebhookID, Tenant: env.Tenant, Trigger: env.Trigger,
		IdempotencyKey: env.IdempotencyKey, CreatedAt: env.CreatedAt, Meta: env.Meta, AttemptOffset: env.AttemptOffset}
	if utf8.Valid(env.Body) && bytes.IndexByte(env.Body, 0) < 0 {
		a.Body = string(env.Body)
	} else {
		a.BodyBytes = env.Body
	}
	return a
}

// Envelope returns the delivery the arguments describe.
func (a Args) Envelope() transport.Envelope {
	body := a.BodyBytes
	if a.Body != "" {
		body = []byte(a.Body)
	}
	return transport.Envelope{DeliveryID: a.DeliveryID, WebhookID: a.WebhookID, Tenant: a.Tenant, Trigger: a.Trigger,
		IdempotencyKey: a.IdempotencyKey, Body: body, CreatedAt: a.CreatedAt, Meta: a.Meta, AttemptOffset: a.AttemptOffset}
}
