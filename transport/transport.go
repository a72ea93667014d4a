package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
)

// Envelope is one delivery: one encoded body for one webhook record. It
// carries identifiers and the body, never a secret; the Attempter resolves the
// record when it sends.
type Envelope struct {
	// DeliveryID is born at Dispatch and is sent with every attempt and replay.
	DeliveryID uuid.UUID
	// WebhookID is the record the body goes to.
	WebhookID uuid.UUID
	// Tenant is the tenant the message was dispatched for ("" for the
	// application's own records). The Attempter refuses to deliver to a
	// record of another tenant.
	Tenant string
	// Trigger is the identifier of the message's trigger.
	Trigger string
	// IdempotencyKey is the key the message was dispatched with, or "". A
	// Deduplicator transport inserts at most one delivery per record for
	// the same tenant, trigger and key.
	IdempotencyKey string
	// Body is the encoded message. It is shared by all envelopes of a
	// Dispatch and must not be modified.
	Body []byte
	// CreatedAt is when Dispatch created the delivery.
	CreatedAt time.Time
	// Meta holds propagation fields captured at Dispatch, such as the W3C
	// trace context (traceparent, tracestate) of the dispatching span, so
	// that attempts made later or elsewhere can link to it. Every transport
	// carries it (the River transport in the job). It is shared by the
	// envelopes of a Dispatch and must not be modified. It is never sent
	// to receivers as it is (see webhook.Webhook.PropagateTrace).
	Meta map[string]string
	// AttemptOffset is how many attempts the delivery made before this
	// send: transports number its attempts from AttemptOffset+1, so that a
	// resend continues the count. Dispatch leaves it 0. (The River
	// transport keeps it in the job's arguments, where Redeliver sets it.)
	AttemptOffset int
}

// Outcome classifies an attempt.
type Outcome int

// Outcomes of an attempt.
const (
	// Success: the receiver answered 2xx.
	Success Outcome = iota
	// Retry: the attempt failed in a way that may pass later (network error,
	// timeout, 408, 425, 429, 5xx).
	Retry
	// Permanent: retrying cannot help (other statuses, a record that is gone or
	// disabled, a request that cannot be built).
	Permanent
	// Defer: no request was made (an open circuit breaker, a rate limit); try
	// again after RetryAfter. It does not count as an attempt and does not
	// advance the retry schedule.
	Defer
)

// String returns the outcome's name, as logged.
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Retry:
		return "retry"
	case Permanent:
		return "permanent"
	case Defer:
		return "defer"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Attempt is the result of one HTTP attempt.
type Attempt struct {
	// Number counts attempts of one delivery from 1.
	Number int
	// Start is when the request was sent.
	Start time.Time
	// Duration is how long the attempt took, response body read included.
	Duration time.Duration
	// StatusCode is the HTTP status, or 0 when no response arrived.
	StatusCode int
	// Excerpt is the start of the response body, for debugging.
	Excerpt string
	// RetryAfter is the wait the receiver asked for (Retry-After), or 0.
	RetryAfter time.Duration
	// Outcome classifies the attempt.
	Outcome Outcome
	// Err says why the attempt failed; nil on Success.
	Err error
}

// Attempter performs single attempts and owns the retry policy. The webhook
// package implements it; transports call it.
type Attempter interface {
	// Attempt makes attempt number n (from 1) of env and classifies it. It
	// never retries by itself.
	Attempt(ctx context.Context, env Envelope, n int) Attempt
	// NewBackOff returns a fresh retry schedule for one delivery.
	NewBackOff() backoff.BackOff
}

// AttemptFunc makes one attempt; Attempter.Attempt has its shape.
type AttemptFunc func(ctx context.Context, env Envelope, n int) Attempt

// Middleware wraps the attempt function, so that guards, limits, circuit
// breakers, telemetry and delivery logs apply under every transport.
type Middleware func(next AttemptFunc) AttemptFunc

// Status is where a delivery stands.
type Status string

// Delivery statuses.
const (
	// StatusDelivered: the receiver answered 2xx.
	StatusDelivered Status = "delivered"
	// StatusFailed: the delivery gave up; Err says why.
	StatusFailed Status = "failed"
	// StatusQueued: a transport accepted the delivery and will make its attempts later.
	StatusQueued Status = "queued"
)

// Result is what a transport reports for one envelope.
type Result struct {
	// DeliveryID matches the envelope, or is the earlier delivery a
	// Deduplicator returns for it.
	DeliveryID uuid.UUID
	// Duplicate is set by a Deduplicator for an envelope it did not accept
	// because an earlier delivery has its idempotency key.
	Duplicate bool
	// Status is final for Sync; StatusQueued for asynchronous transports.
	Status Status
	// Attempts made so far.
	Attempts int
	// Last is the last attempt made, if any.
	Last Attempt
	// Err is a *DeliveryError when Status is StatusFailed.
	Err error
}

// Transport hands envelopes to an Attempter, now or later.
type Transport interface {
	// Send delivers or enqueues every envelope and returns one Result per
	// envelope, in order. An error means none of envs was accepted.
	Send(ctx context.Context, a Attempter, envs []Envelope) ([]Result, error)
}

// Deduplicator is implemented by a Transport that de-duplicates envelopes by
// their IdempotencyKey itself, durably (the River transport, with River's
// unique jobs). For an envelope whose record already has a delivery of the
// same tenant, trigger and key, its Send accepts nothing new and returns the
// existing delivery's Result, with that delivery's DeliveryID. The
// webhook.Dispatcher keeps its own in-process record of keys for transports
// that are not Deduplicators.
type Deduplicator interface {
	Transport
	// DeduplicatesByKey reports whether Send honours Envelope.IdempotencyKey.
	DeduplicatesByKey() bool
}

// DeliveryError is the error of a delivery that gave up.
type DeliveryError struct {
	// DeliveryID is the delivery that failed.
	DeliveryID uuid.UUID
	// Attempts is how many attempts were made.
	Attempts int
	// StatusCode is the last HTTP status, or 0.
	StatusCode int
	// Retryable tells whether the last failure was of a retryable kind (the
	// retry budget ran out, the context ended, a deferral lasted too long)
	// rather than permanent.
	Retryable bool
	// Err is the last attempt's error.
	Err error
}

// Error describes the failure; it never contains a secret.
func (e *DeliveryError) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "gave up on a retryable failure"
	}
	return fmt.Sprintf("delivery %s failed after %d attempt(s) (%s): %v", e.DeliveryID, e.Attempts, kind, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// StatusError is an attempt's error for a non-2xx response.
type StatusError struct {
	// StatusCode is the HTTP status the receiver answered.
	StatusCode int
}

// Error names the status.
func (e *StatusError) Error() string { return fmt.Sprintf("receiver answered HTTP %d", e.StatusCode) }

// ErrQueueFull is returned by an asynchronous transport that cannot accept more work.
var ErrQueueFull = errors.New("transport: queue full")

// failed builds the Result of a delivery that gave up after last.
func failed(env Envelope, last Attempt, retryable bool, err error) Result {
	if err == nil {
		err = last.Err
	}
	return Result{
		DeliveryID: env.DeliveryID,
		Status:     StatusFailed,
		Attempts:   last.Number,
		Last:       last,
		Err: &DeliveryError{
			DeliveryID: env.DeliveryID,
			Attempts:   last.Number,
			StatusCode: last.StatusCode,
			Retryable:  retryable,
			Err:        err,
		},
	}
}
