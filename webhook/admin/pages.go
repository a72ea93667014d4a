package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

//go:embed templates static
var assets embed.FS

// templates holds one template set per page, each with the layout.
var templates = parsePages("list", "record", "form", "secret", "catalog", "error")

func parsePages(names ...string) map[string]*template.Template {
	funcs := template.FuncMap{
		"short": func(id uuid.UUID) string { return id.String()[:8] },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"ms":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"join": strings.Join,
		"pretty": func(raw json.RawMessage) string {
			var buf bytes.Buffer
			if json.Indent(&buf, raw, "", "  ") != nil {
				return string(raw)
			}
			return buf.String()
		},
	}
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(assets, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// page is what every page template gets; each page uses some fields.
type page struct {
	Title   string
	Base    string
	Scope   Scope
	Flash   string
	Problem *problem

	Records []listRow // list
	Next    string

	Record     *webhook.Webhook // record
	Warnings   []string
	Health     healthView
	Deliveries []deliveryRow
	Status     string
	HasLog     bool
	CanResend  bool
	CanTest    bool
	Test       *testResult

	Form   *form  // form
	Secret string // secret
	Events []Event
}

// listRow is one record of the list with its health.
type listRow struct {
	*webhook.Webhook
	Health healthView
}

// deliveryRow is one delivery of the record page: its attempts on the
// current page of the log, newest first.
type deliveryRow struct {
	ID       uuid.UUID
	Trigger  string
	Last     webhook.AttemptRecord
	Attempts []webhook.AttemptRecord
}

// flashes are the messages a redirect after a change may show.
var flashes = map[string]string{
	"updated": "Saved.", "enabled": "Enabled: deliveries resume.", "disabled": "Disabled: no deliveries until enabled.",
	"resent": "The delivery was sent again.", "resend-failed": "The delivery was sent again, and failed: see its attempts below.",
	"deleted": "The record was deleted.",
}

// render writes the page name with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Base, p.Scope = base(r), scopeOf(r)
	if p.Title == "" {
		p.Title = h.cfg.title
	}
	if p.Flash == "" {
		p.Flash = flashes[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := templates[name].Execute(&buf, p); err != nil {
		h.cfg.logger.ErrorContext(r.Context(), "admin: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows a problem as a page.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, p *problem) {
	h.render(w, r, p.Status, "error", page{Title: p.Title, Problem: p})
}

// redirect answers a form's POST with 303 to path under the handler, and
// a flash message code.
func redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	target := base(r) + path
	if done != "" {
		target += "?done=" + done
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// parseForm reads a form body of at most the handler's cap.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.maxBody)
	if err := r.ParseForm(); err != nil {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			return &problem{Status: http.StatusRequestEntityTooLarge, Detail: "the form is too large"}
		}
		return badRequest("", "malformed form")
	}
	return nil
}

// routePages registers the web page.
func (h *Handler) routePages() {
	h.route("/{$}", map[string]http.HandlerFunc{http.MethodGet: h.pageList})
	h.route("/triggers", map[string]http.HandlerFunc{http.MethodGet: h.pageCatalog})
	h.route("/new", map[string]http.HandlerFunc{http.MethodGet: h.pageNew, http.MethodPost: h.pageCreate})
	h.route("/records/{id}", map[string]http.HandlerFunc{http.MethodGet: h.pageRecord})
	h.route("/records/{id}/edit", map[string]http.HandlerFunc{http.MethodGet: h.pageEdit, http.MethodPost: h.pageUpdate})
	h.route("/records/{id}/enable", map[string]http.HandlerFunc{http.MethodPost: h.pageAction(h.enableAction, "enabled")})
	h.route("/records/{id}/disable", map[string]http.HandlerFunc{http.MethodPost: h.pageAction(h.disableAction, "disabled")})
	h.route("/records/{id}/rotate", map[string]http.HandlerFunc{http.MethodPost: h.pageRotate})
	h.route("/records/{id}/test", map[string]http.HandlerFunc{http.MethodPost: h.pageTest})
	h.route("/records/{id}/delete", map[string]http.HandlerFunc{http.MethodPost: h.pageDelete})
	h.route("/records/{id}/deliveries/{delivery}/resend", map[string]http.HandlerFunc{http.MethodPost: h.pageResend})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, notFound("no such page"))
	})
}
