package webhook

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
)

// AttemptRecord is one attempt in a delivery log.
type AttemptRecord struct {
	// ID orders the records of one log: it grows with every attempt logged.
	ID int64 `json:"id"`
	// DeliveryID is the same on every attempt and replay of a delivery.
	DeliveryID uuid.UUID `json:"delivery_id"`
	// WebhookID is the record the attempt went to.
	WebhookID uuid.UUID `json:"webhook_id"`
	// Tenant is the tenant the delivery was dispatched for.
	Tenant string `json:"tenant"`
	// Trigger is the message's trigger identifier.
	Trigger string `json:"trigger"`
	// Attempt counts attempts of the delivery from 1, replays included.
	Attempt int `json:"attempt"`
	// Start is when the request was sent.
	Start time.Time `json:"start"`
	// Duration is how long the attempt took.
	Duration time.Duration `json:"duration"`
	// StatusCode is the HTTP status, or 0 when no response arrived.
	StatusCode int `json:"status_code"`
	// Outcome is the attempt's transport.Outcome as text: "success",
	// "retry" or "permanent" (deferred attempts, which made no request, are
	// not logged).
	Outcome string `json:"outcome"`
	// Error says why the attempt failed; empty on success.
	Error string `json:"error,omitempty"`
	// Excerpt is the start of the response body.
	Excerpt string `json:"excerpt,omitempty"`
}

// AttemptQuery selects attempts from a DeliveryLog, newest first. Zero
// fields do not filter, except Tenant, which AllTenants lifts.
type AttemptQuery struct {
	// Tenant selects that tenant's attempts ("" is the application's own).
	Tenant string
	// AllTenants selects every tenant's attempts (an operator's view).
	AllTenants bool
	// WebhookID selects the attempts sent to one record.
	WebhookID uuid.UUID
	// DeliveryID selects the attempts of one delivery.
	DeliveryID uuid.UUID
	// Outcome selects attempts with that outcome ("success", "retry",
	// "permanent").
	Outcome string
	// Before is the Next of the previous page; "" starts at the newest.
	Before string
	// Limit is the page size: DefaultPageSize when 0, at most MaxPageSize.
	Limit int
}

// AttemptPage is one page of DeliveryLog.Attempts.
type AttemptPage struct {
	// Attempts, newest first.
	Attempts []AttemptRecord
	// Next is the cursor of the next (older) page, or "" after the last.
	Next string
}

// DeliveryLog records every attempt and reads them back, for the admin
// handler and the application's own screens. LogAttempts feeds one under
// every transport; the SQL store's log and MemoryLog implement it.
type DeliveryLog interface {
	// RecordAttempt appends at, an attempt of env, to the log.
	RecordAttempt(ctx context.Context, env transport.Envelope, at transport.Attempt) error
	// Attempts returns a page of the attempts q selects, newest first. A
	// cursor the log did not make gives an error matching
	// ErrInvalidCursor.
	Attempts(ctx context.Context, q AttemptQuery) (AttemptPage, error)
}

// ErrDeliveryNotFound is returned by a Resender for a delivery it cannot
// find (never logged, or no longer kept).
var ErrDeliveryNotFound = errors.New("webhook: delivery not found")

// Resender sends one delivery again, with the same delivery ID, through the
// transport in use; its attempts continue the delivery's numbering.
type Resender interface {
	Resend(ctx context.Context, deliveryID uuid.UUID) error
}
