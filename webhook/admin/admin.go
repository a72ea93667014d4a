package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
	"github.com/outhook/outhook/webhook/netguard"
)

// Scope is what one request may see and change: the records and deliveries
// of one tenant (a customer's portal), or of every tenant (the operator).
type Scope struct {
	// AllTenants is the operator's view: every tenant's records.
	AllTenants bool
	// Tenant is the one tenant a portal user sees ("" is the application's
	// own records). It is ignored with AllTenants.
	Tenant string
	// User names the caller on the page; optional.
	User string
}

// Operator returns the scope of an operator: every tenant.
func Operator(user string) Scope { return Scope{AllTenants: true, User: user} }

// Portal returns the scope of a portal user who sees only tenant's records.
func Portal(tenant, user string) Scope { return Scope{Tenant: tenant, User: user} }

// allows reports whether the scope covers a record of tenant.
func (s Scope) allows(tenant string) bool { return s.AllTenants || s.Tenant == tenant }

// Authorize tells who sends a request and what it may see. It runs before
// every request except for the page's static files. An error refuses the
// request: with 403 when it matches ErrForbidden, with 401 otherwise (or
// with the handler given to WithUnauthorized). It is the application's
// login check: a session cookie, a bearer token, a client certificate.
type Authorize func(r *http.Request) (Scope, error)

var (
	// ErrNoAuthorize is returned by New without an Authorize function, so
	// that the handler cannot be mounted open by accident.
	ErrNoAuthorize = errors.New("admin: an Authorize function is required")
	// ErrForbidden, returned (or wrapped) by an Authorize function, answers
	// 403 instead of 401: the caller is known but may not administer
	// webhooks.
	ErrForbidden = errors.New("admin: forbidden")
)

// HealthMonitor is what the handler reads of endpoint health and resets on
// re-enabling; *health.Monitor implements it.
type HealthMonitor interface {
	// State returns the health of the record id.
	State(id uuid.UUID) health.EndpointState
	// Reset forgets the record's failure streak and breaker.
	Reset(id uuid.UUID)
}

// Attempter makes one attempt of a delivery; *webhook.Sender (such as
// Dispatcher.Sender()) implements it. The handler's test deliveries go
// through it.
type Attempter interface {
	Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt
}

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	log          webhook.DeliveryLog
	resender     webhook.Resender
	health       HealthMonitor
	tester       Attempter
	guard        *netguard.Guard
	now          func() time.Time
	logger       *slog.Logger
	maxBody      int64
	title        string
	overlap      time.Duration
	unauthorized http.Handler
	origins      []string
}

// WithDeliveryLog shows deliveries from log: the JSON API's deliveries
// routes and the page's delivery log. Without it they answer 404.
func WithDeliveryLog(log webhook.DeliveryLog) Option {
	return optionFunc(func(c *config) { c.log = log })
}

// WithResender enables Resend: r sends a logged delivery again through the
// transport in use. It needs WithDeliveryLog too.
func WithResender(r webhook.Resender) Option {
	return optionFunc(func(c *config) { c.resender = r })
}

// WithHealth shows each record's health from m and resets it when an
// administrator re-enables the record.
func WithHealth(m HealthMonitor) Option { return optionFunc(func(c *config) { c.health = m }) }

// WithTestSender enables "send test": one attempt through a (usually the
// Dispatcher's Sender, so that the attempt is signed, guarded and logged
// like any other) with the trigger's example payload.
func WithTestSender(a Attempter) Option { return optionFunc(func(c *config) { c.tester = a }) }

// WithGuard sets the network guard whose objections to a record's URL are
// shown as warnings (netguard.New() otherwise). The dial-time check of the
// Sender's own guard is the one that counts.
func WithGuard(g *netguard.Guard) Option { return optionFunc(func(c *config) { c.guard = g }) }

// WithClock sets the clock for rotations and manual disabling (time.Now
// otherwise).
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// WithLogger sets the logger for internal errors (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithMaxBodyBytes caps request bodies (DefaultMaxBodyBytes otherwise);
// larger ones are refused with 413.
func WithMaxBodyBytes(n int64) Option { return optionFunc(func(c *config) { c.maxBody = n }) }

// WithTitle sets the page's title ("Webhooks" otherwise).
func WithTitle(title string) Option { return optionFunc(func(c *config) { c.title = title }) }

// WithRotationOverlap sets how long a rotated-out secret stays valid
// (DefaultRotationOverlap otherwise) when a rotate request names none.
func WithRotationOverlap(d time.Duration) Option {
	return optionFunc(func(c *config) { c.overlap = d })
}

// WithUnauthorized sets the handler for page requests that Authorize
// refuses without ErrForbidden, such as a redirect to the application's
// login page. API requests get 401 all the same.
func WithUnauthorized(h http.Handler) Option {
	return optionFunc(func(c *config) { c.unauthorized = h })
}

// WithTrustedOrigins lets state-changing requests come from these origins
// ("https://portal.example") besides the handler's own (see
// http.CrossOriginProtection.AddTrustedOrigin).
func WithTrustedOrigins(origins ...string) Option {
	return optionFunc(func(c *config) { c.origins = append(c.origins, origins...) })
}

// Defaults of the options.
const (
	// DefaultMaxBodyBytes caps a request body.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultRotationOverlap is how long a rotated-out secret stays valid.
	DefaultRotationOverlap = 24 * time.Hour
	// MaxRotationOverlap is the longest overlap a rotate request may ask for.
	MaxRotationOverlap = 30 * 24 * time.Hour
)

// Handler serves the admin JSON API under /api/ and the web page at its
// root. Mount it under a prefix with http.StripPrefix; its links follow the
// prefix.
type Handler struct {
	store     webhook.Store
	reg       *trigger.Registry
	authorize Authorize
	cfg       config
	mux       *http.ServeMux
	static    http.Handler
	cop       *http.CrossOriginProtection
	catalog   sync.Map // identifier -> Event
}

// New returns the admin handler over store and reg. authorize is required
// (ErrNoAuthorize otherwise): every request but the static files passes it,
// and it decides which tenant's records the request may see.
func New(store webhook.Store, reg *trigger.Registry, authorize Authorize, opts ...Option) (*Handler, error) {
	switch {
	case authorize == nil:
		return nil, ErrNoAuthorize
	case store == nil:
		return nil, errors.New("admin: a webhook.Store is required")
	case reg == nil:
		return nil, errors.New("admin: a trigger.Registry is required")
	}
	cfg := config{now: time.Now, logger: slog.Default(), maxBody: DefaultMaxBodyBytes, title: "Webhooks",
		overlap: DefaultRotationOverlap, guard: netguard.New()}
	for _, o := range opts {
		o.apply(&cfg)
	}
	h := &Handler{store: store, reg: reg, authorize: authorize, cfg: cfg,
		mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	for _, o := range cfg.origins {
		if err := h.cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	h.cop.SetDenyHandler(http.HandlerFunc(h.crossOrigin))
	h.static = staticHandler()
	h.routeAPI()
	h.routePages()
	return h, nil
}

type ctxKey int

const (
	scopeKey ctxKey = iota
	baseKey
)

// ServeHTTP sets the security headers, refuses cross-origin state-changing
// requests, authorizes the request and routes it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Cache-Control", "no-store")
	ctx := context.WithValue(r.Context(), baseKey, basePath(r))
	r = r.WithContext(ctx)
	if strings.HasPrefix(r.URL.Path, "/static/") {
		h.static.ServeHTTP(w, r)
		return
	}
	if err := h.cop.Check(r); err != nil {
		h.crossOrigin(w, r)
		return
	}
	scope, err := h.authorize(r)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	h.mux.ServeHTTP(w, r.WithContext(context.WithValue(ctx, scopeKey, scope)))
}

// contentSecurityPolicy allows the page's own stylesheet and script and
// nothing else: no inline script or style, no frames, forms only to itself.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (h *Handler) crossOrigin(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, &problem{Status: http.StatusForbidden,
		Detail: "cross-origin request refused: state-changing requests must come from this site"})
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrForbidden) {
		h.fail(w, r, &problem{Status: http.StatusForbidden, Detail: "you may not administer webhooks"})
		return
	}
	if h.cfg.unauthorized != nil && !isAPI(r) {
		h.cfg.unauthorized.ServeHTTP(w, r)
		return
	}
	h.fail(w, r, &problem{Status: http.StatusUnauthorized, Detail: "sign in first"})
}

// scopeOf returns the request's scope, set by ServeHTTP.
func scopeOf(r *http.Request) Scope {
	s, _ := r.Context().Value(scopeKey).(Scope)
	return s
}

// base returns the prefix the handler is mounted under, such as "/admin".
func base(r *http.Request) string {
	b, _ := r.Context().Value(baseKey).(string)
	return b
}

// basePath finds the prefix that http.StripPrefix removed: the end of the
// request's original path is the path the handler sees.
func basePath(r *http.Request) string {
	orig, err := url.ParseRequestURI(r.RequestURI)
	if err != nil || r.RequestURI == "" {
		return ""
	}
	if p := orig.Path; strings.HasSuffix(p, r.URL.Path) {
		return strings.TrimSuffix(p[:len(p)-len(r.URL.Path)], "/")
	}
	return ""
}

// isAPI reports whether r is a JSON API request.
func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

// route registers handlers for methods of path and, for any other method, a
// 405 with Allow.
func (h *Handler) route(path string, methods map[string]http.HandlerFunc) {
	allow := make([]string, 0, len(methods))
	for m, fn := range methods {
		h.mux.HandleFunc(m+" "+path, fn)
		allow = append(allow, m)
	}
	if _, ok := methods[http.MethodGet]; ok {
		allow = append(allow, http.MethodHead)
	}
	h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(sortStrings(allow), ", "))
		h.fail(w, r, &problem{Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not allowed here"})
	})
}
