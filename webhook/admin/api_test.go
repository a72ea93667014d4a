package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
)

func TestNewRefusesMissingParts(t *testing.T) {
	store, reg := webhook.NewMemoryStore(), registry(t)
	_, err := admin.New(store, reg, nil)
	assert.ErrorIs(t, err, admin.ErrNoAuthorize, "a nil Authorize must be refused: the handler cannot be mounted open")
	_, err = admin.New(nil, reg, testAuthorize)
	assert.Error(t, err)
	_, err = admin.New(store, nil, testAuthorize)
	assert.Error(t, err)
	_, err = admin.New(store, reg, testAuthorize, admin.WithTrustedOrigins("not an origin"))
	assert.Error(t, err)
}

// recordJSON is a record as the API shows it.
type recordJSON struct {
	ID             uuid.UUID         `json:"id"`
	Name           string            `json:"name"`
	Tenant         string            `json:"tenant"`
	Triggers       []string          `json:"triggers"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Secret         string            `json:"secret"`
	PreviousSecret string            `json:"previous_secret"`
	Disabled       bool              `json:"disabled"`
	DisabledReason string            `json:"disabled_reason"`
	Version        int64             `json:"version"`
	Warnings       []string          `json:"warnings"`
}

func TestRecordsLifecycle(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "operator", "POST", "/api/records",
		`{"name":"CRM","tenant":"org-1","triggers":["test/page-updated"],"url":"https://crm.example/hooks","headers":{"Authorization":"Bearer x"}}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	created := decodeBody[recordJSON](t, w)
	assert.Equal(t, "/api/records/"+created.ID.String(), w.Header().Get("Location"))
	assert.Len(t, created.Secret, 64, "create shows the generated secret, once")
	assert.Equal(t, "org-1", created.Tenant)
	assert.Equal(t, int64(1), created.Version)

	w = f.do(t, "operator", "GET", "/api/records/"+created.ID.String(), "")
	require.Equal(t, http.StatusOK, w.Code)
	got := decodeBody[recordJSON](t, w)
	assert.Equal(t, "[redacted]", got.Secret)
	assert.NotContains(t, w.Body.String(), created.Secret)

	w = f.do(t, "operator", "PATCH", "/api/records/"+created.ID.String(), `{"version":1,"name":"CRM sync","triggers":["test/page-updated","test/raw"]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got = decodeBody[recordJSON](t, w)
	assert.Equal(t, "CRM sync", got.Name)
	assert.Equal(t, []string{"test/page-updated", "test/raw"}, got.Triggers)
	assert.Equal(t, "https://crm.example/hooks", got.URL, "fields left out are kept")
	assert.Equal(t, int64(2), got.Version)

	w = f.do(t, "operator", "PATCH", "/api/records/"+created.ID.String(), `{"version":1,"name":"stale"}`)
	assert.Equal(t, http.StatusConflict, w.Code, "an update based on a stale read is refused")
	assert.Equal(t, "version", decodeBody[problemBody](t, w).Field)

	stored, err := f.store.Get(context.Background(), created.ID)
	require.NoError(t, err)
	assert.Equal(t, created.Secret, stored.Secret.Reveal(), "an update keeps the secret")

	w = f.do(t, "operator", "GET", "/api/records", "")
	require.Equal(t, http.StatusOK, w.Code)
	list := decodeBody[struct {
		Records []recordJSON `json:"records"`
		Next    string       `json:"next"`
	}](t, w)
	require.Len(t, list.Records, 1)
	assert.Equal(t, "[redacted]", list.Records[0].Secret)

	w = f.do(t, "operator", "DELETE", "/api/records/"+created.ID.String(), "")
	assert.Equal(t, http.StatusNoContent, w.Code)
	w = f.do(t, "operator", "GET", "/api/records/"+created.ID.String(), "")
	assert.Equal(t, http.StatusNotFound, w.Code)
}

func TestListPages(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		f.record(t, "a", fmt.Sprintf("a%d", i))
	}
	f.record(t, "b", "b0")
	type listJSON struct {
		Records []recordJSON `json:"records"`
		Next    string       `json:"next"`
	}
	first := decodeBody[listJSON](t, f.do(t, "operator", "GET", "/api/records?limit=2", ""))
	require.Len(t, first.Records, 2)
	require.NotEmpty(t, first.Next)
	rest := decodeBody[listJSON](t, f.do(t, "operator", "GET", "/api/records?limit=2&after="+first.Next, ""))
	assert.Len(t, rest.Records, 2)
	assert.Empty(t, rest.Next)
	onlyB := decodeBody[listJSON](t, f.do(t, "operator", "GET", "/api/records?tenant=b", ""))
	require.Len(t, onlyB.Records, 1)
	assert.Equal(t, "b0", onlyB.Records[0].Name)
	portal := decodeBody[listJSON](t, f.do(t, "portal:a", "GET", "/api/records?tenant=b", ""))
	assert.Len(t, portal.Records, 3, "a portal lists its own tenant, whatever it asks for")
}

func TestProblems(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "", "existing")
	id := rec.ID.String()
	valid := `"name":"n","triggers":["test/page-updated"],"url":"https://example.com/h"`
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"malformed JSON", "POST", "/api/records", `{"name":`, 400, ""},
		{"not an object", "POST", "/api/records", `[1]`, 400, ""},
		{"empty body", "POST", "/api/records", ``, 400, ""},
		{"trailing data", "POST", "/api/records", `{` + valid + `} {}`, 400, ""},
		{"unknown field", "POST", "/api/records", `{` + valid + `,"colour":"red"}`, 400, "colour"},
		{"wrong type", "POST", "/api/records", `{"name":7}`, 400, "name"},
		{"nested wrong type", "POST", "/api/records", `{` + valid + `,"signing":{"scheme":1}}`, 400, "signing.scheme"},
		{"too large", "POST", "/api/records", `{"name":"` + strings.Repeat("x", admin.DefaultMaxBodyBytes) + `"}`, 413, ""},
		{"no name", "POST", "/api/records", `{"triggers":["test/page-updated"],"url":"https://example.com/h"}`, 422, "name"},
		{"bad URL", "POST", "/api/records", `{"name":"n","triggers":["test/page-updated"],"url":"ftp://x"}`, 422, "url"},
		{"unknown trigger", "POST", "/api/records", `{"name":"n","triggers":["test/nope"],"url":"https://example.com/h"}`, 422, "triggers"},
		{"bad header", "POST", "/api/records", `{` + valid + `,"headers":{"Content-Type":"text/plain"}}`, 422, "headers"},
		{"short secret", "POST", "/api/records", `{` + valid + `,"secret":"short"}`, 422, "secret"},
		{"bad scheme", "POST", "/api/records", `{` + valid + `,"signing":{"scheme":"rot13"}}`, 422, "signing"},
		{"bad method", "POST", "/api/records", `{` + valid + `,"method":"PUT"}`, 422, "method"},
		{"bad tenant", "POST", "/api/records", `{` + valid + `,"tenant":"a\u0000b"}`, 422, "tenant"},
		{"tenant change", "PATCH", "/api/records/" + id, `{"tenant":"other"}`, 422, "tenant"},
		{"secret in patch", "PATCH", "/api/records/" + id, `{"secret":"0123456789abcdef0123"}`, 400, "secret"},
		{"invalid patch", "PATCH", "/api/records/" + id, `{"url":""}`, 422, "url"},
		{"wrong content type", "POST", "/api/records", `name=n`, 415, ""},
		{"bad limit", "GET", "/api/records?limit=0", ``, 400, "limit"},
		{"huge limit", "GET", "/api/records?limit=100000", ``, 400, "limit"},
		{"bad cursor", "GET", "/api/records?after=zzz", ``, 400, ""},
		{"bad status filter", "GET", "/api/records/" + id + "/deliveries?status=lost", ``, 400, "status"},
		{"bad delivery cursor", "GET", "/api/records/" + id + "/deliveries?before=x", ``, 400, "before"},
		{"bad overlap", "POST", "/api/records/" + id + "/rotate", `{"overlap":"forever"}`, 400, "overlap"},
		{"negative overlap", "POST", "/api/records/" + id + "/rotate", `{"overlap":"-1h"}`, 400, "overlap"},
		{"test of another trigger", "POST", "/api/records/" + id + "/test", `{"trigger":"test/raw"}`, 422, "trigger"},
		{"body on enable", "POST", "/api/records/" + id + "/enable", `{"x":1}`, 400, "x"},
		{"bad id", "GET", "/api/records/not-a-uuid", ``, 404, ""},
		{"unknown id", "GET", "/api/records/" + uuid.NewString(), ``, 404, ""},
		{"unknown delivery", "GET", "/api/records/" + id + "/deliveries/" + uuid.NewString(), ``, 404, ""},
		{"bad delivery id", "POST", "/api/records/" + id + "/deliveries/nope/resend", ``, 404, ""},
		{"method not allowed", "PUT", "/api/records/" + id, `{}`, 405, ""},
		{"unknown route", "GET", "/api/nothing", ``, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, "operator", tt.method, tt.path, tt.body)
			if tt.name == "wrong content type" {
				r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set(scopeHeader, "operator")
				w = httptest.NewRecorder()
				f.h.ServeHTTP(w, r)
			}
			require.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			p := decodeBody[problemBody](t, w)
			assert.Equal(t, tt.status, p.Status)
			assert.Equal(t, "about:blank", p.Type)
			assert.NotEmpty(t, p.Title)
			assert.NotEmpty(t, p.Detail)
			assert.Equal(t, tt.field, p.Field)
		})
	}
	w := f.do(t, "operator", "PUT", "/api/records/"+id, `{}`)
	assert.Equal(t, "DELETE, GET, HEAD, PATCH", w.Header().Get("Allow"))
	after, err := f.store.Get(context.Background(), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, rec.Version, after.Version, "no refused request changed the record")
}

func TestSecretShownOnce(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "operator", "POST", "/api/records", `{"name":"n","triggers":["test/page-updated"],"url":"https://example.com/h"}`)
	require.Equal(t, http.StatusCreated, w.Code)
	rec := decodeBody[recordJSON](t, w)
	first := rec.Secret
	id := rec.ID.String()
	f.delivery(t, &webhook.Webhook{ID: rec.ID, Triggers: rec.Triggers}, transport.Success)

	w = f.do(t, "operator", "POST", "/api/records/"+id+"/rotate", `{"overlap":"1h"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	rotated := decodeBody[recordJSON](t, w)
	second := rotated.Secret
	assert.NotEqual(t, first, second)
	assert.Equal(t, "[redacted]", rotated.PreviousSecret)
	assert.NotContains(t, w.Body.String(), first, "rotate shows the new secret, not the old one")

	for _, path := range []string{"/api/records", "/api/records/" + id, "/api/records/" + id + "/health",
		"/api/records/" + id + "/deliveries", "/", "/records/" + id, "/records/" + id + "/edit"} {
		w := f.do(t, "operator", "GET", path, "")
		require.Equal(t, http.StatusOK, w.Code, path)
		assert.NotContains(t, w.Body.String(), first, path)
		assert.NotContains(t, w.Body.String(), second, path)
	}
	for _, path := range []string{"/api/records/" + id + "/enable", "/api/records/" + id + "/disable"} {
		w := f.do(t, "operator", "POST", path, "")
		require.Equal(t, http.StatusOK, w.Code, path)
		assert.NotContains(t, w.Body.String(), second, path)
	}
	w = f.do(t, "operator", "PATCH", "/api/records/"+id, `{"name":"renamed"}`)
	require.Equal(t, http.StatusOK, w.Code)
	assert.NotContains(t, w.Body.String(), second)
}

func TestEnableDisableHealth(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "t", "r")
	id := rec.ID.String()
	f.delivery(t, rec, transport.Success)
	f.delivery(t, rec, transport.Retry)

	w := f.do(t, "portal:t", "POST", "/api/records/"+id+"/disable", "")
	require.Equal(t, http.StatusOK, w.Code)
	got := decodeBody[recordJSON](t, w)
	assert.True(t, got.Disabled)
	assert.Equal(t, "disabled by pat", got.DisabledReason)

	h := decodeBody[map[string]any](t, f.do(t, "portal:t", "GET", "/api/records/"+id+"/health", ""))
	assert.Equal(t, "disabled", h["status"])
	assert.Equal(t, "disabled by pat", h["disabled_reason"])
	assert.EqualValues(t, 3, h["consecutive_failures"])
	assert.Equal(t, "2026-01-01T00:00:00Z", h["failing_since"])
	assert.Equal(t, "HTTP 503", h["last_error"])
	assert.Equal(t, "closed", h["breaker"])
	assert.Equal(t, "retry", h["last_outcome"])
	assert.NotEmpty(t, h["last_success"])

	w = f.do(t, "portal:t", "POST", "/api/records/"+id+"/enable", "")
	require.Equal(t, http.StatusOK, w.Code)
	got = decodeBody[recordJSON](t, w)
	assert.False(t, got.Disabled)
	assert.Empty(t, got.DisabledReason)
	assert.Equal(t, []uuid.UUID{rec.ID}, f.health.resets, "re-enabling resets the endpoint's health")
}

func TestDeliveriesAndResend(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "", "r")
	id := rec.ID.String()
	ok := f.delivery(t, rec, transport.Success)
	bad := f.delivery(t, rec, transport.Permanent)

	type attemptsJSON struct {
		Attempts []struct {
			DeliveryID uuid.UUID `json:"delivery_id"`
			Attempt    int       `json:"attempt"`
			Outcome    string    `json:"outcome"`
			StatusCode int       `json:"status_code"`
			Error      string    `json:"error"`
			DurationMS float64   `json:"duration_ms"`
		} `json:"attempts"`
		Next string `json:"next"`
	}
	all := decodeBody[attemptsJSON](t, f.do(t, "operator", "GET", "/api/records/"+id+"/deliveries", ""))
	require.Len(t, all.Attempts, 2)
	assert.Equal(t, bad, all.Attempts[0].DeliveryID, "newest first")
	assert.Equal(t, 503, all.Attempts[0].StatusCode)
	assert.NotEmpty(t, all.Attempts[0].Error)
	assert.InDelta(t, 1.0, all.Attempts[0].DurationMS, 0.001)

	failed := decodeBody[attemptsJSON](t, f.do(t, "operator", "GET", "/api/records/"+id+"/deliveries?status=permanent", ""))
	require.Len(t, failed.Attempts, 1)
	assert.Equal(t, bad, failed.Attempts[0].DeliveryID)

	paged := decodeBody[attemptsJSON](t, f.do(t, "operator", "GET", "/api/records/"+id+"/deliveries?limit=1", ""))
	require.Len(t, paged.Attempts, 1)
	older := decodeBody[attemptsJSON](t, f.do(t, "operator", "GET", "/api/records/"+id+"/deliveries?limit=1&before="+paged.Next, ""))
	require.Len(t, older.Attempts, 1)
	assert.Equal(t, ok, older.Attempts[0].DeliveryID)

	w := f.do(t, "operator", "POST", "/api/records/"+id+"/deliveries/"+bad.String()+"/resend", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []uuid.UUID{bad}, f.resender.sent)
	one := decodeBody[attemptsJSON](t, f.do(t, "operator", "GET", "/api/records/"+id+"/deliveries/"+bad.String(), ""))
	require.Len(t, one.Attempts, 2)
	assert.Equal(t, 2, one.Attempts[0].Attempt, "the resend's attempt continues the count")

	other := f.record(t, "", "other")
	w = f.do(t, "operator", "POST", "/api/records/"+other.ID.String()+"/deliveries/"+bad.String()+"/resend", "")
	assert.Equal(t, http.StatusNotFound, w.Code, "a delivery is resent only through its own record")
	assert.Len(t, f.resender.sent, 1)
}

func TestWithoutOptionalParts(t *testing.T) {
	store := webhook.NewMemoryStore()
	h, err := admin.New(store, registry(t), testAuthorize)
	require.NoError(t, err)
	f := &fixture{h: h, store: store}
	rec := f.record(t, "", "r")
	id := rec.ID.String()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/records/" + id + "/deliveries"},
		{"GET", "/api/records/" + id + "/deliveries/" + uuid.NewString()},
		{"POST", "/api/records/" + id + "/deliveries/" + uuid.NewString() + "/resend"},
		{"POST", "/api/records/" + id + "/test"},
	} {
		w := f.do(t, "operator", tc.method, tc.path, "")
		assert.Equal(t, http.StatusNotFound, w.Code, tc.path)
	}
	hv := decodeBody[map[string]any](t, f.do(t, "operator", "GET", "/api/records/"+id+"/health", ""))
	assert.Equal(t, "new", hv["status"])
	w := f.do(t, "operator", "GET", "/records/"+id, "")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.NotContains(t, w.Body.String(), "Deliveries")
}

func TestSendTest(t *testing.T) {
	f := newFixture(t)
	rec := &webhook.Webhook{Name: "r", Tenant: "t", Triggers: []string{"test/file-added", "test/raw"}, URL: "https://example.com/"}
	require.NoError(t, f.store.Create(context.Background(), rec))
	w := f.do(t, "portal:t", "POST", "/api/records/"+rec.ID.String()+"/test", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	res := decodeBody[map[string]any](t, w)
	assert.Equal(t, "success", res["outcome"])
	assert.EqualValues(t, 200, res["status_code"])
	require.Len(t, f.sender.envs, 1)
	env := f.sender.envs[0]
	assert.Equal(t, rec.ID, env.WebhookID)
	assert.Equal(t, "t", env.Tenant)
	assert.Equal(t, "test/file-added", env.Trigger, "the record's first trigger by default")
	assert.JSONEq(t, `{"file":"/fileadmin/a.pdf","size":0}`, string(env.Body), "the example payload")
	assert.Equal(t, res["delivery_id"], env.DeliveryID.String())

	w = f.do(t, "portal:t", "POST", "/api/records/"+rec.ID.String()+"/test", `{"trigger":"test/raw"}`)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `{}`, string(f.sender.envs[1].Body), "a type without an example sends {}")
}

func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "", "GET", "/api/records", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	w = f.do(t, "nobody", "GET", "/api/records", "")
	assert.Equal(t, http.StatusForbidden, w.Code)
	w = f.do(t, "", "GET", "/", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Header().Get("Content-Type"), "text/html")
	w = f.do(t, "", "GET", "/static/admin.css", "")
	assert.Equal(t, http.StatusOK, w.Code, "the static files need no login")

	login := http.RedirectHandler("/login", http.StatusSeeOther)
	g := newFixture(t, admin.WithUnauthorized(login))
	w = g.do(t, "", "GET", "/", "")
	assert.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/login", w.Header().Get("Location"))
	w = g.do(t, "nobody", "GET", "/", "")
	assert.Equal(t, http.StatusForbidden, w.Code, "ErrForbidden is not sent to the login")
	w = g.do(t, "", "GET", "/api/records", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the API answers 401, not a redirect")
}

func TestCrossOriginRequestsRefused(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "", "r")
	path := "/api/records/" + rec.ID.String() + "/disable"
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		status  int
	}{
		{"cross-site fetch", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site other origin", "POST", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"foreign Origin", "POST", map[string]string{"Origin": "https://evil.example"}, 403},
		{"same origin", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"no browser headers (curl)", "POST", nil, 200},
		{"cross-site read", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := path
			if tt.method == "GET" {
				p = "/api/records/" + rec.ID.String()
			}
			r := httptest.NewRequest(tt.method, "http://admin.example"+p, nil)
			r.Header.Set(scopeHeader, "operator")
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
		})
	}
	_, err := f.store.Get(context.Background(), rec.ID)
	require.NoError(t, err)

	g := newFixture(t, admin.WithTrustedOrigins("https://portal.example"))
	rec = g.record(t, "", "r")
	r := httptest.NewRequest("POST", "http://admin.example/api/records/"+rec.ID.String()+"/disable", nil)
	r.Header.Set(scopeHeader, "operator")
	r.Header.Set("Origin", "https://portal.example")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code, "a trusted origin may")
}

func TestCreateInScope(t *testing.T) {
	f := newFixture(t)
	body := func(tenant string) string {
		return `{"name":"n","triggers":["test/page-updated"],"url":"https://example.com/h"` + tenant + `}`
	}
	w := f.do(t, "portal:a", "POST", "/api/records", body(""))
	require.Equal(t, http.StatusCreated, w.Code)
	assert.Equal(t, "a", decodeBody[recordJSON](t, w).Tenant, "a portal creates in its own tenant")
	w = f.do(t, "portal:a", "POST", "/api/records", body(`,"tenant":"a"`))
	assert.Equal(t, http.StatusCreated, w.Code)
	w = f.do(t, "portal:a", "POST", "/api/records", body(`,"tenant":"b"`))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, "tenant", decodeBody[problemBody](t, w).Field)
	w = f.do(t, "operator", "POST", "/api/records", body(""))
	assert.Equal(t, "", decodeBody[recordJSON](t, w).Tenant, "an operator's default is the application's own")

	full := newFixture(t)
	full.store = webhook.NewMemoryStore(webhook.WithMaxRecordsPerTenant(1))
	h, err := admin.New(full.store, full.reg, testAuthorize)
	require.NoError(t, err)
	full.h = h
	require.Equal(t, http.StatusCreated, full.do(t, "portal:a", "POST", "/api/records", body("")).Code)
	w = full.do(t, "portal:a", "POST", "/api/records", body(""))
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "tenant", decodeBody[problemBody](t, w).Field)
}

func TestInternalErrorsAre500WithoutDetails(t *testing.T) {
	store := &brokenStore{MemoryStore: webhook.NewMemoryStore()}
	h, err := admin.New(store, registry(t), testAuthorize, admin.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/api/records", nil)
	r.Header.Set(scopeHeader, "operator")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.NotContains(t, w.Body.String(), "db password")
}

type brokenStore struct{ *webhook.MemoryStore }

func (brokenStore) List(context.Context, webhook.ListQuery) (webhook.Page, error) {
	return webhook.Page{}, errors.New("connect: db password wrong")
}

// A delivery still in progress cannot be resent (409); any other failure of
// the Resender is the server's (500), with no detail leaked.
func TestResendRefusals(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("outbox: %w", webhook.ErrDeliveryInProgress), http.StatusConflict},
		{errors.New("database is down: secret connection string"), http.StatusInternalServerError},
	} {
		f := newFixture(t)
		rec := f.record(t, "", "r")
		del := f.delivery(t, rec, transport.Permanent)
		f.resender.err = tc.err
		w := f.do(t, "operator", "POST", "/api/records/"+rec.ID.String()+"/deliveries/"+del.String()+"/resend", "")
		assert.Equal(t, tc.status, w.Code, w.Body.String())
		assert.NotContains(t, w.Body.String(), "secret connection string")
	}
}
