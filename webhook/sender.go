package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook/netguard"
)

var (
	// ErrWebhookGone is an attempt's error when its record was deleted.
	ErrWebhookGone = errors.New("webhook: record deleted")
	// ErrWebhookDisabled is an attempt's error when its record is disabled.
	ErrWebhookDisabled = errors.New("webhook: record disabled")
	// ErrStoreUnavailable is an attempt's error when its record could not be
	// loaded; no request was made, and the attempt is retried.
	ErrStoreUnavailable = errors.New("webhook: store unavailable")
)

// drainLimit is how much of a response body beyond the excerpt is read so the
// connection can be reused; a longer body closes the connection instead.
const drainLimit = 64 << 10

// Sender makes single delivery attempts: it implements transport.Attempter.
// A Dispatcher has one; a durable transport's worker builds its own with
// NewSender from the same Store and options.
type Sender struct {
	cfg     senderConfig
	records Getter
	signers sync.Map // signer.Config -> signer.Signer
	chain   transport.AttemptFunc

	excerptBufs sync.Pool // *[]byte of cfg.excerpt bytes
	urls        urlCache

	insecureOnce sync.Once
	insecure     *http.Client
	insecureErr  error
}

var _ transport.BudgetAttempter = (*Sender)(nil)

// Getter loads one record by ID: all a Sender needs of a Store.
type Getter interface {
	// Get returns the record with id, or an error matching ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*Webhook, error)
}

// NewSender returns a Sender that loads records from store (any Getter,
// such as a Store) at each attempt.
func NewSender(store Getter, opts ...SenderOption) *Sender {
	return newSender(store, newSenderConfig(opts))
}

func newSender(records Getter, cfg senderConfig) *Sender {
	cfg.client = withoutCredentialsAcrossHosts(cfg.client)
	s := &Sender{cfg: cfg, records: records}
	s.chain = s.attempt
	for i := len(cfg.middleware) - 1; i >= 0; i-- {
		s.chain = cfg.middleware[i](s.chain)
	}
	return s
}

// NewBackOff implements transport.Attempter.
func (s *Sender) NewBackOff() backoff.BackOff { return s.cfg.newBackOff() }

// Attempt implements transport.Attempter: it loads the record, signs env.Body
// with the record's scheme and secret, sends it within the attempt timeout,
// reads a bounded excerpt of the answer and classifies it. Middleware given
// with WithMiddleware wraps all of that.
func (s *Sender) Attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	at := s.chain(ctx, env, n)
	s.logAttempt(ctx, env, &at)
	return at
}

// AttemptWithin implements transport.BudgetAttempter: Attempt, cut off
// after left with context.Cause transport.ErrBudgetExceeded. Without
// middleware one context bounds the attempt, ending at the earlier of left
// and the attempt timeout. With middleware, whose waits (a rate limit) count
// against left but not against the attempt timeout, left bounds the chain
// and the attempt timeout the request, as under any other transport.
func (s *Sender) AttemptWithin(ctx context.Context, env transport.Envelope, n int, left time.Duration) (transport.Attempt, bool) {
	if len(s.cfg.middleware) > 0 {
		bctx, cancel := context.WithTimeoutCause(ctx, left, transport.ErrBudgetExceeded)
		defer cancel()
		at := s.Attempt(bctx, env, n)
		return at, errors.Is(context.Cause(bctx), transport.ErrBudgetExceeded)
	}
	start, wall := s.start()
	var (
		actx   context.Context
		cancel context.CancelFunc
	)
	if left < s.cfg.attemptTimeout {
		actx, cancel = context.WithDeadlineCause(ctx, wall.Add(left), transport.ErrBudgetExceeded)
	} else {
		actx, cancel = context.WithDeadline(ctx, wall.Add(s.cfg.attemptTimeout))
	}
	defer cancel()
	at := s.send(actx, env, n, start)
	s.logAttempt(ctx, env, &at)
	return at, errors.Is(context.Cause(actx), transport.ErrBudgetExceeded)
}

// attempt is the innermost AttemptFunc: one request within the attempt
// timeout.
func (s *Sender) attempt(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
	start, wall := s.start()
	actx, cancel := context.WithDeadline(ctx, wall.Add(s.cfg.attemptTimeout))
	defer cancel()
	return s.send(actx, env, n, start)
}

// start returns an attempt's start time, by the Sender's clock, and the
// system time its timeout counts from: one reading of the clock when the
// Sender's is the system's.
func (s *Sender) start() (start, wall time.Time) {
	if s.cfg.systemClock {
		now := time.Now()
		return now, now
	}
	return s.cfg.now(), time.Now()
}

// send makes one request under actx, which bounds it, for an attempt
// that started at start.
func (s *Sender) send(actx context.Context, env transport.Envelope, n int, start time.Time) transport.Attempt {
	at := transport.Attempt{Number: n, Start: start}
	req, w, err := s.request(actx, env, at.Start)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			return end(at, re.outcome, re.err)
		}
		return end(at, transport.Permanent, err)
	}

	client := s.cfg.client
	if w.InsecureSkipVerify && req.URL.Scheme == "https" {
		if client, err = s.insecureClient(); err != nil {
			return end(at, transport.Permanent, fmt.Errorf("webhook %s: %w", w.ID, err))
		}
		s.cfg.log.WarnContext(actx, "webhook TLS verification is off for this record", "webhook_id", w.ID.String(), "url", redact(req.URL))
	}
	resp, err := client.Do(req)
	if err != nil {
		at.Duration = s.cfg.now().Sub(at.Start)
		redactURL(err)
		// A refused destination or redirect will not change by retrying.
		var re *netguard.RedirectError
		switch {
		case errors.As(err, &re):
			at.StatusCode = re.StatusCode
			return end(at, transport.Permanent, err)
		case errors.Is(err, netguard.ErrBlocked):
			return end(at, transport.Permanent, err)
		}
		return end(at, transport.Retry, err)
	}
	at.StatusCode = resp.StatusCode
	// The status decides the outcome; a body that breaks off after it does not.
	at.Excerpt = s.readExcerpt(resp.Body)
	at.Duration = s.cfg.now().Sub(at.Start)
	if at.Outcome = transport.Classify(resp.StatusCode); at.Outcome != transport.Success {
		at.Err = &transport.StatusError{StatusCode: resp.StatusCode}
		if at.Outcome == transport.Retry {
			at.RetryAfter = transport.ParseRetryAfter(resp.Header.Get("Retry-After"), s.cfg.now(), s.cfg.maxRetryAfter)
		}
	}
	return at
}

// requestError is why no request could be built for an attempt, and how
// the attempt ends.
type requestError struct {
	outcome transport.Outcome
	err     error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// Request returns the signed request that an attempt of env made at now
// sends, without sending it: the record loaded from the Sender's Getter,
// its URL and method, outhook's headers, the record's own headers and the
// signature headers of its scheme and secrets. Test helpers show it to
// applications; Attempt sends the same. It fails, with an error matching
// ErrWebhookGone, ErrWebhookDisabled, ErrTenantMismatch or
// ErrStoreUnavailable, when the attempt would fail before a request.
func (s *Sender) Request(ctx context.Context, env transport.Envelope, now time.Time) (*http.Request, error) {
	req, _, err := s.request(ctx, env, now)
	return req, err
}

func (s *Sender) request(ctx context.Context, env transport.Envelope, now time.Time) (*http.Request, *Webhook, error) {
	fail := func(o transport.Outcome, err error) (*http.Request, *Webhook, error) {
		return nil, nil, &requestError{outcome: o, err: err}
	}
	w, idText, err := s.record(ctx, env.WebhookID)
	switch {
	case errors.Is(err, ErrNotFound):
		return fail(transport.Permanent, fmt.Errorf("%w: %s", ErrWebhookGone, env.WebhookID))
	case err != nil:
		return fail(transport.Retry, fmt.Errorf("%w: load record %s: %w", ErrStoreUnavailable, env.WebhookID, err))
	case w.Disabled:
		return fail(transport.Permanent, fmt.Errorf("%w: %s", ErrWebhookDisabled, env.WebhookID))
	case w.Tenant != env.Tenant:
		return fail(transport.Permanent, fmt.Errorf("%w: %s is not of tenant %q", ErrTenantMismatch, env.WebhookID, env.Tenant))
	}
	sg, err := s.signer(w.Signing)
	if err != nil {
		return fail(transport.Permanent, fmt.Errorf("webhook %s: %w", w.ID, err))
	}
	req, err := s.urls.newRequest(ctx, w.method(), w.URL, env.Body)
	if err != nil {
		return fail(transport.Permanent, fmt.Errorf("webhook %s: build request: %w", w.ID, err))
	}
	h := req.Header
	// outhook's own values share one array (the keys are canonical): one
	// allocation instead of one per header.
	deliveryID := env.DeliveryID.String()
	vals := [...]string{s.cfg.userAgent, "application/json", deliveryID, env.Trigger}
	own := vals[:]
	// The record may set its own User-Agent, as TYPO3's records can.
	h[headerUserAgent] = own[0:1:1]
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	if w.PropagateTrace && s.cfg.propagator != nil {
		trace := map[string]string{}
		s.cfg.propagator.Inject(ctx, trace)
		for k, v := range trace {
			h.Set(k, v)
		}
	}
	// Set after the record's headers, so these always win.
	h[HeaderContentType] = own[1:2:2]
	h[HeaderDeliveryID] = own[2:3:3]
	h[HeaderTrigger] = own[3:4:4]
	if idText == "" {
		idText = w.ID.String()
	}
	in := signer.Input{WebhookID: idText, MessageID: deliveryID, Timestamp: now, Body: env.Body}
	secrets := secretLists.Get().(*[]string)
	*secrets = w.appendSecrets((*secrets)[:0], now)
	err = sg.Sign(h, *secrets, in)
	clear(*secrets)
	secretLists.Put(secrets)
	if err != nil {
		return fail(transport.Permanent, fmt.Errorf("webhook %s: sign: %w", w.ID, err))
	}
	return req, w, nil
}

// secretLists holds the lists of secrets an attempt signs with, emptied
// after use: the built-in signers keep no reference to them.
var secretLists = sync.Pool{New: func() any { return new([]string) }}

// record loads the record with id for an attempt, which only reads it: a
// MemoryStore's is shared rather than copied, and comes with its ID as text
// ("" from other Getters).
func (s *Sender) record(ctx context.Context, id uuid.UUID) (*Webhook, string, error) {
	if ms, ok := s.records.(*MemoryStore); ok {
		return ms.getShared(id)
	}
	w, err := s.records.Get(ctx, id)
	return w, "", err
}

// keptAcrossHosts are the only headers a redirect to another host carries:
// none of them is a credential.
var keptAcrossHosts = map[string]bool{
	HeaderContentType: true, headerUserAgent: true, HeaderDeliveryID: true, HeaderTrigger: true,
}

// withoutCredentialsAcrossHosts returns a copy of c whose redirects, when c
// follows any (netguard.WithRedirects, or a client of the application's),
// send no Referer, and drop on a hop to another host (another host name or
// port than the record's URL) every header but Content-Type, User-Agent,
// Webhook-Delivery-Id and Webhook-Trigger: the signature or token and the
// record's own headers are for the record's host only. net/http itself only
// drops Authorization, WWW-Authenticate and cookies. c's redirect policy
// (net/http's default without one) still decides whether to follow.
func withoutCredentialsAcrossHosts(c *http.Client) *http.Client {
	cc := *c
	policy := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		req.Header.Del("Referer")
		if len(via) > 0 && !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
			for k := range req.Header {
				if !keptAcrossHosts[http.CanonicalHeaderKey(k)] {
					delete(req.Header, k)
				}
			}
		}
		if policy != nil {
			return policy(req, via)
		}
		if len(via) >= 10 { // net/http's default policy
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// redactURL shortens the URL inside a client error to scheme and host:
// receivers such as Slack put tokens in the path or query, and errors end up
// in logs and the delivery log.
func redactURL(err error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = redact(u)
		}
	}
}

// redact returns u as scheme://host, with "/…" when there was more; a
// relative URL (a redirect's Location) is only "/…".
func redact(u *url.URL) string {
	if u.Scheme == "" && u.Host == "" {
		return "/…"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery ||
		u.Fragment != "" || u.User != nil || u.Opaque != "" {
		s += "/…"
	}
	return s
}

// end finishes a failed attempt.
func end(at transport.Attempt, o transport.Outcome, err error) transport.Attempt {
	at.Outcome, at.Err = o, err
	return at
}

// readExcerpt keeps the first bytes of body, up to the excerpt size, drains
// a bounded amount more so the connection can be reused, and closes it. The
// buffer is the Sender's, reused across attempts.
func (s *Sender) readExcerpt(body io.ReadCloser) string {
	defer body.Close()
	bp, _ := s.excerptBufs.Get().(*[]byte)
	if bp == nil || len(*bp) != s.cfg.excerpt {
		b := make([]byte, s.cfg.excerpt)
		bp = &b
	}
	defer s.excerptBufs.Put(bp)
	buf := *bp
	n, err := io.ReadFull(body, buf)
	if err == nil {
		drain(body, buf)
	}
	return string(buf[:n])
}

// drain reads and drops at most drainLimit bytes of body through buf.
func drain(body io.Reader, buf []byte) {
	if len(buf) == 0 {
		_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
		return
	}
	for left := drainLimit; left > 0; {
		n, err := body.Read(buf[:min(len(buf), left)])
		left -= n
		if err != nil {
			return
		}
	}
}

// insecureClient is the configured client with TLS verification off, made
// once, for records with InsecureSkipVerify.
func (s *Sender) insecureClient() (*http.Client, error) {
	s.insecureOnce.Do(func() {
		rt := s.cfg.client.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		ht, ok := rt.(*http.Transport)
		if !ok {
			s.insecureErr = fmt.Errorf("webhook: InsecureSkipVerify needs an *http.Transport, the client has %T", rt)
			return
		}
		ht = ht.Clone()
		if ht.TLSClientConfig == nil {
			ht.TLSClientConfig = &tls.Config{}
		}
		ht.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the record asked for it, and it is logged
		c := *s.cfg.client
		c.Transport = ht
		s.insecure = &c
	})
	return s.insecure, s.insecureErr
}

func (s *Sender) signer(c signer.Config) (signer.Signer, error) {
	if v, ok := s.signers.Load(c); ok {
		return v.(signer.Signer), nil
	}
	sg, err := signer.New(c)
	if err != nil {
		return nil, err
	}
	s.signers.Store(c, sg)
	return sg, nil
}

func (s *Sender) logAttempt(ctx context.Context, env transport.Envelope, at *transport.Attempt) {
	level := slog.LevelWarn
	switch at.Outcome {
	case transport.Success:
		level = slog.LevelDebug
	case transport.Defer:
		level = slog.LevelInfo
	}
	if !s.cfg.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("delivery_id", env.DeliveryID.String()),
		slog.String("webhook_id", env.WebhookID.String()),
		slog.String("tenant", env.Tenant),
		slog.String("trigger", env.Trigger),
		slog.Int("attempt", at.Number),
		slog.String("outcome", at.Outcome.String()),
		slog.Int("status", at.StatusCode),
		slog.Duration("duration", at.Duration),
	}
	if at.Err != nil {
		attrs = append(attrs, slog.String("error", at.Err.Error()))
	}
	if at.RetryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", at.RetryAfter))
	}
	s.cfg.log.LogAttrs(ctx, level, "webhook attempt", attrs...)
}
