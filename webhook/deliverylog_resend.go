package webhook

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
)

// ErrInvalidEnvelope is returned by Dispatcher.Resend for an envelope
// without a delivery ID or a record ID.
var ErrInvalidEnvelope = errors.New("webhook: envelope lacks a delivery or record ID")

// Resend sends env, a delivery made before, again through the Dispatcher's
// transport: same delivery ID (the receiver's de-duplication key), record,
// tenant, trigger, body and Meta. Its attempts are numbered on from
// env.AttemptOffset, which MemoryLog.Envelope sets to the attempts logged.
// The record is loaded at each attempt, as for any delivery, so a record
// deleted or disabled since fails the attempt permanently
// (ErrWebhookGone, ErrWebhookDisabled).
//
// It reports the delivery as Dispatch does: final on Sync, StatusQueued on
// Memory. The error is the transport's refusal (ErrQueueFull); a delivery
// that failed is reported in Delivery.Err. For the River transport use the
// outbox's Resend (Redeliver) instead: it replaces the finished job, where
// sending a keyed envelope again would be taken for a duplicate.
func (d *Dispatcher) Resend(ctx context.Context, env transport.Envelope) (Delivery, error) {
	if env.DeliveryID == uuid.Nil || env.WebhookID == uuid.Nil {
		return Delivery{}, ErrInvalidEnvelope
	}
	t := d.cfg.transport
	rs, err := t.Send(ctx, d.sender, []transport.Envelope{env})
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook: resend %s: %w", env.DeliveryID, err)
	}
	if len(rs) != 1 {
		return Delivery{}, fmt.Errorf("webhook: resend %s: transport %T returned %d results for 1 delivery", env.DeliveryID, t, len(rs))
	}
	r := rs[0]
	return Delivery{ID: env.DeliveryID, WebhookID: env.WebhookID, Tenant: env.Tenant, Trigger: env.Trigger,
		Duplicate: r.Duplicate, Status: r.Status, Attempts: r.Attempts, StatusCode: r.Last.StatusCode,
		Excerpt: r.Last.Excerpt, Duration: r.Last.Duration, Err: r.Err}, nil
}

// NewResender returns a Resender for Sync and Memory: it sends a delivery
// kept in log again through d (Dispatcher.Resend of MemoryLog.Envelope), so
// its attempts continue the count in log when d records them there with
// LogAttempts. A delivery log does not keep gives an error matching
// ErrDeliveryNotFound. On Sync, Resend returns when the resend is done, with
// its *DeliveryError if it failed; on Memory, once it is queued.
//
// Resends are not serialized: two at once for one delivery, or one while
// the delivery is still being retried, make attempts with the same numbers.
func NewResender(d *Dispatcher, log *MemoryLog) Resender {
	return memoryResender{d: d, log: log}
}

type memoryResender struct {
	d   *Dispatcher
	log *MemoryLog
}

func (r memoryResender) Resend(ctx context.Context, deliveryID uuid.UUID) error {
	env, err := r.log.Envelope(deliveryID)
	if err != nil {
		return err
	}
	del, err := r.d.Resend(ctx, env)
	if err != nil {
		return err
	}
	return del.Err
}
