package webhooktest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/webhooktest"
)

// recorded returns a recorder that saw: page 41 for site-a, page 42 for
// site-b, order 7 for org-1 in the spring campaign, and the record of
// org-1.
func recorded(t *testing.T) (*webhooktest.Recorder, *webhook.Webhook) {
	t.Helper()
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	w := create(t, store, "https://example.com/org-1", func(w *webhook.Webhook) {
		w.Tenant, w.Triggers = "org-1", []string{orderTrigger}
	})
	rec := webhooktest.NewRecorder()
	app := PageService{webhook.NewDispatcher(store, registry(t), rec.Option(), webhook.WithTransport(rec.Transport()))}
	require.NoError(t, app.Save(ctx, "site-a", 41, "About"))
	require.NoError(t, app.Save(ctx, "site-b", 42, "Home"))
	_, err := app.Webhooks.Dispatch(ctx, OrderPaid{Order: 7, Campaign: "spring"}, webhook.WithTenant("org-1"))
	require.NoError(t, err)
	return rec, w
}

func TestRequireDispatched(t *testing.T) {
	rec, w := recorded(t)
	is42 := func(m PageUpdated) bool { return m.PageID == 42 }

	tests := []struct {
		name   string
		assert func(t testing.TB)
		want   []string // in the failure message; none: it passes
	}{
		{"matches", func(t testing.TB) {
			got := webhooktest.RequireDispatched(t, rec, is42, webhooktest.WithTenant("site-b"))
			assert.Equal(t, PageUpdated{PageID: 42, Title: "Home"}, got)
		}, nil},
		{"options", func(t testing.TB) {
			webhooktest.RequireDispatched[OrderPaid](t, rec, nil, webhooktest.WithTenant("org-1"),
				webhooktest.WithChannel("campaign/spring"), webhooktest.WithWebhook(w.ID))
		}, nil},
		{"wrong tenant", func(t testing.TB) {
			webhooktest.RequireDispatched(t, rec, is42, webhooktest.WithTenant("site-a"))
		}, []string{
			`want one dispatch of webhooktest_test.PageUpdated matching the function, for tenant "site-a", found 0`,
			"dispatched (3):",
			`1. myapp/page-updated webhooktest_test.PageUpdated{PageID:41, Title:"About"}`,
			`tenant "site-b", channels [], to 0 record(s)`,
			`3. shop/order-paid webhooktest_test.OrderPaid{Order:7, Campaign:"spring"}`,
			`tenant "org-1", channels ["campaign/spring"], to 1 record(s)`,
		}},
		{"ambiguous", func(t testing.TB) { webhooktest.RequireDispatched[PageUpdated](t, rec, nil) },
			[]string{"want one dispatch of webhooktest_test.PageUpdated, found 2"}},
		{"other type", func(t testing.TB) { webhooktest.RequireDispatched[*PageUpdated](t, rec, nil) },
			[]string{"of *webhooktest_test.PageUpdated, found 0", "webhooktest_test.PageUpdated{PageID:42"}},
		{"other channel", func(t testing.TB) {
			webhooktest.RequireDispatched[OrderPaid](t, rec, nil, webhooktest.WithChannel("campaign/fall"))
		}, []string{`OrderPaid, in channel "campaign/fall", found 0`}},
		{"other record", func(t testing.TB) { webhooktest.RequireDispatched(t, rec, is42, webhooktest.WithWebhook(w.ID)) },
			[]string{"to record " + w.ID.String() + ", found 0"}},
		{"not dispatched", func(t testing.TB) {
			webhooktest.RequireNotDispatched(t, rec, func(m PageUpdated) bool { return m.PageID == 43 })
			webhooktest.RequireNotDispatched(t, rec, is42, webhooktest.WithTenant("site-a"))
		}, nil},
		{"dispatched after all", func(t testing.TB) { webhooktest.RequireNotDispatched(t, rec, is42) },
			[]string{"want no dispatch of webhooktest_test.PageUpdated matching the function, found 1", "dispatched (3):"}},
		{"n", func(t testing.TB) {
			got := webhooktest.RequireDispatchedN[PageUpdated](t, rec, 2, nil)
			assert.Equal(t, []PageUpdated{{41, "About"}, {42, "Home"}}, got, "oldest first")
		}, nil},
		{"not n", func(t testing.TB) { webhooktest.RequireDispatchedN(t, rec, 2, is42) },
			[]string{"want 2 dispatches of webhooktest_test.PageUpdated matching the function, found 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed, said := (&fakeTB{}).run(tt.assert)
			if len(tt.want) == 0 {
				assert.False(t, failed, said)
				return
			}
			require.True(t, failed, "the assertion must fail")
			for _, w := range tt.want {
				assert.Contains(t, said, w)
			}
		})
	}
}

func TestCount(t *testing.T) {
	rec, w := recorded(t)
	assert.Equal(t, 2, webhooktest.Count[PageUpdated](rec, nil))
	assert.Equal(t, 1, webhooktest.Count(rec, func(m PageUpdated) bool { return m.Title == "Home" }))
	assert.Equal(t, 1, webhooktest.Count[PageUpdated](rec, nil, webhooktest.WithTenant("site-a")))
	assert.Equal(t, 0, webhooktest.Count[PageUpdated](rec, nil, webhooktest.WithTenant("")))
	assert.Equal(t, 1, webhooktest.Count[OrderPaid](rec, nil, webhooktest.WithWebhook(w.ID)))
	assert.Equal(t, 3, webhooktest.Count[interface{ JSONSerialize() any }](rec, nil), "an interface matches every type that has it")
}

// An empty recorder says so; one whose Option was not given to the
// Dispatcher says that too.
func TestRequireDispatchedExplainsAnEmptyRecorder(t *testing.T) {
	rec := webhooktest.NewRecorder()
	failed, said := (&fakeTB{}).run(func(t testing.TB) { webhooktest.RequireDispatched[PageUpdated](t, rec, nil) })
	require.True(t, failed)
	assert.Contains(t, said, "nothing was dispatched")

	store := webhook.NewMemoryStore()
	create(t, store, "https://example.com/hook")
	d := webhook.NewDispatcher(store, registry(t), webhook.WithTransport(rec.Transport())) // no rec.Option()
	_, err := d.Dispatch(context.Background(), PageUpdated{PageID: 1})
	require.NoError(t, err)
	failed, said = (&fakeTB{}).run(func(t testing.TB) { webhooktest.RequireDispatched[PageUpdated](t, rec, nil) })
	require.True(t, failed)
	assert.Contains(t, said, "1 deliveries went through rec.Transport() without their Dispatch being recorded: give rec.Option() to webhook.NewDispatcher")
}
