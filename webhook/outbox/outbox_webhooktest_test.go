package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// wtPageSaved is the message of the page service below.
type wtPageSaved struct {
	PageID int    `json:"page_id"`
	Title  string `json:"title"`
}

func (p wtPageSaved) JSONSerialize() any { return p }

// wtPages is an application's page service: saving a page dispatches
// wtPageSaved for the page's site (the tenant).
type wtPages struct{ d *webhook.Dispatcher }

func (p wtPages) Save(ctx context.Context, site string, id int, title string) error {
	_, err := p.d.Dispatch(ctx, wtPageSaved{PageID: id, Title: title}, webhook.WithTenant(site))
	return err
}

// wtOutbox opens a started River outbox on SQLite at path, an app's
// Dispatcher on its parts that rec records, and a Server that verifies with
// its records.
func wtOutbox(t *testing.T, ctx context.Context, path string, rec *webhooktest.Recorder) (*outboxsqlite.Outbox, *webhook.Dispatcher, *webhooktest.Server) {
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[wtPageSaved](reg, "myapp/page-saved", "A page was saved", trigger.PerTenant()))
	fast := webhook.WithBackOff(func() backoff.BackOff {
		return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), 2)
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ob, err := outboxsqlite.Open(path, reg, outbox.WithLogger(quiet), outbox.WithFetchPollInterval(20*time.Millisecond),
		outbox.WithSenderOptions(webhooktest.AllowLoopback(), fast), outbox.WithDispatcherOptions(rec.Option()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ob.Close(context.Background()) })
	require.NoError(t, ob.Migrate(ctx))
	require.NoError(t, ob.Start(ctx))

	srv := webhooktest.NewServer(t, webhooktest.WithStore(ob.Store()), webhooktest.WithStatuses(503, 200))
	// The Outbox's own Dispatcher is recorded.
	d := ob.Dispatcher()
	rec.Attach(d)
	return ob, d, srv
}

func wtRecord(t *testing.T, store webhook.Store, site, url string) *webhook.Webhook {
	w := &webhook.Webhook{Name: site, Tenant: site, Triggers: []string{"myapp/page-saved"}, URL: url}
	require.NoError(t, store.Create(context.Background(), w))
	return w
}

// The application test of webhooktest's TestSameAppTestOnEveryTransport,
// on the River outbox: what the Recorder saw, and the Server verified.
func TestWebhooktestAppOnRiver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := webhooktest.NewRecorder()
	ob, d, srv := wtOutbox(t, ctx, ":memory:", rec)
	crm := wtRecord(t, ob.Store(), "site-1", srv.URL+"/crm")
	wtRecord(t, ob.Store(), "site-2", srv.URL+"/other-site")

	require.NoError(t, wtPages{d}.Save(ctx, "site-1", 42, "Home"))

	got := webhooktest.RequireDispatched(t, rec, func(m wtPageSaved) bool { return m.PageID == 42 },
		webhooktest.WithTenant("site-1"), webhooktest.WithWebhook(crm.ID))
	assert.Equal(t, "Home", got.Title)
	webhooktest.RequireNotDispatched[wtPageSaved](t, rec, nil, webhooktest.WithTenant("site-2"))
	del := rec.Dispatches()[0].Deliveries[0]
	require.NoError(t, del.RequestErr)
	assert.Equal(t, webhook.StatusQueued, del.Status)

	received, err := srv.Wait(ctx, 2) // the 503 and River's retry
	require.NoError(t, err)
	assert.Empty(t, srv.Refused())
	for _, r := range received {
		assert.Equal(t, crm.ID, r.WebhookID)
		assert.Equal(t, del.Request.Body, r.Body)
		assert.Equal(t, del.Request.Header.Get("Webhook-Signature"), r.Header.Get("Webhook-Signature"))
		assert.Equal(t, del.ID.String(), r.Header.Get(webhook.HeaderDeliveryID))
	}
	assert.Equal(t, []int{503, 200}, []int{received[0].Status, received[1].Status})
}

// In the application's transaction, rivertest sees the River job before
// the commit and the Recorder the typed message; after the commit the
// Server gets the delivery. The database is a file: an in-memory one has a
// single connection, which the open transaction holds while Dispatch reads
// the records.
func TestWebhooktestWithRivertestInTx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := webhooktest.NewRecorder()
	ob, d, srv := wtOutbox(t, ctx, filepath.Join(t.TempDir(), "outhook.db"), rec)
	crm := wtRecord(t, ob.Store(), "site-1", srv.URL+"/crm")

	tx, err := ob.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = d.DispatchVia(ctx, ob.Transport().InTx(tx), wtPageSaved{PageID: 7, Title: "Draft"}, webhook.WithTenant("site-1"))
	require.NoError(t, err)

	job := rivertest.RequireInsertedTx[*riversqlite.Driver](ctx, t, tx, &durable.Args{},
		&rivertest.RequireInsertedOpts{Queue: durable.Queue})
	msg := webhooktest.RequireDispatched[wtPageSaved](t, rec, nil, webhooktest.WithTenant("site-1"))
	del := rec.Dispatches()[0].Deliveries[0]
	assert.Equal(t, 7, msg.PageID)
	assert.Equal(t, del.ID, job.Args.DeliveryID)
	assert.Equal(t, crm.ID, job.Args.WebhookID)
	assert.Equal(t, "site-1", job.Args.Tenant)
	assert.Equal(t, string(del.Request.Body), job.Args.Body)
	require.NoError(t, tx.Commit())

	received, err := srv.Wait(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, del.ID.String(), received[1].Header.Get(webhook.HeaderDeliveryID))
}
