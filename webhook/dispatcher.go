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
	// Tenant is the tenant the message was dispatched for.
	Tenant string
	// Trigger is the message's trigger identifier.
	Trigger string
	// Duplicate is true when an earlier dispatch with the same idempotency
	// key created this delivery (see WithIdempotencyKey); the other fields
	// then report that delivery as it stood.
	Duplicate bool
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

// Lookup is what a Dispatcher reads records through: the records a route
// reaches when it dispatches, and one record by ID when its Sender makes an
// attempt. Every Store is a Lookup; the full Store is for administration.
type Lookup interface {
	Getter
	// ListActive returns the records a dispatch on route r reaches (see
	// Webhook.Matches), oldest first.
	ListActive(ctx context.Context, r Route) ([]*Webhook, error)
}

// Dispatcher sends trigger messages to the webhook records subscribed to them.
// It is safe for concurrent use.
type Dispatcher struct {
	cfg     dispatcherConfig
	records Lookup
	reg     *trigger.Registry
	sender  *Sender
	seen    *idempotencyCache
}

// NewDispatcher returns a Dispatcher reading records from store (any Lookup,
// such as a Store) and triggers from reg. Without options it delivers
// synchronously (transport.Sync) with a guarded client that does not follow
// redirects, DefaultBackOff and slog.Default().
func NewDispatcher(store Lookup, reg *trigger.Registry, opts ...DispatcherOption) *Dispatcher {
	cfg := newDispatcherConfig(opts)
	return &Dispatcher{cfg: cfg, records: store, reg: reg, sender: newSender(store, cfg.sender),
		seen: newIdempotencyCache(cfg.idempotencyWindow, cfg.idempotencyKeys)}
}

// Sender returns the Dispatcher's Sender, the transport.Attempter its
// transport drives. A worker that makes attempts for queued deliveries (a
// durable transport's) uses it.
func (d *Dispatcher) Sender() *Sender { return d.sender }

// Dispatch delivers msg to every record its dispatch reaches, through the
// Dispatcher's transport, and reports one Delivery per record; none gives an
// empty slice. Without options the message goes to the application's own
// records (tenant "") that subscribe to its trigger and have no channels;
// WithTenant sends it to one tenant's records instead, WithChannels adds
// channel labels, WithIdempotencyKey makes a repeated dispatch return the
// first one's deliveries. The body is encoded once and shared by all records.
//
// An unregistered message type gives an error matching
// trigger.ErrUnknownTrigger, a trigger registered with trigger.PerTenant
// dispatched without WithTenant ErrTenantRequired; in both cases nothing is
// sent. A delivery that fails is reported in its Delivery.Err, not in the
// error.
func (d *Dispatcher) Dispatch(ctx context.Context, msg trigger.Message, opts ...DispatchOption) ([]Delivery, error) {
	return d.DispatchVia(ctx, d.cfg.transport, msg, opts...)
}

// DispatchVia is Dispatch through t instead of the Dispatcher's transport.
// A transport bound to the application's database transaction makes it a
// transactional outbox: the deliveries exist if and only if the transaction
// commits (see the River transport's InTx).
func (d *Dispatcher) DispatchVia(ctx context.Context, t transport.Transport, msg trigger.Message, opts ...DispatchOption) ([]Delivery, error) {
	dc, err := newDispatchConfig(msg, opts)
	if err != nil {
		return nil, err
	}
	trg, err := d.reg.Lookup(msg)
	if err != nil {
		return nil, err
	}
	if trg.PerTenant && !dc.hasTenant {
		return nil, fmt.Errorf("%w: %s (%s)", ErrTenantRequired, trg.Identifier, trg.Type)
	}
	var (
		out  []Delivery
		body []byte // nil when the in-process idempotency record answered
	)
	if dc.key == "" || deduplicates(t) {
		out, body, err = d.dispatch(ctx, t, msg, trg, dc)
	} else {
		out, err = d.seen.do(ctx, d.cfg.sender.now(), dc.cacheKey(trg.Identifier), func() (ds []Delivery, err error) {
			ds, body, err = d.dispatch(ctx, t, msg, trg, dc)
			return ds, err
		})
	}
	if err != nil {
		return nil, err
	}
	for _, fn := range d.cfg.observers {
		fn(ctx, Dispatched{Message: msg, Trigger: trg, Tenant: dc.tenant, Channels: dc.channels,
			IdempotencyKey: dc.key, Body: body, Deliveries: out})
	}
	return out, nil
}

// Dispatched describes one Dispatch that its transport accepted, for
// observers (WithObserver).
type Dispatched struct {
	// Message is the message as the application passed it.
	Message trigger.Message
	// Trigger is its registered trigger.
	Trigger trigger.Trigger
	// Tenant is the tenant it was dispatched for ("" without WithTenant).
	Tenant string
	// Channels are its channel labels, from WithChannels and the message.
	Channels []string
	// IdempotencyKey is the key given WithIdempotencyKey, or "".
	IdempotencyKey string
	// Body is the encoded message, as sent to every record; nil when the
	// Dispatcher's in-process idempotency record answered a repeated key
	// without encoding it again. It must not be modified.
	Body []byte
	// Deliveries are what Dispatch returned: one per record reached, none
	// when no record was.
	Deliveries []Delivery
}

// deduplicates reports whether t honours Envelope.IdempotencyKey itself.
func deduplicates(t transport.Transport) bool {
	dd, ok := t.(transport.Deduplicator)
	return ok && dd.DeduplicatesByKey()
}

func (d *Dispatcher) dispatch(ctx context.Context, t transport.Transport, msg trigger.Message, trg trigger.Trigger, dc dispatchConfig) ([]Delivery, []byte, error) {
	body, envs, err := d.prepare(ctx, msg, trg, dc)
	if err != nil {
		return nil, nil, err
	}
	if len(envs) == 0 {
		return []Delivery{}, body, nil
	}
	results, err := t.Send(ctx, d.sender, envs)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: dispatch %s: %w", trg.Identifier, err)
	}
	if len(results) != len(envs) {
		return nil, nil, fmt.Errorf("webhook: dispatch %s: transport %T returned %d results for %d deliveries", trg.Identifier, t, len(results), len(envs))
	}
	out := make([]Delivery, len(envs))
	for i, env := range envs {
		r := results[i]
		id := env.DeliveryID
		if r.DeliveryID != uuid.Nil {
			id = r.DeliveryID // a Deduplicator's earlier delivery
		}
		out[i] = Delivery{
			ID:         id,
			WebhookID:  env.WebhookID,
			Tenant:     env.Tenant,
			Trigger:    env.Trigger,
			Duplicate:  r.Duplicate,
			Status:     r.Status,
			Attempts:   r.Attempts,
			StatusCode: r.Last.StatusCode,
			Excerpt:    r.Last.Excerpt,
			Duration:   r.Last.Duration,
			Err:        r.Err,
		}
	}
	return out, body, nil
}

// prepare does the part of Dispatch that comes before the transport: it
// encodes the body once, and returns one envelope per record the dispatch
// reaches.
func (d *Dispatcher) prepare(ctx context.Context, msg trigger.Message, trg trigger.Trigger, dc dispatchConfig) ([]byte, []transport.Envelope, error) {
	body, err := encode(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %s: %v", ErrEncode, trg.Identifier, err)
	}
	if len(body) > d.cfg.maxBody {
		return nil, nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrBodyTooLarge, trg.Identifier, len(body), d.cfg.maxBody)
	}
	route := Route{Tenant: dc.tenant, Trigger: trg.Identifier, Channels: dc.channels}
	var (
		recs []*Webhook
		few  [4]*Webhook // most triggers reach a few records: no allocation
	)
	if ms, ok := d.records.(*MemoryStore); ok {
		recs = ms.listActive(route, shared, few[:0]) // only the IDs are read
	} else {
		recs, err = d.records.ListActive(ctx, route)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: list records for %s: %w", trg.Identifier, err)
	}
	now := d.cfg.sender.now()
	var meta map[string]string
	if p := d.cfg.sender.propagator; p != nil && len(recs) > 0 {
		meta = map[string]string{}
		if p.Inject(ctx, meta); len(meta) == 0 {
			meta = nil
		}
	}
	envs := make([]transport.Envelope, len(recs))
	for i, w := range recs {
		envs[i] = transport.Envelope{
			DeliveryID:     d.deliveryID(now),
			WebhookID:      w.ID,
			Tenant:         dc.tenant,
			Trigger:        trg.Identifier,
			IdempotencyKey: dc.key,
			Body:           body,
			CreatedAt:      now,
			Meta:           meta,
		}
	}
	return body, envs, nil
}

// deliveryID returns a new delivery's ID, made at now by the Dispatcher's
// clock: WithIDGenerator's, or a version-7 UUID of now when the clock is
// the system's (of time.Now otherwise).
func (d *Dispatcher) deliveryID(now time.Time) uuid.UUID {
	switch {
	case d.cfg.newID != nil:
		return d.cfg.newID()
	case d.cfg.sender.systemClock:
		return newDeliveryIDAt(now)
	}
	return newDeliveryIDAt(time.Now())
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
		if len(raw) > 0 && !validJSON(raw) {
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
