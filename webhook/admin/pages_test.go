package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// inline finds script and style that the Content-Security-Policy would
// block: inline scripts, style elements and attributes, event handlers.
var inline = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|<[^>]*\s(?:style|on[a-z]+)=|javascript:`)

func TestPagesAreSafe(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "", `<script>alert("name")</script>`)
	require.NoError(t, f.store.Create(context.Background(), &webhook.Webhook{Name: "other", Triggers: []string{"test/page-updated"},
		URL: `https://example.com/?q="><img src=x onerror=alert(1)>`, Description: `<b onclick="x">`}))
	del := f.delivery(t, rec, transport.Retry)
	f.log.mu.Lock()
	f.log.recs[0].Excerpt = `<script>alert("excerpt")</script>`
	f.log.mu.Unlock()
	id := rec.ID.String()

	for _, path := range []string{"/", "/triggers", "/new", "/records/" + id, "/records/" + id + "/edit", "/nothing",
		"/api/records", "/api/records/" + id} {
		w := f.do(t, "operator", "GET", path, "")
		assert.Less(t, w.Code, 500, path)
		csp := w.Header().Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'none'", path)
		assert.Contains(t, csp, "script-src 'self'", path)
		assert.NotContains(t, csp, "unsafe-inline", path)
		assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), path)
		assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"), path)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), path)
		body := w.Body.String()
		assert.NotContains(t, body, `<script>alert`, path)
		assert.NotContains(t, body, `<img src=x`, path)
		assert.NotContains(t, body, `<b onclick`, path)
		if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			assert.Empty(t, inline.FindAllString(body, -1), path)
		}
	}
	page := f.do(t, "operator", "GET", "/records/"+id, "").Body.String()
	assert.Contains(t, page, "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;")
	assert.Contains(t, page, "&lt;script&gt;alert(&#34;excerpt&#34;)&lt;/script&gt;", "the response excerpt is shown, escaped")
	assert.Contains(t, page, del.String())
}

func TestCreateThroughTheForm(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"name": {"CRM"}, "url": {"https://crm.example/hooks"}, "method": {"POST"},
		"triggers": {"test/page-updated", "test/raw"}, "scheme": {"hmac"}, "signing_header": {"X-Hub-Signature-256"},
		"signing_prefix": {"sha256="}, "channels": {"campaign/a, campaign/b"}, "headers": {"Authorization: Bearer t\nX-Team: ops"},
		"tenant": {"org-1"}}
	w := f.do(t, "operator", "POST", "/new", form.Encode())
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	page, err := f.store.List(context.Background(), webhook.ListQuery{Tenant: "org-1"})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	rec := page.Records[0]
	assert.Equal(t, []string{"test/page-updated", "test/raw"}, rec.Triggers)
	assert.Equal(t, []string{"campaign/a", "campaign/b"}, rec.Channels)
	assert.Equal(t, map[string]string{"Authorization": "Bearer t", "X-Team": "ops"}, rec.Headers)
	assert.Equal(t, "hmac", rec.Signing.Scheme)
	assert.Equal(t, "sha256=", rec.Signing.Prefix)
	body := w.Body.String()
	assert.Contains(t, body, `value="`+rec.Secret.Reveal()+`"`, "the secret is shown once")
	assert.Contains(t, body, `data-copy="secret" hidden`, "the copy button waits for JavaScript")

	edit := f.do(t, "operator", "GET", "/records/"+rec.ID.String()+"/edit", "").Body.String()
	assert.Contains(t, edit, `value="test/raw" checked`)
	assert.Contains(t, edit, "A page was created, updated or deleted", "triggers come with their descriptions")
	assert.Contains(t, edit, "Authorization: Bearer t")
	assert.NotContains(t, edit, rec.Secret.Reveal())

	form.Set("name", "CRM sync")
	form.Set("version", "1")
	form.Del("tenant")
	w = f.do(t, "operator", "POST", "/records/"+rec.ID.String()+"/edit", form.Encode())
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	assert.Equal(t, "/records/"+rec.ID.String()+"?done=updated", w.Header().Get("Location"))
	got, err := f.store.Get(context.Background(), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, "CRM sync", got.Name)
	assert.Equal(t, "org-1", got.Tenant)
	assert.Equal(t, rec.Secret, got.Secret)

	w = f.do(t, "operator", "POST", "/records/"+rec.ID.String()+"/edit", form.Encode())
	assert.Equal(t, http.StatusConflict, w.Code, "the form carries the version it was read at")
	assert.Contains(t, w.Body.String(), "Someone else changed this record")
}

func TestFormErrorsNameTheField(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no URL", url.Values{"name": {"n"}, "triggers": {"test/raw"}}, "url"},
		{"no trigger", url.Values{"name": {"n"}, "url": {"https://example.com/"}}, "triggers"},
		{"bad header line", url.Values{"name": {"n"}, "url": {"https://example.com/"}, "triggers": {"test/raw"}, "headers": {"oops"}}, "headers"},
		{"bad channel", url.Values{"name": {"n"}, "url": {"https://example.com/"}, "triggers": {"test/raw"}, "channels": {"a|b"}}, "channels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, "operator", "POST", "/new", tt.form.Encode())
			require.Equal(t, http.StatusUnprocessableEntity, w.Code)
			body := w.Body.String()
			assert.Contains(t, body, `id="form-error"`)
			assert.Contains(t, body, "<strong>"+tt.field+"</strong>")
			assert.Contains(t, body, `value="`+tt.form.Get("name")+`"`, "what was typed is kept")
		})
	}
	w := f.do(t, "operator", "POST", "/new", "name="+strings.Repeat("x", 70<<10))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
}

func TestRecordPageActions(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "", "r")
	id := rec.ID.String()
	del := f.delivery(t, rec, transport.Permanent)

	page := f.do(t, "operator", "GET", "/records/"+id, "").Body.String()
	assert.Contains(t, page, `class="badge failing"`)
	assert.Contains(t, page, "/deliveries/"+del.String()+"/resend")

	w := f.do(t, "operator", "POST", "/records/"+id+"/deliveries/"+del.String()+"/resend", "")
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	assert.Equal(t, "/records/"+id+"?done=resent", w.Header().Get("Location"))
	page = f.do(t, "operator", "GET", "/records/"+id+"?done=resent", "").Body.String()
	assert.Contains(t, page, "The delivery was sent again.")
	assert.Regexp(t, `<td class="attempts">2</td>`, page)

	w = f.do(t, "operator", "POST", "/records/"+id+"/test", "trigger=test%2Fpage-updated")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `id="test-result"`)
	assert.Contains(t, w.Body.String(), "HTTP 200")

	w = f.do(t, "operator", "POST", "/records/"+id+"/disable", "")
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Contains(t, f.do(t, "operator", "GET", "/records/"+id, "").Body.String(), `id="enable"`)

	w = f.do(t, "operator", "POST", "/records/"+id+"/rotate", "")
	require.Equal(t, http.StatusOK, w.Code)
	got, err := f.store.Get(context.Background(), rec.ID)
	require.NoError(t, err)
	assert.Contains(t, w.Body.String(), got.Secret.Reveal())
	assert.Contains(t, w.Body.String(), "previous secret stays valid")

	filtered := f.do(t, "operator", "GET", "/records/"+id+"?status=success", "").Body.String()
	assert.Contains(t, filtered, `<option value="success" selected>`)

	w = f.do(t, "operator", "POST", "/records/"+id+"/delete", "")
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/?done=deleted", w.Header().Get("Location"))
	_, err = f.store.Get(context.Background(), rec.ID)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestMountedUnderAPrefix(t *testing.T) {
	f := newFixture(t)
	rec := f.record(t, "", "r")
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", f.h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, err := http.NewRequest("GET", srv.URL+"/admin/", nil)
	require.NoError(t, err)
	req.Header.Set(scopeHeader, "operator")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	assert.Contains(t, b.String(), `href="/admin/records/`+rec.ID.String()+`"`)
	assert.Contains(t, b.String(), `href="/admin/static/admin.css"`)

	css, err := http.Get(srv.URL + "/admin/static/admin.css")
	require.NoError(t, err)
	defer css.Body.Close()
	assert.Equal(t, http.StatusOK, css.StatusCode)
	assert.Contains(t, css.Header.Get("Content-Type"), "text/css")

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err = http.NewRequest("POST", srv.URL+"/admin/records/"+rec.ID.String()+"/disable", nil)
	require.NoError(t, err)
	req.Header.Set(scopeHeader, "operator")
	resp, err = client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "/admin/records/"+rec.ID.String()+"?done=disabled", resp.Header.Get("Location"))
}
