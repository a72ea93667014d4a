package signer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Handler is one kind of signed request a Receiver accepts: a scheme, its
// secrets and, for SchemeTYPO3, the UUID of the sender's webhook record.
// Tiki calls these webhook handlers. It is plain data, for a config file.
type Handler struct {
	// Name identifies the handler to the next http.Handler (see
	// MatchedHandler); "" means the scheme name. Names must be unique.
	Name string `json:"name,omitempty"`
	// Config is the scheme and its parameters, as the sender has them.
	Config Config `json:"config"`
	// Secrets are the shared secrets, current first; any one verifies.
	// SchemeNone takes none.
	Secrets []string `json:"secrets,omitempty"`
	// WebhookID is the UUID of the sender's record, needed by SchemeTYPO3
	// and refused by the other schemes, which do not sign it.
	WebhookID string `json:"webhook_id,omitempty"`
}

// Receiver verifies received webhook requests against a list of handlers,
// in order; the first that verifies wins (Tiki's rule). Its Middleware
// guards an http.Handler. Create it with NewReceiver; it is safe for
// concurrent use.
type Receiver struct {
	handlers    []namedVerifier
	maxBody     int64
	bodyTimeout time.Duration
	onReject    func(*http.Request, error)
	guard       ReplayGuard
	tolerance   time.Duration
	now         func() time.Time
}

type namedVerifier struct {
	name string
	v    *verifier
}

// NewReceiver returns a Receiver for handlers, tried in the order given. It
// checks every handler here, with the errors of NewVerifier. A handler of
// SchemeNone accepts every request, so beside signed handlers it is refused
// with an error matching ErrUnsignedHandler (and ErrInvalidConfig) unless
// WithAllowUnsigned is given, and even then it must come last. Options:
// WithMaxBodyBytes, WithBodyReadTimeout, WithOnReject, WithAllowUnsigned,
// WithReplayGuard, and WithTolerance and WithClock for the handlers'
// timestamps.
func NewReceiver(handlers []Handler, opts ...ReceiverOption) (*Receiver, error) {
	o := receiverOptions{timestampOptions: defaultTimestampOptions(), maxBody: DefaultMaxBodyBytes, bodyTimeout: DefaultBodyReadTimeout}
	if err := applyOptions(&o, opts, ReceiverOption.applyReceiver); err != nil {
		return nil, err
	}
	if len(handlers) == 0 {
		return nil, fmt.Errorf("%w: a receiver needs at least one handler", ErrInvalidConfig)
	}
	rc := &Receiver{maxBody: o.maxBody, bodyTimeout: o.bodyTimeout, onReject: o.onReject,
		guard: o.replayGuard, tolerance: o.tolerance, now: o.now}
	seen := make(map[string]bool, len(handlers))
	unsigned, unsignedAt := "", 0
	for i, h := range handlers {
		c, err := h.Config.canonical()
		if err != nil {
			return nil, fmt.Errorf("handler %d: %w", i, err)
		}
		name := h.Name
		if name == "" {
			name = c.Scheme
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: two handlers are named %q", ErrInvalidConfig, name)
		}
		seen[name] = true
		v, err := newVerifier(h.Config, h.Secrets, verifierOptions{timestampOptions: o.timestampOptions, webhookID: h.WebhookID})
		if err != nil {
			return nil, fmt.Errorf("handler %q: %w", name, err)
		}
		if c.Scheme == SchemeNone && unsigned == "" {
			unsigned, unsignedAt = name, i
		}
		rc.handlers = append(rc.handlers, namedVerifier{name: name, v: v})
	}
	if err := checkUnsigned(handlers, unsigned, unsignedAt, o.allowUnsigned); err != nil {
		return nil, err
	}
	return rc, nil
}

// checkUnsigned refuses a SchemeNone handler, named unsigned and found first
// at index at, beside signed handlers unless allowed, and anywhere but last.
func checkUnsigned(handlers []Handler, unsigned string, at int, allowed bool) error {
	switch {
	case unsigned == "" || len(handlers) == 1:
		return nil
	case !allowed:
		return fmt.Errorf("%w: %w: handler %q (scheme %q) accepts every request, unsigned ones included, "+
			"so the signed handlers beside it would protect nothing; pass WithAllowUnsigned if that is what you want",
			ErrInvalidConfig, ErrUnsignedHandler, unsigned, SchemeNone)
	case at != len(handlers)-1:
		return fmt.Errorf("%w: the unsigned handler %q accepts every request, so it must come last: the handlers after it would never be tried",
			ErrInvalidConfig, unsigned)
	}
	return nil
}

// Verify reads r's body, up to the limit, and tries each handler in turn. It
// returns the name of the first handler that verifies and the body, or an
// error: one matching ErrBodyTooLarge, a read error (ErrBodyTimeout when a
// read deadline passed), or, when no handler verifies, the errors of all
// handlers joined, each naming its handler. Verify consumes r.Body. Unlike
// Middleware, it sets no read deadline and consults no ReplayGuard.
func (rc *Receiver) Verify(r *http.Request) (handler string, body []byte, err error) {
	a, err := rc.verify(r)
	return a.handler, a.body, err
}

// accepted is a request that one of a Receiver's handlers verified.
type accepted struct {
	handler  string
	body     []byte
	id       string    // for the ReplayGuard; "" if there is none
	signedAt time.Time // when id is signed with a timestamp, or zero
}

func (rc *Receiver) verify(r *http.Request) (accepted, error) {
	if r.ContentLength > rc.maxBody {
		return accepted{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, r.ContentLength, rc.maxBody)
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, rc.maxBody+1))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return accepted{}, fmt.Errorf("%w: %w: %w", errReadBody, ErrBodyTimeout, err)
		}
		if err != nil {
			return accepted{}, fmt.Errorf("%w: %w", errReadBody, err)
		}
		if int64(len(body)) > rc.maxBody {
			return accepted{}, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, rc.maxBody)
		}
	}
	errs := make([]error, 0, len(rc.handlers))
	for _, h := range rc.handlers {
		id, signedAt, err := h.v.verifyID(r.Header, body)
		if err == nil {
			return accepted{handler: h.name, body: body, id: id, signedAt: signedAt}, nil
		}
		errs = append(errs, fmt.Errorf("handler %q: %w", h.name, err))
	}
	return accepted{}, errors.Join(errs...)
}

// remember records a's ID with the ReplayGuard, if there is one. It
// returns the key to forget if next does not take the request, or "".
func (rc *Receiver) remember(ctx context.Context, a accepted) (key string, err error) {
	if rc.guard == nil || a.id == "" {
		return "", nil
	}
	until := rc.now().Add(rc.tolerance)
	if !a.signedAt.IsZero() {
		until = a.signedAt.Add(rc.tolerance)
	}
	key = replayKey(a.handler, a.id)
	seen, err := rc.guard.Seen(ctx, key, until)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %w", errReplayGuard, err)
	case seen:
		return "", fmt.Errorf("%w: handler %q has accepted id %q before", ErrReplayed, a.handler, clip(a.id))
	}
	return key, nil
}

// Middleware returns an http.Handler that passes only verified requests to
// next. A refused request gets 401 with a short reason, 413 if its body is
// over the limit, 408 if the body did not arrive within the read timeout, 400
// if it cannot be read, or, with WithReplayGuard, 409 for a replay and 503
// when the guard fails; next never sees it. A verified request reaches next
// with the body restored as r.Body and available through VerifiedBody, and
// the handler's name through MatchedHandler.
//
// The body must arrive within the read timeout (WithBodyReadTimeout), so that
// a client sending it a byte at a time cannot hold the handler. The deadline
// is set with http.ResponseController, in place of the server's own read
// deadline, and lifted once the body is read. Behind a ResponseWriter wrapper
// that hides SetReadDeadline (with no Unwrap method) the body is read without
// it, and only the server's ReadTimeout bounds it.
func (rc *Receiver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lift := setReadDeadline(w, rc.bodyTimeout)
		a, err := rc.verify(r)
		var key string
		if err == nil {
			key, err = rc.remember(r.Context(), a)
		}
		if err != nil {
			rc.refuse(w, r, err)
			return
		}
		lift()
		ctx := context.WithValue(r.Context(), verifiedKey{}, verified{handler: a.handler, body: a.body})
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(a.body))
		r.ContentLength = int64(len(a.body))
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		rc.serveRemembered(next, w, r, key)
	})
}

// serveRemembered runs next for a request whose ID the ReplayGuard has just
// remembered under key, and forgets it again unless next answers 2xx, so
// that the sender's retry is not refused as a replay. next gets a
// ResponseWriter that http.ResponseController can unwrap.
func (rc *Receiver) serveRemembered(next http.Handler, w http.ResponseWriter, r *http.Request, key string) {
	sw := &statusWriter{ResponseWriter: w}
	returned := false
	defer func() {
		if !returned || (sw.status != 0 && sw.status/100 != 2) {
			// The request may be over, but the guard must still hear of it.
			_ = rc.guard.Forget(context.WithoutCancel(r.Context()), key)
		}
	}()
	next.ServeHTTP(sw, r)
	returned = true
}

// statusWriter records the final status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush passes a flush on, for handlers that assert http.Flusher.
func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// setReadDeadline sets a read deadline d from now on the connection or
// stream behind w, and returns the function that lifts it. Where w cannot
// take one (http.ErrNotSupported), it does nothing.
func setReadDeadline(w http.ResponseWriter, d time.Duration) (lift func()) {
	ctl := http.NewResponseController(w)
	if err := ctl.SetReadDeadline(time.Now().Add(d)); err != nil {
		return func() {}
	}
	// Left in place, the deadline would end the server's background read
	// (already waiting when the request has no body) while next runs, and
	// cancel the request's context.
	return func() { _ = ctl.SetReadDeadline(time.Time{}) }
}

// refuse answers a request that did not verify.
func (rc *Receiver) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if rc.onReject != nil {
		rc.onReject(r, err)
	}
	if errors.Is(err, errReadBody) {
		// The rest of the body may never come: do not wait for it to
		// reuse the connection.
		w.Header().Set("Connection", "close")
	}
	status, reason := rejection(err)
	http.Error(w, reason, status)
}

// rejection picks the status and the short reason for a refusal. When
// handlers disagree, the most specific reason wins: a replayed request
// with a valid signature says so rather than "missing signature".
func rejection(err error) (int, string) {
	switch {
	case errors.Is(err, ErrReplayed):
		return http.StatusConflict, "replayed request"
	case errors.Is(err, errReplayGuard):
		return http.StatusServiceUnavailable, "replay guard unavailable"
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout, "request body not received in time"
	case errors.Is(err, errReadBody):
		return http.StatusBadRequest, "cannot read request body"
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, "request body too large"
	case errors.Is(err, ErrTimestampOutOfRange):
		return http.StatusUnauthorized, "timestamp out of range"
	case errors.Is(err, ErrInvalidSignature):
		return http.StatusUnauthorized, "invalid signature"
	case errors.Is(err, ErrMissingSignature):
		return http.StatusUnauthorized, "missing signature"
	default:
		return http.StatusUnauthorized, "signature not verified"
	}
}

var errReadBody = errors.New("signer: read body")

type verifiedKey struct{}

type verified struct {
	handler string
	body    []byte
}

// MatchedHandler returns the name of the handler that verified the request
// whose context ctx is, inside a Receiver's Middleware.
func MatchedHandler(ctx context.Context) (name string, ok bool) {
	v, ok := ctx.Value(verifiedKey{}).(verified)
	return v.handler, ok
}

// VerifiedBody returns the verified body of the request whose context ctx
// is, inside a Receiver's Middleware. The slice is shared with r.Body's
// reader: do not modify it.
func VerifiedBody(ctx context.Context) (body []byte, ok bool) {
	v, ok := ctx.Value(verifiedKey{}).(verified)
	return v.body, ok
}
