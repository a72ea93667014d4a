package webhooktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// In place of sending: every dispatch is recorded with its typed message,
// trigger, tenant, channels, key and records, and the signed request each
// record would get, while nothing reaches the receiver.
func TestRecorderTransportRecordsWithoutSending(t *testing.T) {
	ctx := context.Background()
	srv := webhooktest.NewServer(t)
	store := webhook.NewMemoryStore()
	w := create(t, store, srv.URL+"/crm?x=1", func(w *webhook.Webhook) {
		w.Tenant, w.Triggers, w.Headers = "org-1", []string{orderTrigger}, map[string]string{"X-Api-Key": "k"}
		w.Signing = signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Hub-Signature-256", Prefix: "sha256="}
	})
	other := create(t, store, srv.URL+"/other", func(w *webhook.Webhook) { w.Tenant, w.Triggers = "org-1", []string{orderTrigger} })
	create(t, store, srv.URL+"/org-2", func(w *webhook.Webhook) { w.Tenant, w.Triggers = "org-2", []string{orderTrigger} })
	rec := webhooktest.NewRecorder()
	created := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	d := webhook.NewDispatcher(store, registry(t), rec.Option(), webhook.WithTransport(rec.Transport()),
		webhooktest.AllowLoopback(), quiet, webhook.WithClock(func() time.Time { return created }))

	ds, err := d.Dispatch(ctx, OrderPaid{Order: 7, Campaign: "spring"}, webhook.WithTenant("org-1"),
		webhook.WithChannels("vip"), webhook.WithIdempotencyKey("order-7"))
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, webhook.StatusQueued, ds[0].Status)
	assert.Empty(t, srv.Verified(), "nothing is sent")
	assert.Empty(t, srv.Refused())

	got := rec.Dispatches()
	require.Len(t, got, 1)
	assert.Equal(t, OrderPaid{Order: 7, Campaign: "spring"}, got[0].Message)
	assert.Equal(t, orderTrigger, got[0].Trigger.Identifier)
	assert.Equal(t, "org-1", got[0].Tenant)
	assert.Equal(t, []string{"vip", "campaign/spring"}, got[0].Channels)
	assert.Equal(t, "order-7", got[0].IdempotencyKey)
	assert.ElementsMatch(t, []uuid.UUID{w.ID, other.ID}, got[0].WebhookIDs())

	del := got[0].Deliveries[0]
	if del.WebhookID != w.ID {
		del = got[0].Deliveries[1]
	}
	require.NoError(t, del.RequestErr)
	req := del.Request
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, srv.URL+"/crm?x=1", req.URL)
	assert.JSONEq(t, `{"order":7}`, string(req.Body))
	assert.Equal(t, del.ID.String(), req.Header.Get(webhook.HeaderDeliveryID))
	assert.Equal(t, orderTrigger, req.Header.Get(webhook.HeaderTrigger))
	assert.Equal(t, "k", req.Header.Get("X-Api-Key"))
	v, err := signer.NewVerifier(w.Signing, []string{w.Secret.Reveal()})
	require.NoError(t, err)
	assert.NoError(t, v.Verify(req.Header, req.Body), "signed with the record's scheme and secret")
}

// The recorder observes the application's own transport too: the request
// it records (built with the Dispatcher's Sender, the body encoded again)
// is the one the receiver gets, for a JSON body with HTML characters, a
// json.RawMessage and a GET record.
func TestRecorderRequestIsWhatTheReceiverGets(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store))
	reg := registry(t)
	require.NoError(t, trigger.Register[raw](reg, "myapp/raw", "raw JSON"))
	create(t, store, srv.URL+"/typo3", func(w *webhook.Webhook) { w.Triggers = []string{pageTrigger, "myapp/raw"} })
	create(t, store, srv.URL+"/get?q=1", func(w *webhook.Webhook) {
		w.Triggers, w.Method = []string{pageTrigger, "myapp/raw"}, http.MethodGet
		w.Signing = signer.Config{Scheme: signer.SchemeHMAC, Encoding: signer.EncodingBase64}
	})
	rec := webhooktest.NewRecorder()
	d := webhook.NewDispatcher(store, reg, rec.Option(), webhooktest.AllowLoopback(), quiet)
	rec.Attach(d)

	for _, msg := range []trigger.Message{PageUpdated{PageID: 1, Title: "<Tom & Jerry>"}, raw(`{"a": [1, 2]}`)} {
		ds, err := d.Dispatch(ctx, msg)
		require.NoError(t, err)
		for _, del := range ds {
			require.Equal(t, webhook.StatusDelivered, del.Status, "%v", del.Err)
		}
	}
	received := map[string]webhooktest.Received{}
	for _, r := range srv.Verified() {
		received[r.Header.Get(webhook.HeaderDeliveryID)] = r
	}
	require.Len(t, received, 4)
	require.Empty(t, srv.Refused())
	for _, dp := range rec.Dispatches() {
		for _, del := range dp.Deliveries {
			require.NoError(t, del.RequestErr)
			got, sent := received[del.ID.String()], del.Request
			assert.Equal(t, del.WebhookID, got.WebhookID)
			assert.Equal(t, got.Method, sent.Method)
			assert.Equal(t, got.URL, sent.URL)
			assert.Equal(t, string(got.Body), string(sent.Body))
			for k, v := range sent.Header {
				assert.Equal(t, v, got.Header[k], k)
			}
		}
	}
	assert.Contains(t, string(srv.Verified()[0].Body), "<Tom & Jerry>", "not HTML-escaped")
}

// raw is a message whose body is given as JSON.
type raw string

func (r raw) JSONSerialize() any { return json.RawMessage(r) }

// Without the Recorder's Transport or Attach, the recorder has no Sender:
// the dispatch is recorded, and each delivery says why it has no request.
func TestRecorderWithoutSender(t *testing.T) {
	store := webhook.NewMemoryStore()
	create(t, store, "https://example.com/hook")
	rec := webhooktest.NewRecorder()
	d := webhook.NewDispatcher(store, registry(t), rec.Option(), webhook.WithTransport(noop{}))
	_, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1})
	require.NoError(t, err)
	got := rec.Dispatches()
	require.Len(t, got, 1)
	require.Len(t, got[0].Deliveries, 1)
	assert.ErrorIs(t, got[0].Deliveries[0].RequestErr, webhooktest.ErrNoSender)
	assert.Equal(t, PageUpdated{PageID: 1}, webhooktest.RequireDispatched[PageUpdated](t, rec, nil))
}

// noop is an application's transport that accepts everything.
type noop struct{}

func (noop) Send(_ context.Context, _ transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	out := make([]transport.Result, len(envs))
	for i, env := range envs {
		out[i] = transport.Result{DeliveryID: env.DeliveryID, Status: webhook.StatusQueued}
	}
	return out, nil
}

// A request that cannot be built says why: here the record is gone by the
// time the dispatch is observed.
func TestRecorderRequestErr(t *testing.T) {
	store := webhook.NewMemoryStore()
	w := create(t, store, "https://example.com/hook")
	rec := webhooktest.NewRecorder()
	d := webhook.NewDispatcher(vanishing{store}, registry(t), rec.Option(), webhook.WithTransport(rec.Transport()))
	_, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1})
	require.NoError(t, err)
	del := rec.Dispatches()[0].Deliveries[0]
	assert.Equal(t, w.ID, del.WebhookID)
	assert.ErrorIs(t, del.RequestErr, webhook.ErrWebhookGone)
	assert.Empty(t, del.Request.Body)
}

// vanishing lists a store's records but never finds one by ID.
type vanishing struct{ *webhook.MemoryStore }

func (vanishing) Get(context.Context, uuid.UUID) (*webhook.Webhook, error) {
	return nil, webhook.ErrNotFound
}

// A repeated idempotency key creates nothing: the second dispatch is
// recorded as a duplicate with the first one's request, and does not
// count.
func TestRecorderDuplicates(t *testing.T) {
	store := webhook.NewMemoryStore()
	create(t, store, "https://example.com/hook")
	rec := webhooktest.NewRecorder()
	d := webhook.NewDispatcher(store, registry(t), rec.Option(), webhook.WithTransport(rec.Transport()))
	for range 2 {
		_, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1}, webhook.WithIdempotencyKey("k"))
		require.NoError(t, err)
	}
	got := rec.Dispatches()
	require.Len(t, got, 2)
	assert.False(t, got[0].Duplicate())
	assert.True(t, got[1].Duplicate())
	assert.Equal(t, got[0].Deliveries[0].ID, got[1].Deliveries[0].ID)
	assert.Equal(t, got[0].Deliveries[0].Request, got[1].Deliveries[0].Request)
	assert.Equal(t, 1, webhooktest.Count[PageUpdated](rec, nil))
	webhooktest.RequireDispatched[PageUpdated](t, rec, nil)

	rec.Reset()
	assert.Empty(t, rec.Dispatches())
	webhooktest.RequireNotDispatched[PageUpdated](t, rec, nil)
	_, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1}, webhook.WithIdempotencyKey("k"))
	require.NoError(t, err)
	again := rec.Dispatches()[0].Deliveries[0]
	assert.True(t, again.Duplicate)
	require.NoError(t, again.RequestErr, "the request is built again, with the Sender the Transport saw")
	assert.Equal(t, got[0].Deliveries[0].Request.Body, again.Request.Body)
}

// One recorder serves concurrent dispatches (run with -race).
func TestRecorderConcurrent(t *testing.T) {
	store := webhook.NewMemoryStore()
	create(t, store, "https://example.com/a")
	create(t, store, "https://example.com/b")
	rec := webhooktest.NewRecorder()
	d := webhook.NewDispatcher(store, registry(t), rec.Option(), webhook.WithTransport(rec.Transport()))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Dispatch(context.Background(), PageUpdated{PageID: i, Title: fmt.Sprint(i)})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 50, webhooktest.Count[PageUpdated](rec, nil))
	for _, dp := range rec.Dispatches() {
		require.Len(t, dp.Deliveries, 2)
		for _, del := range dp.Deliveries {
			require.NoError(t, del.RequestErr)
			var body PageUpdated
			require.NoError(t, json.Unmarshal(del.Request.Body, &body))
			assert.Equal(t, dp.Message, body, "each delivery has its own dispatch's request")
		}
	}
}
