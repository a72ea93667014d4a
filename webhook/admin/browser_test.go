package admin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
)

// ScreenshotsEnv names a directory to copy one screenshot of each page to
// (the README's come from there).
const screenshotsEnv = "OUTHOOK_SCREENSHOTS"

// chromium returns the path of Debian's chromium. Without it the browser
// tests are skipped, except under CI=true, where they fail.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed (apt-get install chromium): the browser tests are skipped"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; under CI=true they must run")
	}
	t.Skip(msg)
	return ""
}

// browser starts headless chromium with the flags this machine needs and
// returns a tab's context.
func browser(t *testing.T) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium does not start: %v", err)
		}
		t.Skipf("chromium does not start: %v", err)
	}
	return ctx
}

// demoApp mounts the admin at /admin behind a demo login: /login?as=operator
// or /login?as=portal:<tenant> sets the session cookie.
func demoApp(t *testing.T, s *stack) *httptest.Server {
	reg := registry(t)
	authorize := func(r *http.Request) (admin.Scope, error) {
		c, err := r.Cookie("session")
		switch {
		case err != nil:
			return admin.Scope{}, err
		case c.Value == "operator":
			return admin.Operator("olivia"), nil
		case strings.HasPrefix(c.Value, "portal:"):
			return admin.Portal(strings.TrimPrefix(c.Value, "portal:"), "pat"), nil
		}
		return admin.Scope{}, errors.New("no session")
	}
	h, err := admin.New(s.store, reg, authorize, append(s.options(), admin.WithLogger(quiet))...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: r.URL.Query().Get("as"), Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// shooter saves a full-page screenshot of each page under the test's temp
// dir, and in $OUTHOOK_SCREENSHOTS when set.
type shooter struct {
	t   *testing.T
	dir string
}

func (s shooter) shoot(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(s.t, err)
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644))
	if out := os.Getenv(screenshotsEnv); out != "" {
		require.NoError(s.t, os.MkdirAll(out, 0o755))
		require.NoError(s.t, os.WriteFile(filepath.Join(out, name+".png"), png, 0o644))
	}
}

// cspErrors collects what the browser logs about the Content-Security-Policy.
func cspErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var found []string
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				mu.Lock()
				found = append(found, ev.Entry.Text)
				mu.Unlock()
			}
		}
	}()
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), found...) }
}

func html(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	require.NoError(t, err)
	return s
}

// In a real browser: an operator creates a record through the form and
// copies its secret, a dispatched message shows in the record's delivery
// log, Resend adds an attempt, a test delivery reports its result, and a
// portal login for tenant org-a sees neither tenant org-b's records nor,
// by URL, one of them.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	s := memoryStack(t, registry(t))
	app := demoApp(t, s)
	recv, got := receiver(t)
	shots := shooter{t: t, dir: t.TempDir()}
	csp := cspErrors(ctx)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(app.URL+"/login?as=operator"),
		chromedp.WaitVisible(chromedp.CSS("main h1"))))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header a[href="/admin/new"]`)),
		chromedp.WaitVisible(chromedp.ID("save")),
		chromedp.SendKeys(chromedp.ID("name"), "CRM sync"),
		chromedp.SendKeys(chromedp.ID("description"), "Pages and files to the CRM"),
		chromedp.SendKeys(chromedp.ID("tenant"), "org-a"),
		chromedp.Click(chromedp.CSS(`input[value="test/page-updated"]`)),
		chromedp.Click(chromedp.CSS(`input[value="test/file-added"]`)),
		chromedp.SendKeys(chromedp.ID("url"), recv.URL+"/hooks"),
		chromedp.SendKeys(chromedp.ID("headers"), "X-Team: web"),
	))
	shots.shoot(ctx, "form")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("secret"))))
	secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("secret")))
	require.NoError(t, err)
	assert.Len(t, secret, 64)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("button.copy"))),
		"the copy button shows: admin.js runs under the CSP")
	shots.shoot(ctx, "secret")

	page, err := s.store.List(context.Background(), webhook.ListQuery{Tenant: "org-a"})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	rec := page.Records[0]
	assert.Equal(t, secret, rec.Secret.Reveal())
	assert.Equal(t, map[string]string{"X-Team": "web"}, rec.Headers)

	ds, err := s.dispatch(context.Background(), PageUpdated{PageID: 42, Action: "edit"}, webhook.WithTenant("org-a"))
	require.NoError(t, err)
	require.Len(t, ds, 1)
	row := "#d-" + ds[0].ID.String()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("to-record")), chromedp.WaitVisible(chromedp.CSS(row))))
	count, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+" td.attempts")))
	require.NoError(t, err)
	assert.Equal(t, "1", count)
	assert.NotContains(t, html(t, ctx), secret, "the record page never shows the secret")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+" button.resend")),
		chromedp.WaitVisible(chromedp.CSS("p.flash"))))
	count, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+" td.attempts")))
	require.NoError(t, err)
	assert.Equal(t, "2", count, "Resend added an attempt")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("test-result"))))
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("test-result")))
	require.NoError(t, err)
	assert.Contains(t, result, "HTTP 200")
	assert.EqualValues(t, 3, got.Load())
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(row))))
	shots.shoot(ctx, "record")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header a[href="/admin/triggers"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.event"))))
	shots.shoot(ctx, "catalog")

	portalCannotSeeOtherTenant(t, ctx, s, app.URL, rec, shots)
	assert.Empty(t, csp(), "no Content-Security-Policy violations")
}

func portalCannotSeeOtherTenant(t *testing.T, ctx context.Context, s *stack, base string, mine *webhook.Webhook, shots shooter) {
	other := &webhook.Webhook{Name: "Bravo payroll", Tenant: "org-b", Triggers: []string{"test/page-updated"},
		URL: "https://bravo.example/hooks"}
	require.NoError(t, s.store.Create(context.Background(), other))

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/login?as=operator"), chromedp.WaitVisible(chromedp.CSS("table.records"))))
	assert.Contains(t, html(t, ctx), "Bravo payroll", "the operator sees every tenant")
	shots.shoot(ctx, "list")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/login?as=portal:org-a"), chromedp.WaitVisible(chromedp.CSS("table.records"))))
	body := html(t, ctx)
	assert.Contains(t, body, mine.Name)
	assert.NotContains(t, body, "Bravo payroll", "a portal user sees only their tenant")
	shots.shoot(ctx, "portal")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/admin/records/"+other.ID.String()),
		chromedp.WaitVisible(chromedp.CSS("p.error"))))
	body = html(t, ctx)
	assert.Contains(t, body, "404 Not Found")
	assert.NotContains(t, body, "Bravo payroll")
	assert.NotContains(t, body, "bravo.example")
}
