package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
)

// ErrBodyTooLarge is returned by Dispatch when the encoded message exceeds
// the maximum body size (WithMaxBodySize). Nothing is sent or queued.
var ErrBodyTooLarge = errors.New("webhook: message body too large")

// ErrEncode is returned by Dispatch when the message cannot be encoded as
// JSON, or its JSONSerialize panicked.
var ErrEncode = errors.New("webhook: cannot encode message")

// ErrNilMessage is returned by Dispatch for a nil message, or a nil pointer
// (of any type, registered or not).
var ErrNilMessage = errors.New("webhook: nil message")

// Status is where a delivery stands.
type Status = transport.Status

// Delivery statuses, as reported by Dispatch.
const (
	StatusDelivered = transport.StatusDelivered
	StatusFailed    = transport.StatusFailed
	StatusQueued    = transport.StatusQueued
)

// DeliveryError is the error of a delivery that gave up; see transport.DeliveryError.
type DeliveryError = transport.DeliveryError

// Delivery reports one message's delivery to one record.
type Delivery struct {
	// ID is sent as the Webhook-Delivery-Id header on every attempt.
	ID uuid.UUID
	// WebhookID is the record delivered to.
	WebhookID uuid.UUID
	// Trigger is the message's trigger identifier.
	Trigger string
	// Status is final for the Sync transport; StatusQueued when a transport
	// delivers later.
	Status Status
	// Attempts made so far.
	Attempts int
	// StatusCode is the last HTTP status received, or 0.
	StatusCode int
	// Excerpt is the start of the last response body.
	Excerpt string
	// Duration of the last attempt.
	Duration time.Duration
	// Err is a *DeliveryError when Status is StatusFailed.
	Err error
}

// Lookup is what a Dispatcher reads records through: the active records of
// a trigger when it dispatches, and one record by ID when its Sender makes an
// attempt. Every Store is a Lookup; the full Store is for administration.
type Lookup interface {
	Getter
	// ListActive returns the records that are not disabled and subscribe to
	// the trigger identifier, oldest first.
	ListActive(ctx context.Context, trigger string) ([]*Webhook, error)
}

// Dispatcher sends trigger messages to the webhook records subscribed to them.
// It is safe for concurrent use.
type Dispatcher struct {
	cfg     dispatcherConfig
	records Lookup
	reg     *trigger.Registry
	sender  *Sender
}

// NewDispatcher returns a Dispatcher reading records from store (any Lookup,
// such as a Store) and triggers from reg. Without options it delivers
// synchronously (transport.Sync) with a guarded client that does not follow
// redirects, DefaultBackOff and slog.Default().
func NewDispatcher(store Lookup, reg *trigger.Registry, opts ...DispatcherOption) *Dispatcher {
	cfg := newDispatcherConfig(opts)
	return &Dispatcher{cfg: cfg, records: store, reg: reg, sender: newSender(store, cfg.sender)}
}

// Sender returns the Dispatcher's Sender, the transport.Attempter its
// transport drives. A worker that makes attempts for queued deliveries (a
// durable transport's) uses it.
func (d *Dispatcher) Sender() *Sender { return d.sender }

// Dispatch delivers msg to every active record subscribed to its trigger,
// through the Dispatcher's transport, and reports one Delivery per record;
// none subscribed gives an empty slice. The body is encoded once and shared
// by all records. An unregistered message type gives an error matching
// trigger.ErrUnknownTrigger and sends nothing. A delivery that fails is
// reported in its Delivery.Err, not in the error.
func (d *Dispatcher) Dispatch(ctx context.Context, msg trigger.Message) ([]Delivery, error) {
	return d.DispatchVia(ctx, d.cfg.transport, msg)
}

// DispatchVia is Dispatch through t instead of the Dispatcher's transport.
// A transport bound to the application's database transaction makes it a
// transactional outbox: the deliveries exist if and only if the transaction
// commits (see the River transport's InTx).
func (d *Dispatcher) DispatchVia(ctx context.Context, t transport.Transport, msg trigger.Message) ([]Delivery, error) {
	trg, envs, err := d.prepare(ctx, msg)
	if err != nil {
		return nil, err
	}
	if len(envs) == 0 {
		return []Delivery{}, nil
	}
	results, err := t.Send(ctx, d.sender, envs)
	if err != nil {
		return nil, fmt.Errorf("webhook: dispatch %s: %w", trg.Identifier, err)
	}
	if len(results) != len(envs) {
		return nil, fmt.Errorf("webhook: dispatch %s: transport %T returned %d results for %d deliveries", trg.Identifier, t, len(results), len(envs))
	}
	out := make([]Delivery, len(envs))
	for i, env := range envs {
		r := results[i]
		out[i] = Delivery{
			ID:         env.DeliveryID,
			WebhookID:  env.WebhookID,
			Trigger:    env.Trigger,
			Status:     r.Status,
			Attempts:   r.Attempts,
			StatusCode: r.Last.StatusCode,
			Excerpt:    r.Last.Excerpt,
			Duration:   r.Last.Duration,
			Err:        r.Err,
		}
	}
	return out, nil
}

// prepare does the part of Dispatch that comes before the transport: it looks
// up msg's trigger, encodes the body once, and returns one envelope per active
// subscribed record.
func (d *Dispatcher) prepare(ctx context.Context, msg trigger.Message) (trigger.Trigger, []transport.Envelope, error) {
	if isNil(msg) {
		return trigger.Trigger{}, nil, fmt.Errorf("%w (%T)", ErrNilMessage, msg)
	}
	trg, err := d.reg.Lookup(msg)
	if err != nil {
		return trg, nil, err
	}
	body, err := encode(msg)
	if err != nil {
		return trg, nil, fmt.Errorf("%w %s: %v", ErrEncode, trg.Identifier, err)
	}
	if len(body) > d.cfg.maxBody {
		return trg, nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrBodyTooLarge, trg.Identifier, len(body), d.cfg.maxBody)
	}
	recs, err := d.records.ListActive(ctx, trg.Identifier)
	if err != nil {
		return trg, nil, fmt.Errorf("webhook: list records for %s: %w", trg.Identifier, err)
	}
	now := d.cfg.sender.now()
	envs := make([]transport.Envelope, len(recs))
	for i, w := range recs {
		envs[i] = transport.Envelope{
			DeliveryID: d.cfg.newID(),
			WebhookID:  w.ID,
			Trigger:    trg.Identifier,
			Body:       body,
			CreatedAt:  now,
		}
	}
	return trg, envs, nil
}

// isNil reports whether msg is nil or a nil pointer.
func isNil(msg trigger.Message) bool {
	if msg == nil {
		return true
	}
	v := reflect.ValueOf(msg)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// encode returns the JSON body of msg: JSONSerialize's value, encoded without
// HTML escaping (a nil value is sent as null), or a json.RawMessage as it is
// once checked to be valid JSON (or empty, for receivers that only want the
// signal). A panic in JSONSerialize is returned as an error.
func encode(msg trigger.Message) (body []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			body, err = nil, fmt.Errorf("JSONSerialize panicked: %v", r)
		}
	}()
	v := msg.JSONSerialize()
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) > 0 && !json.Valid(raw) {
			return nil, errors.New("json.RawMessage is not valid JSON")
		}
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
