package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
)

// logins holds the demo's users and sessions, in memory.
type logins struct {
	users    map[string]user // by name
	mu       sync.Mutex
	sessions map[string]admin.Scope // by cookie value
}

type user struct {
	password string
	scope    admin.Scope
}

const sessionCookie = "demo_session"

func newLogins(o options) (*logins, error) {
	lg := &logins{users: map[string]user{o.user: {o.password, admin.Operator(o.user)}}, sessions: map[string]admin.Scope{}}
	for _, p := range o.portals {
		parts := strings.SplitN(p, ":", 3)
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("-portal %q: want tenant:user:password", p)
		}
		if err := webhook.ValidateTenant(parts[0]); err != nil {
			return nil, fmt.Errorf("-portal %q: %w", p, err)
		}
		if _, taken := lg.users[parts[1]]; taken {
			return nil, fmt.Errorf("-portal %q: user %s exists", p, parts[1])
		}
		lg.users[parts[1]] = user{parts[2], admin.Portal(parts[0], parts[1])}
	}
	return lg, nil
}

// authorize is the admin's Authorize: the session cookie's scope.
func (lg *logins) authorize(r *http.Request) (admin.Scope, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return admin.Scope{}, errors.New("no session")
	}
	lg.mu.Lock()
	defer lg.mu.Unlock()
	s, ok := lg.sessions[c.Value]
	if !ok {
		return admin.Scope{}, errors.New("unknown session")
	}
	return s, nil
}

// login checks a user's password and starts a session.
func (lg *logins) login(w http.ResponseWriter, name, password string) bool {
	u, ok := lg.users[name]
	if !ok || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
		return false
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	lg.mu.Lock()
	lg.sessions[token] = u.scope
	lg.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return true
}

func (lg *logins) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		lg.mu.Lock()
		delete(lg.sessions, c.Value)
		lg.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
}

// routes is the app: the admin at /admin, the login and the fire page. The
// app's own forms are guarded as the admin's are, by CrossOriginProtection.
func (d *demo) routes() http.Handler {
	mux := http.NewServeMux()
	root := http.NewServeMux()
	root.Handle("/admin/", http.StripPrefix("/admin", d.admin))
	root.Handle("/", securityHeaders(http.NewCrossOriginProtection().Handler(mux)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fire", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { render(w, http.StatusOK, loginPage, nil) })
	mux.HandleFunc("POST /login", d.postLogin)
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		d.logins.logout(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /fire", d.firePage)
	mux.HandleFunc("POST /fire", d.fire)
	return root
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func (d *demo) postLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil || !d.logins.login(w, r.PostForm.Get("user"), r.PostForm.Get("password")) {
		render(w, http.StatusUnauthorized, loginPage, map[string]string{"Error": "Wrong user name or password."})
		return
	}
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// firePage lists the triggers with a button each, and what the receiver got.
func (d *demo) firePage(w http.ResponseWriter, r *http.Request) {
	s, err := d.logins.authorize(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	render(w, http.StatusOK, firePage, map[string]any{"Scope": s, "Triggers": d.reg.Triggers(),
		"Fired": r.URL.Query().Get("fired"), "Received": d.receiver.recent()})
}

// fire dispatches the example message of a trigger, for the caller's tenant.
func (d *demo) fire(w http.ResponseWriter, r *http.Request) {
	s, err := d.logins.authorize(r)
	if err != nil {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	tenant := s.Tenant
	if s.AllTenants {
		tenant = strings.TrimSpace(r.PostForm.Get("tenant"))
	}
	n, err := d.dispatchExample(r.Context(), r.PostForm.Get("trigger"), tenant)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/fire?fired=%d", n), http.StatusSeeOther)
}

// dispatchExample dispatches the example message of trigger id for tenant
// and returns how many deliveries it made.
func (d *demo) dispatchExample(ctx context.Context, id, tenant string) (int, error) {
	typ, err := d.reg.MessageType(id)
	if err != nil {
		return 0, err
	}
	ex, ok := newMessage(typ).(admin.Exampler)
	if !ok {
		return 0, fmt.Errorf("%s has no example", id)
	}
	ds, err := d.dispatcher.Dispatch(ctx, ex.WebhookExample(), webhook.WithTenant(tenant))
	return len(ds), err
}

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}

const head = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>outhook demo</title>
<link rel="stylesheet" href="/admin/static/admin.css"></head><body><main>`

var loginPage = template.Must(template.New("login").Parse(head + `
<h1>outhook demo: sign in</h1>
{{with .}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login" class="record-form">
<label for="user">User</label><input id="user" name="user" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form></main></body></html>`))

var firePage = template.Must(template.New("fire").Parse(head + `
<h1>Fire TYPO3 events</h1>
<p><a href="/admin/">Webhooks (admin)</a> · <a href="/admin/triggers">Event catalog</a></p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{{with .Fired}}<p class="flash" role="status">Dispatched: {{.}} deliveries.</p>{{end}}
<table><thead><tr><th>Trigger</th><th>Description</th><th></th></tr></thead><tbody>
{{range .Triggers}}<tr><td><code>{{.Identifier}}</code></td><td>{{.Description}}</td><td>
<form method="post" action="/fire"><input type="hidden" name="trigger" value="{{.Identifier}}">
{{if $.Scope.AllTenants}}<input name="tenant" placeholder="tenant (empty: the app's own)" aria-label="Tenant">{{end}}
<button type="submit">Fire</button></form></td></tr>{{end}}
</tbody></table>
<h2>Received by the local receiver</h2>
<table><thead><tr><th>At</th><th>Trigger</th><th>Delivery</th><th>Signature</th><th>Body</th></tr></thead><tbody>
{{range .Received}}<tr><td>{{.At.Format "15:04:05"}}</td><td><code>{{.Trigger}}</code></td><td><code>{{.DeliveryID}}</code></td><td>{{.Verified}}</td><td><code>{{.Body}}</code></td></tr>
{{else}}<tr><td colspan="5">Nothing yet.</td></tr>{{end}}
</tbody></table></main></body></html>`))
