package webhooktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
)

// ErrNoRecord is a refused request's error when no record the Server knows
// has the request's method and URL.
var ErrNoRecord = errors.New("webhooktest: no record has this method and URL")

// maxBody is the most a Server reads of a request body: more than any
// Dispatcher sends by default (webhook.DefaultMaxBodySize).
const maxBody = 16 << 20

// Answer is how a Server answers one verified request.
type Answer struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Body is the response body.
	Body string
	// Delay is how long to wait before answering.
	Delay time.Duration
	// RetryAfter is sent as the Retry-After header when not empty.
	RetryAfter string
	// Reset resets the connection instead of answering.
	Reset bool
}

// Received is one request a Server received.
type Received struct {
	Request
	// WebhookID is the record whose scheme and secrets verified the
	// request; uuid.Nil when it was refused.
	WebhookID uuid.UUID
	// Attempt counts the verified requests with its Webhook-Delivery-Id
	// from 1 (0 when refused): 2 is the delivery's first retry.
	Attempt int
	// Status is the status the Server answers with (or would have, when
	// the client gave up during a delay), 0 for a reset connection;
	// refused requests get 401.
	Status int
	// Err says why the request was refused: ErrNoRecord, or the verifiers'
	// errors (matching signer.ErrInvalidSignature, for instance).
	Err error
}

// Server is a webhook receiver for tests: an httptest.Server that verifies
// each request with the scheme and secrets of the record whose URL it was
// sent to, and answers as scripted. Create it with NewServer; it is safe
// for concurrent use.
type Server struct {
	// URL is the base URL of the Server, http://127.0.0.1:port. Point
	// records at it or at any path below it.
	URL string

	cfg  serverConfig
	srv  *httptest.Server
	quit chan struct{}

	mu       sync.Mutex
	added    []*webhook.Webhook
	verified []Received
	refused  []Received
	attempts map[string]int // verified requests per delivery ID
	changed  chan struct{}  // closed and replaced at each request
}

// NewServer starts a Server on 127.0.0.1 that verifies requests with the
// records of WithStore and those given to Add, and closes it when the test
// ends (t.Cleanup). Without WithAnswers or WithStatuses it answers every
// verified request with 200 OK and refuses the others with 401. A
// Dispatcher reaches it only with AllowLoopback.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	s := &Server{cfg: serverConfig{now: time.Now}, quit: make(chan struct{}),
		attempts: map[string]int{}, changed: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o.applyServer(&s.cfg)
		}
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		close(s.quit) // ends the delays first: Close waits for the handlers
		s.srv.Close()
	})
	return s
}

// Add makes the Server verify requests with copies of records ws too,
// beside those of WithStore: records kept outside a store, or created
// before the Server with an ID set.
func (s *Server) Add(ws ...*webhook.Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range ws {
		s.added = append(s.added, w.Clone())
	}
}

// Verified returns the verified requests so far, in the order received.
func (s *Server) Verified() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.verified...)
}

// Refused returns the requests that no record verified, in the order
// received.
func (s *Server) Refused() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.refused...)
}

// Wait returns the verified requests once there are at least n, or an
// error when ctx ends first; the error says how many were verified and why
// requests were refused. Give ctx a deadline.
func (s *Server) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		got, refused, changed := append([]Received(nil), s.verified...), len(s.refused), s.changed
		var why string
		if refused > 0 {
			why = fmt.Sprintf(", %d refused (the last: %v)", refused, s.refused[refused-1].Err)
		}
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got, fmt.Errorf("webhooktest: waiting for %d verified requests: %d verified%s: %w", n, len(got), why, ctx.Err())
		}
	}
}

// serve verifies one request, records it and answers it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	rc := Received{Request: Request{Method: r.Method, URL: "http://" + r.Host + r.RequestURI,
		Header: r.Header.Clone(), Body: body}}
	if err == nil {
		rc.WebhookID, err = s.verify(r.Context(), rc.Request)
	}
	if err != nil {
		rc.Err, rc.Status = err, http.StatusUnauthorized
		s.record(&rc)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	a := s.record(&rc)
	if !s.wait(r.Context(), a.Delay) {
		return
	}
	if a.Reset {
		reset(w)
		return
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

// record keeps rc and, for a verified request, numbers its attempt and
// returns the answer the script gives it.
func (s *Server) record(rc *Received) Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		close(s.changed)
		s.changed = make(chan struct{})
	}()
	if rc.Err != nil {
		s.refused = append(s.refused, *rc)
		return Answer{}
	}
	id := rc.Header.Get(webhook.HeaderDeliveryID)
	s.attempts[id]++
	rc.Attempt = s.attempts[id]
	var a Answer
	if rc.Attempt <= len(s.cfg.script) {
		a = s.cfg.script[rc.Attempt-1]
	}
	a.Delay += s.cfg.every.Delay
	a.Reset = a.Reset || s.cfg.every.Reset
	if a.RetryAfter == "" {
		a.RetryAfter = s.cfg.every.RetryAfter
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	if !a.Reset {
		rc.Status = a.Status
	}
	s.verified = append(s.verified, *rc)
	return a
}

// wait sleeps d, unless the client gives up or the test ends first; it
// reports whether to answer.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.quit:
	}
	return false
}

// reset closes the request's connection with a TCP reset, unanswered.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection all the same
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST instead of FIN
	}
	_ = conn.Close()
}

// verify returns the ID of the first record, among those with the
// request's method and URL, whose scheme and secrets verify it.
func (s *Server) verify(ctx context.Context, req Request) (uuid.UUID, error) {
	records, err := s.records(ctx)
	if err != nil {
		return uuid.Nil, err
	}
	now := s.cfg.now()
	var errs []error
	for _, w := range records {
		if !targets(w, req) {
			continue
		}
		v, err := verifier(w, now, s.cfg.now)
		if err == nil {
			err = v.Verify(req.Header, req.Body)
		}
		if err == nil {
			return w.ID, nil
		}
		errs = append(errs, fmt.Errorf("record %s (%s): %w", w.ID, w.Name, err))
	}
	if len(errs) == 0 {
		return uuid.Nil, fmt.Errorf("%w: %s %s", ErrNoRecord, req.Method, req.URL)
	}
	return uuid.Nil, errors.Join(errs...)
}

// records returns the records added and those of the store, every tenant's.
func (s *Server) records(ctx context.Context) ([]*webhook.Webhook, error) {
	s.mu.Lock()
	out := append([]*webhook.Webhook(nil), s.added...)
	s.mu.Unlock()
	if s.cfg.records == nil {
		return out, nil
	}
	q := webhook.ListQuery{AllTenants: true, Limit: webhook.MaxPageSize}
	for {
		page, err := s.cfg.records.List(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("webhooktest: list records: %w", err)
		}
		out = append(out, page.Records...)
		if page.Next == "" {
			return out, nil
		}
		q.After = page.Next
	}
}

// targets reports whether req went where w sends: w's method, host and
// path with query.
func targets(w *webhook.Webhook, req Request) bool {
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	u, err := url.Parse(w.URL)
	if err != nil || !strings.EqualFold(method, req.Method) {
		return false
	}
	got, err := url.Parse(req.URL)
	return err == nil && strings.EqualFold(u.Host, got.Host) && u.RequestURI() == got.RequestURI()
}

// verifier returns the Verifier of w's scheme with its secrets at now.
func verifier(w *webhook.Webhook, now time.Time, clock func() time.Time) (signer.Verifier, error) {
	opts := []signer.VerifierOption{signer.WithClock(clock)}
	var secrets []string
	switch w.Signing.Scheme {
	case signer.SchemeNone:
	case "", signer.SchemeTYPO3:
		opts = append(opts, signer.WithWebhookID(w.ID.String()))
		secrets = w.Secrets(now)
	default:
		secrets = w.Secrets(now)
	}
	return signer.NewVerifier(w.Signing, secrets, opts...)
}
