package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// PageSize returns the number of attempts a page of q holds at most.
func (q AttemptQuery) PageSize() int {
	return ListQuery{Limit: q.Limit}.PageSize()
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
// Sync and Memory, the River worker feeds the outbox's (see LogAttempts);
// the SQL store's log (sqlstore.Log) and MemoryLog implement it.
type DeliveryLog interface {
	// RecordAttempt appends at, an attempt of env, to the log, under the
	// next ID.
	RecordAttempt(ctx context.Context, env transport.Envelope, at transport.Attempt) error
	// Attempts returns a page of the attempts q selects, newest first. A
	// cursor the log did not make gives an error matching
	// ErrInvalidCursor.
	Attempts(ctx context.Context, q AttemptQuery) (AttemptPage, error)
}

// AttemptCursor returns the cursor of the page after the attempt with ID
// id, for AttemptPage.Next: the attempts with smaller IDs. It is opaque to
// clients.
func AttemptCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(attemptCursorPrefix + strconv.FormatInt(id, 10)))
}

const attemptCursorPrefix = "attempt:"

// ParseAttemptCursor reads a cursor made by AttemptCursor and returns the
// ID it holds; other strings give an error matching ErrInvalidCursor.
func ParseAttemptCursor(s string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	id, ok := strings.CutPrefix(string(raw), attemptCursorPrefix)
	n, perr := strconv.ParseInt(id, 10, 64)
	if err != nil || !ok || perr != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	return n, nil
}

// ErrDeliveryNotFound is returned by a Resender for a delivery it cannot
// find (never logged, or no longer kept).
var ErrDeliveryNotFound = errors.New("webhook: delivery not found")

// ErrDeliveryInProgress is returned by a Resender for a delivery that is
// still queued, waiting for a retry or being sent: it cannot be sent again
// before it ends.
var ErrDeliveryInProgress = errors.New("webhook: delivery still in progress")

// Resender sends one delivery again, with the same delivery ID, through the
// transport in use; its attempts continue the delivery's numbering. The
// River outbox (outbox.Outbox.Resend) and NewResender (Sync and Memory, with
// a MemoryLog) implement it.
type Resender interface {
	// Resend sends the delivery with deliveryID again. An unknown ID gives
	// an error matching ErrDeliveryNotFound. A record deleted or disabled
	// since fails the resend as it would fail any attempt.
	Resend(ctx context.Context, deliveryID uuid.UUID) error
}
