package webhooktest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// Every scheme verifies with the record's own secret and, for TYPO3, its
// ID; each request is attributed to its record.
func TestServerVerifiesEveryScheme(t *testing.T) {
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store))
	configs := map[string]signer.Config{
		"typo3":        {},
		"typo3-sha512": {Scheme: signer.SchemeTYPO3, Algorithm: "sha512"},
		"github":       {Scheme: signer.SchemeHMAC, Header: "X-Hub-Signature-256", Prefix: "sha256="},
		"base64-alias": {Scheme: "hmac-base64-body"},
		"standard":     {Scheme: signer.SchemeStandardWebhooks},
		"token":        {Scheme: signer.SchemeToken, Prefix: "Bearer "},
		"none":         {Scheme: signer.SchemeNone},
	}
	want := map[uuid.UUID]string{}
	for name, cfg := range configs {
		w := create(t, store, srv.URL+"/"+name, func(w *webhook.Webhook) { w.Signing = cfg })
		want[w.ID] = name
	}
	d := webhook.NewDispatcher(store, registry(t), webhooktest.AllowLoopback(), quiet)
	ds, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1})
	require.NoError(t, err)
	for _, del := range ds {
		assert.Equal(t, webhook.StatusDelivered, del.Status, "%s: %v", want[del.WebhookID], del.Err)
	}
	assert.Empty(t, srv.Refused())
	got := map[uuid.UUID]string{}
	for _, r := range srv.Verified() {
		got[r.WebhookID] = want[r.WebhookID]
		assert.Equal(t, srv.URL+"/"+want[r.WebhookID], r.URL)
		assert.Equal(t, 1, r.Attempt)
		assert.Equal(t, http.StatusOK, r.Status)
	}
	assert.Equal(t, want, got)
}

// A request no record verifies is refused with 401 and kept apart, with the
// reason.
func TestServerRefuses(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t)
	w := create(t, store, srv.URL+"/crm")
	wrong := w.Clone()
	wrong.Secret = "another-secret-of-16-bytes"
	srv.Add(wrong)
	create(t, store, srv.URL+"/unknown")
	d := webhook.NewDispatcher(store, registry(t), webhooktest.AllowLoopback(), quiet)

	ds, err := d.Dispatch(ctx, PageUpdated{PageID: 1})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	for _, del := range ds {
		assert.Equal(t, webhook.StatusFailed, del.Status)
		assert.Equal(t, http.StatusUnauthorized, del.StatusCode)
		assert.Equal(t, 1, del.Attempts, "401 is permanent")
	}
	assert.Empty(t, srv.Verified())
	refused := srv.Refused()
	require.Len(t, refused, 2)
	for _, r := range refused {
		assert.Equal(t, uuid.Nil, r.WebhookID)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		if r.URL == srv.URL+"/crm" {
			assert.ErrorIs(t, r.Err, signer.ErrInvalidSignature)
			assert.ErrorContains(t, r.Err, "record "+w.ID.String())
		} else {
			assert.ErrorIs(t, r.Err, webhooktest.ErrNoRecord)
			assert.ErrorContains(t, r.Err, "POST "+srv.URL+"/unknown")
		}
	}

	// A body changed after signing is refused too.
	srv.Add(w)
	req, err := d.Sender().Request(ctx, transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: pageTrigger,
		Body: []byte(`{"page_id":1}`)}, time.Now())
	require.NoError(t, err)
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(`{"page_id":2}`)), 13
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Len(t, srv.Refused(), 3)
}

// Each delivery gets the scripted statuses in turn, its retries counted by
// Webhook-Delivery-Id; after the script, 200.
func TestServerStatuses(t *testing.T) {
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithStatuses(503, 503, 202))
	create(t, store, srv.URL+"/a")
	create(t, store, srv.URL+"/b")
	d := webhook.NewDispatcher(store, registry(t), webhooktest.AllowLoopback(), quiet, fastRetries(5))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := d.Dispatch(ctx, PageUpdated{PageID: 1})
	require.NoError(t, err)
	for _, del := range ds {
		assert.Equal(t, webhook.StatusDelivered, del.Status)
		assert.Equal(t, 3, del.Attempts)
		assert.Equal(t, http.StatusAccepted, del.StatusCode)
	}
	got, err := srv.Wait(ctx, 6)
	require.NoError(t, err)
	perDelivery := map[string][]int{}
	for _, r := range got {
		id := r.Header.Get(webhook.HeaderDeliveryID)
		assert.Equal(t, len(perDelivery[id])+1, r.Attempt)
		perDelivery[id] = append(perDelivery[id], r.Status)
	}
	assert.Equal(t, map[string][]int{ds[0].ID.String(): {503, 503, 202}, ds[1].ID.String(): {503, 503, 202}}, perDelivery)

	// A retry past the script gets 200.
	at := d.Sender().Attempt(context.Background(), transport.Envelope{DeliveryID: ds[0].ID, WebhookID: ds[0].WebhookID,
		Trigger: pageTrigger, Body: []byte(`{}`)}, 4)
	assert.Equal(t, http.StatusOK, at.StatusCode)
}

// attempt makes one attempt at a new record of srv, through a Sender.
func attempt(t *testing.T, srv *webhooktest.Server, store webhook.Store, opts ...webhook.SenderOption) (transport.Attempt, *webhook.Webhook) {
	t.Helper()
	w := create(t, store, srv.URL+"/hook")
	s := webhook.NewSender(store, append([]webhook.SenderOption{webhooktest.AllowLoopback(), quiet}, opts...)...)
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: w.ID, Trigger: pageTrigger, Body: []byte(`{}`)}
	return s.Attempt(context.Background(), env, 1), w
}

func TestServerRetryAfter(t *testing.T) {
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithStatuses(429), webhooktest.WithRetryAfter("7"))
	at, _ := attempt(t, srv, store)
	assert.Equal(t, transport.Retry, at.Outcome)
	assert.Equal(t, 7*time.Second, at.RetryAfter)
}

func TestServerDelay(t *testing.T) {
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithDelay(100*time.Millisecond))
	at, _ := attempt(t, srv, store)
	assert.Equal(t, transport.Success, at.Outcome)
	assert.GreaterOrEqual(t, at.Duration, 100*time.Millisecond)

	at, _ = attempt(t, srv, store, webhook.WithAttemptTimeout(20*time.Millisecond))
	assert.Equal(t, transport.Retry, at.Outcome, "a slow receiver times out")
	assert.ErrorIs(t, at.Err, context.DeadlineExceeded)
}

func TestServerReset(t *testing.T) {
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithReset())
	at, _ := attempt(t, srv, store)
	assert.Equal(t, transport.Retry, at.Outcome)
	assert.Equal(t, 0, at.StatusCode)
	assert.Error(t, at.Err)
	got := srv.Verified()
	require.Len(t, got, 1, "verified, then reset")
	assert.Equal(t, 0, got[0].Status)

	// A reset, then an answer.
	store = webhook.NewMemoryStore()
	srv = webhooktest.NewServer(t, webhooktest.WithStore(store),
		webhooktest.WithAnswers(webhooktest.Answer{Reset: true}, webhooktest.Answer{Status: 202, Body: "ok"}))
	create(t, store, srv.URL)
	d := webhook.NewDispatcher(store, registry(t), webhooktest.AllowLoopback(), quiet, fastRetries(3))
	ds, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1})
	require.NoError(t, err)
	assert.Equal(t, webhook.StatusDelivered, ds[0].Status)
	assert.Equal(t, 2, ds[0].Attempts)
	assert.Equal(t, "ok", ds[0].Excerpt)
}

// Wait returns once n requests are verified, whatever the transport's
// timing; when ctx ends first, its error says what arrived.
func TestServerWait(t *testing.T) {
	store := webhook.NewMemoryStore()
	srv := webhooktest.NewServer(t, webhooktest.WithStore(store))
	for range 3 {
		create(t, store, srv.URL+"/hook")
	}
	mem := transport.NewMemory(transport.WithWorkers(2))
	t.Cleanup(func() { _, _ = mem.Close(context.Background()) })
	d := webhook.NewDispatcher(store, registry(t), webhooktest.AllowLoopback(), quiet, webhook.WithTransport(mem))
	for i := range 2 {
		_, err := d.Dispatch(context.Background(), PageUpdated{PageID: i})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := srv.Wait(ctx, 6)
	require.NoError(t, err)
	assert.Len(t, got, 6)

	other := webhooktest.NewServer(t)
	create(t, store, other.URL) // a record other does not know
	_, err = d.Dispatch(context.Background(), PageUpdated{PageID: 3})
	require.NoError(t, err)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = other.Wait(short, 1)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "waiting for 1 verified requests: 0 verified, 1 refused (the last: webhooktest: no record has this method and URL")
}

// Standard Webhooks timestamps are checked against the Server's clock:
// give it the Dispatcher's when that is not the real time.
func TestServerClock(t *testing.T) {
	then := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return then }
	for _, withClock := range []bool{false, true} {
		store := webhook.NewMemoryStore()
		var opts []webhooktest.ServerOption
		if withClock {
			opts = append(opts, webhooktest.WithClock(clock))
		}
		srv := webhooktest.NewServer(t, append(opts, webhooktest.WithStore(store))...)
		create(t, store, srv.URL, func(w *webhook.Webhook) { w.Signing.Scheme = signer.SchemeStandardWebhooks })
		d := webhook.NewDispatcher(store, registry(t), webhooktest.AllowLoopback(), quiet, webhook.WithClock(clock))
		_, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1})
		require.NoError(t, err)
		if withClock {
			assert.Len(t, srv.Verified(), 1)
			continue
		}
		require.Len(t, srv.Refused(), 1)
		assert.ErrorIs(t, srv.Refused()[0].Err, signer.ErrTimestampOutOfRange)
	}
}

// The test's end closes the Server, without waiting out a delay.
func TestServerClosesAtCleanup(t *testing.T) {
	tb := &fakeTB{}
	srv := webhooktest.NewServer(tb, webhooktest.WithDelay(time.Hour))
	srv.Add(&webhook.Webhook{ID: uuid.New(), URL: srv.URL, Signing: signer.Config{Scheme: signer.SchemeNone}})
	answered := make(chan error, 1)
	go func() {
		resp, err := http.Post(srv.URL, "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := srv.Wait(ctx, 1)
	require.NoError(t, err)

	start := time.Now()
	tb.cleanup()
	assert.Less(t, time.Since(start), 5*time.Second)
	<-answered
	_, err = http.Post(srv.URL, "application/json", nil)
	assert.Error(t, err, "closed")
}
