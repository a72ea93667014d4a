package webhooktest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

// ErrNoSender is a Delivery's RequestErr when the Recorder had no Sender to
// build the signed request with: the Dispatcher's transport was not
// Recorder.Transport and Recorder.Attach was not called.
var ErrNoSender = errors.New("webhooktest: the recorder has no Sender: dispatch through rec.Transport() or call rec.Attach(dispatcher)")

// ErrNotRecorded is a Delivery's RequestErr for a repeated idempotency key
// that the Dispatcher answered from memory, when the Recorder did not
// record the first dispatch of the key: the body was not encoded again.
var ErrNotRecorded = errors.New("webhooktest: the first dispatch of this idempotency key was not recorded")

// Dispatch is one Dispatch (or DispatchVia) that a Dispatcher accepted, as
// a Recorder saw it.
type Dispatch struct {
	// Message is the message as the application passed it, of its own type.
	Message trigger.Message
	// Trigger is the message's registered trigger.
	Trigger trigger.Trigger
	// Tenant is the tenant it was dispatched for ("" without webhook.WithTenant).
	Tenant string
	// Channels are its channel labels, from webhook.WithChannels and the message.
	Channels []string
	// IdempotencyKey is the key given with webhook.WithIdempotencyKey, or "".
	IdempotencyKey string
	// Deliveries has one entry per record reached, none when no record was.
	Deliveries []Delivery
}

// Duplicate reports whether the dispatch created nothing new: it reached
// records, and every delivery was an earlier dispatch's with the same
// idempotency key. The assertions do not count such dispatches.
func (d Dispatch) Duplicate() bool {
	for _, del := range d.Deliveries {
		if !del.Duplicate {
			return false
		}
	}
	return len(d.Deliveries) > 0
}

// WebhookIDs returns the records the dispatch reached, in delivery order.
func (d Dispatch) WebhookIDs() []uuid.UUID {
	ids := make([]uuid.UUID, len(d.Deliveries))
	for i, del := range d.Deliveries {
		ids[i] = del.WebhookID
	}
	return ids
}

// Delivery is one delivery of a recorded Dispatch: what Dispatch reported,
// and the signed request the record receives.
type Delivery struct {
	webhook.Delivery
	// Request is the signed request an attempt of the delivery sends,
	// built when the dispatch was recorded. It is the zero Request when
	// RequestErr is set.
	Request Request
	// RequestErr says why no request could be built: ErrNoSender, or the
	// Sender's error (the record was deleted or disabled in between, for
	// instance).
	RequestErr error
}

// Recorder captures the dispatches of the Dispatchers it is given to
// (Option). It is safe for concurrent use; the zero Recorder is not usable,
// create one with NewRecorder.
type Recorder struct {
	now func() time.Time

	mu         sync.Mutex
	sender     *webhook.Sender       // given to Attach
	lastSender *webhook.Sender       // the last one the Transport saw
	pending    map[uuid.UUID]pending // envelopes rec.Transport accepted, by delivery ID
	requests   map[uuid.UUID]Delivery
	dispatches []Dispatch
}

// pending is an envelope that reached the Recorder's transport, waiting for
// its Dispatch to be observed.
type pending struct {
	env    transport.Envelope
	sender *webhook.Sender
}

// RecorderOption configures NewRecorder. WithClock returns one.
type RecorderOption interface {
	applyRecorder(*Recorder)
}

// NewRecorder returns an empty Recorder. Give its Option to
// webhook.NewDispatcher, and either dispatch through its Transport or call
// Attach once the Dispatcher exists.
func NewRecorder(opts ...RecorderOption) *Recorder {
	r := &Recorder{now: time.Now, pending: map[uuid.UUID]pending{}, requests: map[uuid.UUID]Delivery{}}
	for _, o := range opts {
		if o != nil {
			o.applyRecorder(r)
		}
	}
	return r
}

// Option returns the DispatcherOption that records every Dispatch the
// Dispatcher accepts, whatever its transport (a webhook.WithObserver).
// Dispatches that fail are not recorded: nothing was dispatched.
func (r *Recorder) Option() webhook.DispatcherOption {
	return webhook.WithObserver(r.observe)
}

// Attach gives the Recorder d's Sender, which it builds the signed requests
// with when d's transport is not the Recorder's Transport. Call it right
// after webhook.NewDispatcher(..., rec.Option()).
func (r *Recorder) Attach(d *webhook.Dispatcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sender = d.Sender()
}

// Transport returns a transport.Transport that sends nothing: it accepts
// every envelope and reports it queued, with no attempt made. The signed
// requests of deliveries that went through it are built from the envelopes
// themselves, signed at their CreatedAt, so they follow the Dispatcher's
// clock (webhook.WithClock).
func (r *Recorder) Transport() transport.Transport { return recorderTransport{r} }

type recorderTransport struct{ r *Recorder }

// Send implements transport.Transport.
func (t recorderTransport) Send(_ context.Context, a transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	s, _ := a.(*webhook.Sender)
	out := make([]transport.Result, len(envs))
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if s != nil {
		t.r.lastSender = s
	}
	for i, env := range envs {
		t.r.pending[env.DeliveryID] = pending{env: env, sender: s}
		out[i] = transport.Result{DeliveryID: env.DeliveryID, Status: transport.StatusQueued}
	}
	return out, nil
}

// Dispatches returns what was recorded so far, oldest first.
func (r *Recorder) Dispatches() []Dispatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Dispatch(nil), r.dispatches...)
}

// Reset forgets what was recorded, such as between the steps of a test.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The requests of earlier deliveries stay, so that a repeated
	// idempotency key, which the Dispatcher answers without encoding the
	// message again, still shows its request.
	r.dispatches, r.pending = nil, map[uuid.UUID]pending{}
}

// unobserved is how many envelopes reached the Transport without their
// Dispatch being observed: the Recorder's Option is missing.
func (r *Recorder) unobserved() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// observe records one accepted Dispatch. The requests are built outside the
// lock: the Sender reads the record from the application's store.
func (r *Recorder) observe(ctx context.Context, d webhook.Dispatched) {
	ctx = context.WithoutCancel(ctx) // the request is built, not sent
	rd := Dispatch{Message: d.Message, Trigger: d.Trigger, Tenant: d.Tenant,
		Channels: append([]string(nil), d.Channels...), IdempotencyKey: d.IdempotencyKey,
		Deliveries: make([]Delivery, len(d.Deliveries))}
	for i, del := range d.Deliveries {
		rd.Deliveries[i] = r.delivery(ctx, d, del)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, del := range rd.Deliveries {
		if !del.Duplicate {
			r.requests[del.ID] = del
		}
	}
	r.dispatches = append(r.dispatches, rd)
}

// delivery records del of d with its signed request: the one recorded
// before for a duplicate, else one built from the envelope the Transport
// accepted or, for another transport, from an envelope made again.
func (r *Recorder) delivery(ctx context.Context, d webhook.Dispatched, del webhook.Delivery) Delivery {
	p, earlier, seen := r.claim(del.ID)
	if seen && del.Duplicate {
		return Delivery{Delivery: del, Request: earlier.Request, RequestErr: earlier.RequestErr}
	}
	out := Delivery{Delivery: del}
	if p.env.DeliveryID == uuid.Nil {
		if d.Body == nil { // a repeated key the Dispatcher answered from memory
			out.RequestErr = ErrNotRecorded
			return out
		}
		p.env = transport.Envelope{DeliveryID: del.ID, WebhookID: del.WebhookID, Tenant: del.Tenant,
			Trigger: del.Trigger, IdempotencyKey: d.IdempotencyKey, Body: d.Body, CreatedAt: r.now()}
	}
	if p.sender == nil {
		out.RequestErr = ErrNoSender
		return out
	}
	req, err := p.sender.Request(ctx, p.env, p.env.CreatedAt)
	if err == nil {
		out.Request, err = fromHTTP(req)
	}
	out.RequestErr = err
	return out
}

// claim takes the envelope of delivery id that the Transport accepted, if
// any, with the Sender to sign it with, and returns the delivery recorded
// earlier under id, if any.
func (r *Recorder) claim(id uuid.UUID) (p pending, earlier Delivery, seen bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p = r.pending[id]
	delete(r.pending, id)
	if p.sender == nil {
		p.sender = r.sender
	}
	if p.sender == nil {
		p.sender = r.lastSender
	}
	earlier, seen = r.requests[id]
	return p, earlier, seen
}
