package webhook

import (
	"container/list"
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
)

// Bounds of a MemoryLog.
const (
	// DefaultDeliveriesPerRecord is how many deliveries per record a
	// MemoryLog keeps without WithDeliveriesPerRecord.
	DefaultDeliveriesPerRecord = 100
	// DefaultMaxDeliveries is how many deliveries in all a MemoryLog keeps
	// without WithMaxDeliveries.
	DefaultMaxDeliveries = 10_000
	// MaxAttemptsPerDelivery is how many attempts of one delivery a
	// MemoryLog keeps: the latest ones.
	MaxAttemptsPerDelivery = 100
)

// MemoryLog is a DeliveryLog in memory, for Sync and Memory transports: the
// latest deliveries of each record (DefaultDeliveriesPerRecord), with their
// attempts and their envelopes (body, tenant, trigger, idempotency key,
// Meta), so that NewResender can send one again without a database. It is
// bounded: beyond the deliveries per record, and beyond DefaultMaxDeliveries
// in all, the delivery whose latest attempt is the oldest goes first, and a
// delivery keeps its latest MaxAttemptsPerDelivery attempts. What it keeps
// is lost when the process ends.
//
// Feed it with LogAttempts. It is safe for concurrent use; the zero value
// is ready to use, with the defaults.
type MemoryLog struct {
	perRecord int
	total     int

	mu         sync.Mutex
	lastID     int64
	attempts   []*loggedAttempt // by ID, oldest first; dropped ones go lazily
	dropped    int              // dropped entries still in attempts
	deliveries map[uuid.UUID]*loggedDelivery
	byRecord   map[uuid.UUID]*list.List // of *loggedDelivery, least recently attempted first
	recent     *list.List               // of *loggedDelivery, least recently attempted first
}

var _ DeliveryLog = (*MemoryLog)(nil)

type loggedAttempt struct {
	rec     AttemptRecord
	dropped bool
}

type loggedDelivery struct {
	env      transport.Envelope
	attempts []*loggedAttempt // oldest first
	last     int              // the highest attempt number logged
	inRecord *list.Element    // in MemoryLog.byRecord
	inAll    *list.Element    // in MemoryLog.recent
}

// MemoryLogOption configures NewMemoryLog.
type MemoryLogOption interface{ applyMemoryLog(*MemoryLog) }

type memoryLogOption func(*MemoryLog)

func (o memoryLogOption) applyMemoryLog(l *MemoryLog) { o(l) }

// WithDeliveriesPerRecord sets how many deliveries of each record a
// MemoryLog keeps (DefaultDeliveriesPerRecord when n <= 0).
func WithDeliveriesPerRecord(n int) MemoryLogOption {
	return memoryLogOption(func(l *MemoryLog) { l.perRecord = n })
}

// WithMaxDeliveries sets how many deliveries a MemoryLog keeps in all,
// whatever their record (DefaultMaxDeliveries when n <= 0): it bounds the
// memory of records that come and go.
func WithMaxDeliveries(n int) MemoryLogOption {
	return memoryLogOption(func(l *MemoryLog) { l.total = n })
}

// NewMemoryLog returns an empty MemoryLog configured by opts.
func NewMemoryLog(opts ...MemoryLogOption) *MemoryLog {
	l := &MemoryLog{}
	for _, o := range opts {
		o.applyMemoryLog(l)
	}
	return l
}

// init makes the maps of a zero MemoryLog; l.mu must be held.
func (l *MemoryLog) init() {
	if l.deliveries != nil {
		return
	}
	if l.perRecord <= 0 {
		l.perRecord = DefaultDeliveriesPerRecord
	}
	if l.total <= 0 {
		l.total = DefaultMaxDeliveries
	}
	l.deliveries = map[uuid.UUID]*loggedDelivery{}
	l.byRecord = map[uuid.UUID]*list.List{}
	l.recent = list.New()
}

// RecordAttempt implements DeliveryLog. The first attempt of a delivery
// keeps its envelope; it never fails.
func (l *MemoryLog) RecordAttempt(_ context.Context, env transport.Envelope, at transport.Attempt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	d := l.delivery(env)
	l.lastID++
	a := &loggedAttempt{rec: attemptRecord(l.lastID, env, at)}
	l.attempts = append(l.attempts, a)
	d.attempts = append(d.attempts, a)
	d.last = max(d.last, at.Number)
	if len(d.attempts) > MaxAttemptsPerDelivery {
		d.attempts[0].dropped = true
		l.dropped++
		d.attempts = append(d.attempts[:0], d.attempts[1:]...)
	}
	for rl := l.byRecord[env.WebhookID]; rl.Len() > l.perRecord; {
		l.drop(rl.Front().Value.(*loggedDelivery))
	}
	for l.recent.Len() > l.total {
		l.drop(l.recent.Front().Value.(*loggedDelivery))
	}
	l.compact()
	return nil
}

// delivery returns env's delivery, a new one if it is not kept, as the most
// recently attempted; l.mu must be held.
func (l *MemoryLog) delivery(env transport.Envelope) *loggedDelivery {
	if d := l.deliveries[env.DeliveryID]; d != nil {
		l.byRecord[d.env.WebhookID].MoveToBack(d.inRecord)
		l.recent.MoveToBack(d.inAll)
		return d
	}
	d := &loggedDelivery{env: env}
	d.env.AttemptOffset = 0
	rl := l.byRecord[env.WebhookID]
	if rl == nil {
		rl = list.New()
		l.byRecord[env.WebhookID] = rl
	}
	d.inRecord = rl.PushBack(d)
	d.inAll = l.recent.PushBack(d)
	l.deliveries[env.DeliveryID] = d
	return d
}

func attemptRecord(id int64, env transport.Envelope, at transport.Attempt) AttemptRecord {
	r := AttemptRecord{ID: id, DeliveryID: env.DeliveryID, WebhookID: env.WebhookID, Tenant: env.Tenant,
		Trigger: env.Trigger, Attempt: at.Number, Start: at.Start, Duration: at.Duration, StatusCode: at.StatusCode,
		Outcome: at.Outcome.String(), Excerpt: at.Excerpt}
	if at.Err != nil {
		r.Error = at.Err.Error()
	}
	return r
}

// drop forgets d and its attempts; l.mu must be held.
func (l *MemoryLog) drop(d *loggedDelivery) {
	rl := l.byRecord[d.env.WebhookID]
	rl.Remove(d.inRecord)
	if rl.Len() == 0 {
		delete(l.byRecord, d.env.WebhookID)
	}
	l.recent.Remove(d.inAll)
	delete(l.deliveries, d.env.DeliveryID)
	for _, a := range d.attempts {
		a.dropped = true
	}
	l.dropped += len(d.attempts)
}

// compact removes the dropped attempts from l.attempts once they are half
// of it, so that it stays within twice what is kept; l.mu must be held.
func (l *MemoryLog) compact() {
	if l.dropped < 64 || l.dropped*2 < len(l.attempts) {
		return
	}
	kept := make([]*loggedAttempt, 0, len(l.attempts)-l.dropped)
	for _, a := range l.attempts {
		if !a.dropped {
			kept = append(kept, a)
		}
	}
	l.attempts, l.dropped = kept, 0
}

// Attempts implements DeliveryLog: every filter of q, newest first, by
// cursor. It reads one delivery's attempts for q.DeliveryID, and walks the
// kept attempts otherwise.
func (l *MemoryLog) Attempts(_ context.Context, q AttemptQuery) (AttemptPage, error) {
	var before int64
	if q.Before != "" {
		var err error
		if before, err = ParseAttemptCursor(q.Before); err != nil {
			return AttemptPage{}, err
		}
	}
	size := q.PageSize()
	l.mu.Lock()
	defer l.mu.Unlock()
	src := l.attempts
	if q.DeliveryID != uuid.Nil {
		src = nil
		if d := l.deliveries[q.DeliveryID]; d != nil {
			src = d.attempts
		}
	}
	end := len(src)
	if before > 0 {
		end = sort.Search(len(src), func(i int) bool { return src[i].rec.ID >= before })
	}
	page := AttemptPage{Attempts: []AttemptRecord{}}
	for i := end - 1; i >= 0; i-- {
		a := src[i]
		if a.dropped || !q.selects(a.rec) {
			continue
		}
		if len(page.Attempts) == size {
			page.Next = AttemptCursor(page.Attempts[size-1].ID)
			break
		}
		page.Attempts = append(page.Attempts, a.rec)
	}
	return page, nil
}

// selects reports whether q selects r, its cursor aside.
func (q AttemptQuery) selects(r AttemptRecord) bool {
	return (q.AllTenants || r.Tenant == q.Tenant) &&
		(q.WebhookID == uuid.Nil || r.WebhookID == q.WebhookID) &&
		(q.DeliveryID == uuid.Nil || r.DeliveryID == q.DeliveryID) &&
		(q.Outcome == "" || r.Outcome == q.Outcome)
}

// Envelope returns the envelope of a kept delivery, as dispatched, with
// AttemptOffset the highest attempt number logged for it, so that sending
// it again (Dispatcher.Resend) continues the count. A delivery the log does
// not keep gives an error matching ErrDeliveryNotFound.
func (l *MemoryLog) Envelope(deliveryID uuid.UUID) (transport.Envelope, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.deliveries[deliveryID]
	if d == nil {
		return transport.Envelope{}, fmt.Errorf("%w: %s", ErrDeliveryNotFound, deliveryID)
	}
	env := d.env
	env.AttemptOffset = d.last
	return env, nil
}
