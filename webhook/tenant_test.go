package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// orderPaid is a per-tenant message that carries its campaign as a channel.
type orderPaid struct {
	Order    int    `json:"order"`
	Campaign string `json:"-"`
}

func (o orderPaid) JSONSerialize() any { return o }

func (o orderPaid) Channels() []string {
	if o.Campaign == "" {
		return nil
	}
	return []string{"campaign/" + o.Campaign}
}

const orderTrigger = "shop/order-paid"

func tenantRegistry(t *testing.T) *trigger.Registry {
	t.Helper()
	reg := registry(t)
	require.NoError(t, trigger.Register[orderPaid](reg, orderTrigger, "An order was paid", trigger.PerTenant()))
	return reg
}

// recording is a transport that records envelopes and sends nothing.
type recording struct {
	mu   sync.Mutex
	envs []transport.Envelope
	err  error // returned by the next Send, then cleared
}

func (r *recording) Send(_ context.Context, _ transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.err; err != nil {
		r.err = nil
		return nil, err
	}
	r.envs = append(r.envs, envs...)
	out := make([]transport.Result, len(envs))
	for i, e := range envs {
		out[i] = transport.Result{DeliveryID: e.DeliveryID, Status: transport.StatusQueued}
	}
	return out, nil
}

func (r *recording) sent() []transport.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Envelope(nil), r.envs...)
}

// A message dispatched for a tenant reaches that tenant's records only: a
// property test over random records, tenants, channels and triggers, with
// the Dispatcher's view (the envelopes handed to the transport) checked
// against Webhook.Matches.
func TestDispatchReachesOnlyItsTenant(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	reg := tenantRegistry(t)
	rec := &recording{}
	d := webhook.NewDispatcher(store, reg, webhook.WithTransport(rec))

	r := rand.New(rand.NewPCG(42, 7))
	tenants := []string{"", "org-1", "org-2", "org-3"}
	campaigns := []string{"", "tech-conf", "spring"}
	var all []*webhook.Webhook
	for i := range 200 {
		w := &webhook.Webhook{
			Name: fmt.Sprint("r", i), Tenant: tenants[r.IntN(len(tenants))],
			Triggers: []string{[]string{orderTrigger, pageTrigger}[r.IntN(2)]},
			URL:      "https://example.com/hook", Disabled: r.IntN(8) == 0,
		}
		if c := campaigns[r.IntN(len(campaigns))]; c != "" {
			w.Channels = []string{"campaign/" + c}
		}
		require.NoError(t, store.Create(ctx, w))
		all = append(all, w)
	}
	for i := range 300 {
		tenant := tenants[r.IntN(len(tenants))]
		msg := orderPaid{Order: i, Campaign: campaigns[r.IntN(len(campaigns))]}
		before := len(rec.sent())
		ds, err := d.Dispatch(ctx, msg, webhook.WithTenant(tenant))
		require.NoError(t, err)
		envs := rec.sent()[before:]
		require.Len(t, envs, len(ds))

		route := webhook.Route{Tenant: tenant, Trigger: orderTrigger, Channels: msg.Channels()}
		var want, got []string
		for _, w := range all {
			if w.Matches(route) {
				want = append(want, w.ID.String())
			}
		}
		for j, e := range envs {
			assert.Equal(t, tenant, e.Tenant)
			assert.Equal(t, tenant, ds[j].Tenant)
			w, err := store.Get(ctx, e.WebhookID)
			require.NoError(t, err)
			require.Equal(t, tenant, w.Tenant, "dispatch %d for %q reached a record of %q", i, tenant, w.Tenant)
			got = append(got, e.WebhookID.String())
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "dispatch %d: %+v", i, route)
	}
}

// The Sender refuses a queued delivery whose record now belongs to another
// tenant than the one it was dispatched for, without a request.
func TestSenderRefusesAnotherTenantsRecord(t *testing.T) {
	rc := newReceiver(t)
	w := &webhook.Webhook{ID: uuid.New(), Name: "b's", Tenant: "org-b", Triggers: []string{pageTrigger}, URL: rc.URL, Secret: "0123456789abcdef0123"}
	s := webhook.NewSender(fixedLookup{w}, loopback)
	at := s.Attempt(context.Background(), transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Tenant: "org-a", Trigger: pageTrigger, Body: []byte(`{}`)}, 1)
	assert.Equal(t, transport.Permanent, at.Outcome)
	assert.ErrorIs(t, at.Err, webhook.ErrTenantMismatch)
	assert.Empty(t, rc.requests())
}

func TestPerTenantTriggerNeedsATenant(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rec := &recording{}
	d := webhook.NewDispatcher(store, tenantRegistry(t), webhook.WithTransport(rec))
	record(t, store, "https://example.com/app", func(w *webhook.Webhook) { w.Triggers = []string{orderTrigger, pageTrigger} })

	_, err := d.Dispatch(ctx, orderPaid{Order: 1})
	require.ErrorIs(t, err, webhook.ErrTenantRequired)
	assert.Contains(t, err.Error(), orderTrigger)
	assert.Empty(t, rec.sent(), "nothing is sent")

	ds, err := d.Dispatch(ctx, orderPaid{Order: 1}, webhook.WithTenant(""))
	require.NoError(t, err, "the application's own tenant, named explicitly")
	assert.Len(t, ds, 1)

	ds, err = d.Dispatch(ctx, pageUpdated{ID: 1})
	require.NoError(t, err, "a trigger that is not per tenant needs no tenant")
	assert.Len(t, ds, 1)
}

func TestDispatchChannels(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rec := &recording{}
	d := webhook.NewDispatcher(store, tenantRegistry(t), webhook.WithTransport(rec))
	mk := func(name string, chs ...string) uuid.UUID {
		return record(t, store, "https://example.com/"+name, func(w *webhook.Webhook) {
			w.Name, w.Tenant, w.Triggers, w.Channels = name, "org-42", []string{orderTrigger}, chs
		}).ID
	}
	all, tech, spring := mk("all"), mk("tech", "campaign/tech-conf"), mk("spring", "campaign/spring")

	reached := func(msg orderPaid, opts ...webhook.DispatchOption) []uuid.UUID {
		t.Helper()
		ds, err := d.Dispatch(ctx, msg, append([]webhook.DispatchOption{webhook.WithTenant("org-42")}, opts...)...)
		require.NoError(t, err)
		var out []uuid.UUID
		for _, del := range ds {
			out = append(out, del.WebhookID)
		}
		return out
	}
	assert.Equal(t, []uuid.UUID{all}, reached(orderPaid{}), "no channels: records without channels only")
	assert.Equal(t, []uuid.UUID{all, tech}, reached(orderPaid{Campaign: "tech-conf"}), "the message's own channels")
	assert.Equal(t, []uuid.UUID{all, spring}, reached(orderPaid{}, webhook.WithChannels("campaign/spring")))
	assert.Equal(t, []uuid.UUID{all, tech, spring}, reached(orderPaid{Campaign: "tech-conf"}, webhook.WithChannels("campaign/spring", "campaign/tech-conf")),
		"options add to the message's channels, each record once")

	for name, opt := range map[string]webhook.DispatchOption{
		"malformed": webhook.WithChannels("campaign/tech conf"),
		"too many":  webhook.WithChannels(strings.Split("a b c d e f g h i j k", " ")...),
	} {
		_, err := d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("org-42"), opt)
		assert.ErrorIs(t, err, webhook.ErrInvalidChannel, name)
	}
	_, err := d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("bad\ntenant"))
	assert.ErrorIs(t, err, webhook.ErrInvalidTenant)
}

// The same idempotency key, tenant and trigger within the window gives one
// set of deliveries on the in-process transports.
func TestIdempotentDispatch(t *testing.T) {
	for name, newTransport := range map[string]func(t *testing.T) transport.Transport{
		"sync": func(*testing.T) transport.Transport { return transport.Sync{} },
		"memory": func(t *testing.T) transport.Transport {
			m := transport.NewMemory(transport.WithWorkers(2))
			t.Cleanup(func() { _, _ = m.Close(context.Background()) })
			return m
		},
	} {
		t.Run(name, func(t *testing.T) { testIdempotentDispatch(t, newTransport(t)) })
	}
}

func testIdempotentDispatch(t *testing.T, tr transport.Transport) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rc := webhooktest.NewServer(t, webhooktest.WithStore(store))
	clock := clocktest.New(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	d := webhook.NewDispatcher(store, tenantRegistry(t), loopback, webhook.WithTransport(tr),
		webhook.WithClock(clock.Now), webhook.WithIdempotencyWindow(time.Hour))
	for _, tenant := range []string{"org-1", "org-2"} {
		for range 2 {
			record(t, store, rc.URL, func(w *webhook.Webhook) { w.Tenant, w.Triggers = tenant, []string{orderTrigger} })
		}
	}
	dispatch := func(tenant, key string) []webhook.Delivery {
		t.Helper()
		ds, err := d.Dispatch(ctx, orderPaid{Order: 7}, webhook.WithTenant(tenant), webhook.WithIdempotencyKey(key))
		require.NoError(t, err)
		require.Len(t, ds, 2)
		return ds
	}
	first := dispatch("org-1", "order-7-paid")
	for _, del := range first {
		assert.False(t, del.Duplicate)
	}
	// Concurrent repeats, while the first may still be in flight.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again := dispatch("org-1", "order-7-paid")
			for i, del := range again {
				assert.True(t, del.Duplicate)
				assert.Equal(t, first[i].ID, del.ID, "the first dispatch's deliveries")
			}
		}()
	}
	wg.Wait()
	other := dispatch("org-2", "order-7-paid")
	assert.NotEqual(t, first[0].ID, other[0].ID, "another tenant's key is another key")
	assert.False(t, other[0].Duplicate)

	clock.Advance(time.Hour)
	later := dispatch("org-1", "order-7-paid")
	assert.False(t, later[0].Duplicate, "after the window the key is forgotten")

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := rc.Wait(wctx, 6)
	require.NoError(t, err)
	perDelivery := map[string]int{}
	for _, r := range got {
		perDelivery[r.Header.Get(webhook.HeaderDeliveryID)]++
	}
	for _, del := range append(append(first, other...), later...) {
		assert.Equal(t, 1, perDelivery[del.ID.String()], "delivery %s sent once", del.ID)
	}
	assert.Len(t, perDelivery, 6)
	assert.Empty(t, rc.Refused(), "every request verified with its record's secret")
}

// A dispatch that fails leaves no trace of its key; the cache is bounded.
func TestIdempotencyKeyForgottenOnErrorAndBounded(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rec := &recording{err: errors.New("queue down")}
	d := webhook.NewDispatcher(store, tenantRegistry(t), webhook.WithTransport(rec), webhook.WithIdempotencyKeys(2))
	record(t, store, "https://example.com/a", func(w *webhook.Webhook) { w.Tenant, w.Triggers = "t", []string{orderTrigger} })
	dispatch := func(key string) ([]webhook.Delivery, error) {
		return d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("t"), webhook.WithIdempotencyKey(key))
	}
	_, err := dispatch("k1")
	require.Error(t, err)
	ds, err := dispatch("k1")
	require.NoError(t, err)
	assert.False(t, ds[0].Duplicate, "the failed dispatch was forgotten")
	ds, err = dispatch("k1")
	require.NoError(t, err)
	assert.True(t, ds[0].Duplicate)

	_, _ = dispatch("k2")
	_, _ = dispatch("k3") // the third key pushes out the oldest
	ds, err = dispatch("k1")
	require.NoError(t, err)
	assert.False(t, ds[0].Duplicate, "beyond WithIdempotencyKeys the oldest key is forgotten")
	assert.Len(t, rec.sent(), 4)

	_, err = d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("t"), webhook.WithIdempotencyKey(strings.Repeat("k", webhook.MaxIdempotencyKeyLen+1)))
	assert.ErrorIs(t, err, webhook.ErrInvalidIdempotencyKey)
	_, err = d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("t"), webhook.WithIdempotencyKey("a\nb"))
	assert.ErrorIs(t, err, webhook.ErrInvalidIdempotencyKey)
}

// A Deduplicator transport gets the key in the envelope, and its answer is
// taken as it is: the Dispatcher keeps no key of its own.
func TestDeduplicatorTransportOwnsTheKey(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	dd := &dedup{seen: map[string]uuid.UUID{}}
	d := webhook.NewDispatcher(store, tenantRegistry(t), webhook.WithTransport(dd))
	record(t, store, "https://example.com/a", func(w *webhook.Webhook) { w.Tenant, w.Triggers = "t", []string{orderTrigger} })
	first, err := d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("t"), webhook.WithIdempotencyKey("k"))
	require.NoError(t, err)
	again, err := d.Dispatch(ctx, orderPaid{}, webhook.WithTenant("t"), webhook.WithIdempotencyKey("k"))
	require.NoError(t, err)
	assert.Equal(t, first[0].ID, again[0].ID)
	assert.True(t, again[0].Duplicate)
	assert.Equal(t, 2, dd.calls, "both dispatches reached the transport")
}

type dedup struct {
	calls int
	seen  map[string]uuid.UUID
}

func (d *dedup) DeduplicatesByKey() bool { return true }

func (d *dedup) Send(_ context.Context, _ transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	d.calls++
	out := make([]transport.Result, len(envs))
	for i, e := range envs {
		k := e.Tenant + "/" + e.Trigger + "/" + e.IdempotencyKey + "/" + e.WebhookID.String()
		id, dup := d.seen[k]
		if !dup {
			id = e.DeliveryID
			d.seen[k] = id
		}
		out[i] = transport.Result{DeliveryID: id, Duplicate: dup, Status: transport.StatusQueued}
	}
	return out, nil
}
