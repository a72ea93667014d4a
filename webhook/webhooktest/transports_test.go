package webhooktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// The same application test passes whatever the application's transport:
// in place of sending (the Recorder's), inline (Sync) or on a worker pool
// (Memory). webhook/outbox runs it on River too.
func TestSameAppTestOnEveryTransport(t *testing.T) {
	transports := map[string]struct {
		transport func(t *testing.T, rec *webhooktest.Recorder) transport.Transport
		sends     bool
	}{
		"recorder": {func(_ *testing.T, rec *webhooktest.Recorder) transport.Transport { return rec.Transport() }, false},
		"sync":     {func(*testing.T, *webhooktest.Recorder) transport.Transport { return transport.Sync{} }, true},
		"memory": {func(t *testing.T, _ *webhooktest.Recorder) transport.Transport {
			mem := transport.NewMemory()
			t.Cleanup(func() { _, _ = mem.Close(context.Background()) })
			return mem
		}, true},
	}
	for name, tt := range transports {
		t.Run(name, func(t *testing.T) {
			store := webhook.NewMemoryStore()
			srv := webhooktest.NewServer(t, webhooktest.WithStore(store), webhooktest.WithStatuses(503, 200))
			rec := webhooktest.NewRecorder()
			d := webhook.NewDispatcher(store, registry(t), rec.Option(), webhook.WithTransport(tt.transport(t, rec)),
				webhooktest.AllowLoopback(), quiet, fastRetries(3))
			rec.Attach(d)
			testSavePage(t, PageService{d}, store, rec, srv, tt.sends)
		})
	}
}

// testSavePage is an application's test of its page service: saving a
// page dispatches PageUpdated for the page's site to the site's record,
// signed for it; with a transport that sends, the record gets it, once
// verified.
func testSavePage(t *testing.T, app PageService, store webhook.Store, rec *webhooktest.Recorder, srv *webhooktest.Server, sends bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	crm := create(t, store, srv.URL+"/crm", func(w *webhook.Webhook) { w.Tenant = "site-1" })
	create(t, store, srv.URL+"/other-site", func(w *webhook.Webhook) { w.Tenant = "site-2" })

	require.NoError(t, app.Save(ctx, "site-1", 42, "Home"))

	got := webhooktest.RequireDispatched(t, rec, func(m PageUpdated) bool { return m.PageID == 42 },
		webhooktest.WithTenant("site-1"), webhooktest.WithWebhook(crm.ID))
	assert.Equal(t, "Home", got.Title)
	webhooktest.RequireNotDispatched[PageUpdated](t, rec, nil, webhooktest.WithTenant("site-2"))
	dp := rec.Dispatches()[0]
	require.Len(t, dp.Deliveries, 1)
	sent := dp.Deliveries[0].Request
	require.NoError(t, dp.Deliveries[0].RequestErr)
	assert.JSONEq(t, `{"page_id":42,"title":"Home"}`, string(sent.Body))
	if !sends {
		return
	}
	received, err := srv.Wait(ctx, 2) // the 503 and its retry
	require.NoError(t, err)
	assert.Empty(t, srv.Refused())
	for _, r := range received {
		assert.Equal(t, crm.ID, r.WebhookID)
		assert.Equal(t, sent.Body, r.Body)
		assert.Equal(t, sent.Header.Get("Webhook-Signature"), r.Header.Get("Webhook-Signature"))
		assert.Equal(t, dp.Deliveries[0].ID.String(), r.Header.Get(webhook.HeaderDeliveryID))
	}
	assert.Equal(t, []int{503, 200}, []int{received[0].Status, received[1].Status})
}
