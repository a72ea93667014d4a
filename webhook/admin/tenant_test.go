package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// routes are every route of the handler that names a record, with {id}
// and {delivery} to fill in, and a body that would be accepted.
var routes = []struct{ method, path, body string }{
	{"GET", "/api/records/{id}", ""},
	{"PATCH", "/api/records/{id}", `{"name":"taken over"}`},
	{"DELETE", "/api/records/{id}", ""},
	{"POST", "/api/records/{id}/enable", ""},
	{"POST", "/api/records/{id}/disable", ""},
	{"POST", "/api/records/{id}/rotate", ""},
	{"POST", "/api/records/{id}/test", ""},
	{"GET", "/api/records/{id}/health", ""},
	{"GET", "/api/records/{id}/deliveries", ""},
	{"GET", "/api/records/{id}/deliveries/{delivery}", ""},
	{"POST", "/api/records/{id}/deliveries/{delivery}/resend", ""},
	{"GET", "/records/{id}", ""},
	{"GET", "/records/{id}/edit", ""},
	{"POST", "/records/{id}/edit", "name=taken+over&url=https%3A%2F%2Fevil.example%2F&triggers=test%2Fpage-updated&version=1"},
	{"POST", "/records/{id}/enable", ""},
	{"POST", "/records/{id}/disable", ""},
	{"POST", "/records/{id}/rotate", ""},
	{"POST", "/records/{id}/test", ""},
	{"POST", "/records/{id}/delete", ""},
	{"POST", "/records/{id}/deliveries/{delivery}/resend", ""},
}

// tenants is a handler with one record and one delivery for each of the
// tenants a and b.
type tenants struct {
	*fixture
	a, b       *webhook.Webhook
	aDel, bDel uuid.UUID
}

func newTenants(t *testing.T) *tenants {
	f := newFixture(t)
	ts := &tenants{fixture: f, a: f.record(t, "a", "alpha"), b: f.record(t, "b", "bravo")}
	ts.aDel, ts.bDel = f.delivery(t, ts.a, transport.Success), f.delivery(t, ts.b, transport.Permanent)
	return ts
}

func fill(path string, id, delivery uuid.UUID) string {
	return strings.NewReplacer("{id}", id.String(), "{delivery}", delivery.String()).Replace(path)
}

// A portal user of tenant a tries every route on tenant b's record and
// delivery, and on its own record with b's delivery: each is not found, and
// nothing of b changes, is sent or shows.
func TestPortalCannotReachAnotherTenant(t *testing.T) {
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			ts := newTenants(t)
			ops := ts.do(t, "operator", rt.method, fill(rt.path, ts.b.ID, ts.bDel), rt.body)
			require.Less(t, ops.Code, 400, "the operator may (else this test proves nothing): %s", ops.Body.String())

			ts = newTenants(t)
			before, err := ts.store.Get(context.Background(), ts.b.ID)
			require.NoError(t, err)
			for _, target := range []string{fill(rt.path, ts.b.ID, ts.bDel), fill(rt.path, ts.a.ID, ts.bDel)} {
				if target == fill(rt.path, ts.a.ID, ts.bDel) && !strings.Contains(rt.path, "{delivery}") {
					continue // a's own record: allowed
				}
				w := ts.do(t, "portal:a", rt.method, target, rt.body)
				assert.Equal(t, http.StatusNotFound, w.Code, target)
				for _, leak := range []string{ts.b.Name, ts.b.URL, ts.b.ID.String(), ts.bDel.String()} {
					assert.NotContains(t, w.Body.String(), leak, target)
				}
			}
			after, err := ts.store.Get(context.Background(), ts.b.ID)
			require.NoError(t, err, "b's record still exists")
			assert.Equal(t, before.Version, after.Version, "b's record is unchanged")
			assert.Equal(t, before.Secret, after.Secret)
			assert.Empty(t, ts.resender.sent, "nothing was resent")
			assert.Empty(t, ts.sender.envs, "no test was sent")
			assert.Empty(t, ts.health.resets)
		})
	}
}

func TestPortalListsOnlyItsTenant(t *testing.T) {
	ts := newTenants(t)
	for _, path := range []string{"/api/records", "/api/records?tenant=b", "/", "/?tenant=b"} {
		w := ts.do(t, "portal:a", "GET", path, "")
		require.Equal(t, http.StatusOK, w.Code, path)
		assert.Contains(t, w.Body.String(), ts.a.Name, path)
		assert.NotContains(t, w.Body.String(), ts.b.Name, path)
	}
	w := ts.do(t, "portal:a", "GET", "/api/records/"+ts.a.ID.String()+"/deliveries", "")
	assert.Contains(t, w.Body.String(), ts.aDel.String())
	assert.NotContains(t, w.Body.String(), ts.bDel.String())

	form := url.Values{"name": {"mine"}, "url": {"https://example.com/"}, "triggers": {"test/page-updated"}, "tenant": {"b"}}
	w = ts.do(t, "portal:a", "POST", "/new", form.Encode())
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	page, err := ts.store.List(context.Background(), webhook.ListQuery{Tenant: "b"})
	require.NoError(t, err)
	assert.Len(t, page.Records, 1, "a tenant field posted by a portal user is ignored")
}
