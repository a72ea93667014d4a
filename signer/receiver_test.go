package signer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testUUID     = "c9b4f4a1-3f0e-4b8e-9d6a-2f1c0e7b5a11"
	testSecret   = "my-webhook-secret"
	githubHeader = "X-Hub-Signature-256"
)

var (
	testNow   = time.Unix(1700000000, 0)
	githubCfg = Config{Scheme: SchemeHMAC, Header: githubHeader, Prefix: "sha256="}
	tikiCfg   = Config{Scheme: SchemeHMAC, Header: "Webhook-Signature", Encoding: EncodingBase64}
)

// seen records what the protected handler got.
type seen struct {
	mu      sync.Mutex
	calls   int
	handler string
	body    []byte
	ctxBody []byte
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.handler, _ = MatchedHandler(r.Context())
	s.ctxBody, _ = VerifiedBody(r.Context())
	s.body, _ = io.ReadAll(r.Body)
	w.WriteHeader(http.StatusNoContent)
}

func signedRequest(t *testing.T, url string, cfg Config, secrets []string, body string) *http.Request {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, s.Sign(req.Header, secrets, Input{WebhookID: testUUID, MessageID: "msg_1", Timestamp: testNow, Body: []byte(body)}))
	return req
}

func TestReceiverMiddleware(t *testing.T) {
	swSecret := mustSecret(t, SchemeStandardWebhooks)
	handlers := []Handler{
		{Name: "typo3", Config: Config{}, Secrets: []string{testSecret}, WebhookID: testUUID},
		{Name: "github", Config: githubCfg, Secrets: []string{"new-secret", testSecret}},
		{Name: "tiki", Config: tikiCfg, Secrets: []string{testSecret}},
		{Config: Config{Scheme: SchemeStandardWebhooks}, Secrets: []string{swSecret}},
		{Name: "spika", Config: Config{Scheme: SchemeToken}, Secrets: []string{testSecret}},
	}
	var rejected []error
	var mu sync.Mutex
	rc, err := NewReceiver(handlers,
		WithClock(func() time.Time { return testNow }),
		WithMaxBodyBytes(64),
		WithOnReject(func(_ *http.Request, err error) { mu.Lock(); rejected = append(rejected, err); mu.Unlock() }))
	require.NoError(t, err)

	tests := []struct {
		name        string
		req         func(url string) *http.Request
		wantStatus  int
		wantHandler string
		wantReason  string
		wantErr     error
	}{
		{"typo3 wins", func(u string) *http.Request {
			return signedRequest(t, u, Config{}, []string{testSecret}, `{"a":1}`)
		}, http.StatusNoContent, "typo3", "", nil},
		{"github with a previous secret", func(u string) *http.Request {
			return signedRequest(t, u, githubCfg, []string{testSecret}, `{"a":1}`)
		}, http.StatusNoContent, "github", "", nil},
		{"tiki base64 on Webhook-Signature after typo3 fails", func(u string) *http.Request {
			return signedRequest(t, u, tikiCfg, []string{testSecret}, `{"a":1}`)
		}, http.StatusNoContent, "tiki", "", nil},
		{"standard webhooks named after its scheme", func(u string) *http.Request {
			return signedRequest(t, u, Config{Scheme: SchemeStandardWebhooks}, []string{swSecret}, `{"a":1}`)
		}, http.StatusNoContent, SchemeStandardWebhooks, "", nil},
		{"token", func(u string) *http.Request {
			return signedRequest(t, u, Config{Scheme: SchemeToken}, []string{testSecret}, `{"a":1}`)
		}, http.StatusNoContent, "spika", "", nil},
		{"empty body", func(u string) *http.Request {
			return signedRequest(t, u, githubCfg, []string{testSecret}, ``)
		}, http.StatusNoContent, "github", "", nil},
		{"unsigned", func(u string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(`{}`))
			return req
		}, http.StatusUnauthorized, "", "missing signature", ErrMissingSignature},
		{"wrong secret", func(u string) *http.Request {
			return signedRequest(t, u, githubCfg, []string{"guess"}, `{"a":1}`)
		}, http.StatusUnauthorized, "", "invalid signature", ErrInvalidSignature},
		{"tampered body", func(u string) *http.Request {
			req := signedRequest(t, u, Config{}, []string{testSecret}, `{"a":1}`)
			req.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
			return req
		}, http.StatusUnauthorized, "", "invalid signature", ErrInvalidSignature},
		{"replayed standard webhook", func(u string) *http.Request {
			req := signedRequest(t, u, Config{Scheme: SchemeStandardWebhooks}, []string{swSecret}, `{"a":1}`)
			req.Header.Set(HeaderWebhookTimestamp, "1699990000")
			return req
		}, http.StatusUnauthorized, "", "timestamp out of range", ErrTimestampOutOfRange},
		{"body over the limit", func(u string) *http.Request {
			return signedRequest(t, u, githubCfg, []string{testSecret}, strings.Repeat("x", 65))
		}, http.StatusRequestEntityTooLarge, "", "request body too large", ErrBodyTooLarge},
		{"body over the limit without Content-Length", func(u string) *http.Request {
			req := signedRequest(t, u, githubCfg, []string{testSecret}, strings.Repeat("x", 65))
			req.Body = io.NopCloser(io.MultiReader(strings.NewReader(strings.Repeat("x", 65))))
			req.ContentLength = -1
			return req
		}, http.StatusRequestEntityTooLarge, "", "request body too large", ErrBodyTooLarge},
		{"body at the limit", func(u string) *http.Request {
			return signedRequest(t, u, githubCfg, []string{testSecret}, strings.Repeat("x", 64))
		}, http.StatusNoContent, "github", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &seen{}
			srv := httptest.NewServer(rc.Middleware(next))
			defer srv.Close()
			mu.Lock()
			rejected = nil
			mu.Unlock()

			req := tt.req(srv.URL)
			var sent []byte
			if req.GetBody != nil {
				b, _ := req.GetBody()
				sent, _ = io.ReadAll(b)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			text, _ := io.ReadAll(resp.Body)

			assert.Equal(t, tt.wantStatus, resp.StatusCode, "body %q", text)
			next.mu.Lock()
			defer next.mu.Unlock()
			mu.Lock()
			defer mu.Unlock()
			if tt.wantStatus != http.StatusNoContent {
				assert.Zero(t, next.calls, "a refused request never reaches next")
				assert.Equal(t, tt.wantReason, strings.TrimSpace(string(text)))
				require.Len(t, rejected, 1)
				assert.True(t, errors.Is(rejected[0], tt.wantErr), "got %v", rejected[0])
				return
			}
			assert.Empty(t, rejected)
			assert.Equal(t, 1, next.calls)
			assert.Equal(t, tt.wantHandler, next.handler)
			assert.Equal(t, string(sent), string(next.body), "next reads the verified body from r.Body")
			assert.Equal(t, string(sent), string(next.ctxBody), "and from the context")
		})
	}
}

func TestReceiverFirstHandlerWins(t *testing.T) {
	// Both handlers verify the same request; the first listed is reported.
	rc, err := NewReceiver([]Handler{
		{Name: "first", Config: githubCfg, Secrets: []string{testSecret}},
		{Name: "second", Config: githubCfg, Secrets: []string{testSecret}},
	})
	require.NoError(t, err)
	req := signedRequest(t, "http://127.0.0.1/", githubCfg, []string{testSecret}, `{}`)
	name, body, err := rc.Verify(req)
	require.NoError(t, err)
	assert.Equal(t, "first", name)
	assert.Equal(t, []byte(`{}`), body)
}

func TestReceiverVerifyErrorNamesHandlers(t *testing.T) {
	rc, err := NewReceiver([]Handler{
		{Name: "github", Config: githubCfg, Secrets: []string{testSecret}},
		{Name: "typo3", Config: Config{}, Secrets: []string{testSecret}, WebhookID: testUUID},
	})
	require.NoError(t, err)
	req := signedRequest(t, "http://127.0.0.1/", Config{}, []string{"wrong"}, `{}`)
	_, body, err := rc.Verify(req)
	require.Error(t, err)
	assert.Nil(t, body)
	assert.ErrorIs(t, err, ErrMissingSignature)
	assert.ErrorIs(t, err, ErrInvalidSignature)
	assert.Contains(t, err.Error(), `handler "github"`)
	assert.Contains(t, err.Error(), `handler "typo3"`)
	assert.NotContains(t, err.Error(), testSecret)
}

func TestNewReceiverErrors(t *testing.T) {
	ok := Handler{Name: "a", Config: githubCfg, Secrets: []string{testSecret}}
	tests := []struct {
		name     string
		handlers []Handler
		opts     []ReceiverOption
		want     error
	}{
		{"no handlers", nil, nil, ErrInvalidConfig},
		{"duplicate names", []Handler{ok, ok}, nil, ErrInvalidConfig},
		{"duplicate default names", []Handler{{Config: githubCfg, Secrets: []string{"x"}}, {Config: tikiCfg, Secrets: []string{"x"}}}, nil, ErrInvalidConfig},
		{"typo3 without webhook id", []Handler{{Config: Config{}, Secrets: []string{"x"}}}, nil, ErrInvalidConfig},
		{"unknown scheme", []Handler{{Config: Config{Scheme: "nope"}, Secrets: []string{"x"}}}, nil, ErrUnknownScheme},
		{"no secret", []Handler{{Name: "a", Config: githubCfg}}, nil, ErrNoSecret},
		{"malformed whsec", []Handler{{Config: Config{Scheme: SchemeStandardWebhooks}, Secrets: []string{"whsec_!"}}}, nil, ErrInvalidSecret},
		{"bad body limit", []Handler{ok}, []ReceiverOption{WithMaxBodyBytes(0)}, ErrInvalidConfig},
		{"negative body limit", []Handler{ok}, []ReceiverOption{WithMaxBodyBytes(-1)}, ErrInvalidConfig},
		{"bad tolerance", []Handler{ok}, []ReceiverOption{WithTolerance(0)}, ErrInvalidConfig},
		{"nil clock", []Handler{ok}, []ReceiverOption{WithClock(nil)}, ErrInvalidConfig},
		{"nil option", []Handler{ok}, []ReceiverOption{WithMaxBodyBytes(1), nil}, ErrInvalidConfig},
		{"webhook id for hmac", []Handler{{Config: githubCfg, Secrets: []string{"x"}, WebhookID: testUUID}}, nil, ErrInvalidConfig},
		{"none with a secret", []Handler{{Config: Config{Scheme: SchemeNone}, Secrets: []string{"x"}}}, nil, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := NewReceiver(tt.handlers, tt.opts...)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, rc)
		})
	}
}

func TestContextAccessorsOutsideMiddleware(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(nil))
	name, ok := MatchedHandler(r.Context())
	assert.False(t, ok)
	assert.Empty(t, name)
	body, ok := VerifiedBody(r.Context())
	assert.False(t, ok)
	assert.Nil(t, body)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReceiverReadError(t *testing.T) {
	rc, err := NewReceiver([]Handler{{Name: "a", Config: githubCfg, Secrets: []string{testSecret}}})
	require.NoError(t, err)
	next := &seen{}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(failingReader{}))
	rc.Middleware(next).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Zero(t, next.calls)
}

// TestReceiverUnsigned checks that a none handler beside signed ones, which
// would let every request through, needs WithAllowUnsigned, and then last.
func TestReceiverUnsigned(t *testing.T) {
	github := Handler{Name: "github", Config: githubCfg, Secrets: []string{testSecret}}
	none := Handler{Config: Config{Scheme: SchemeNone}}
	tests := []struct {
		name     string
		handlers []Handler
		allow    bool
		wantErr  []error // all must match; nil: accepted
	}{
		{"none alone", []Handler{none}, false, nil},
		{"none after a signed handler", []Handler{github, none}, false, []error{ErrUnsignedHandler, ErrInvalidConfig}},
		{"none before a signed handler", []Handler{none, github}, false, []error{ErrUnsignedHandler, ErrInvalidConfig}},
		{"none after a signed handler, allowed", []Handler{github, none}, true, nil},
		{"none before a signed handler, allowed", []Handler{none, github}, true, []error{ErrInvalidConfig}},
		{"none with a secret beside a signed handler, allowed", []Handler{github, {Config: Config{Scheme: SchemeNone}, Secrets: []string{testSecret}}}, true, []error{ErrInvalidConfig}},
		{"two none handlers, allowed", []Handler{github, none, {Name: "none2", Config: Config{Scheme: SchemeNone}}}, true, []error{ErrInvalidConfig}},
		{"signed handlers only", []Handler{github, {Name: "tiki", Config: tikiCfg, Secrets: []string{testSecret}}}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []ReceiverOption
			if tt.allow {
				opts = append(opts, WithAllowUnsigned())
			}
			rc, err := NewReceiver(tt.handlers, opts...)
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.ErrorIs(t, err, want)
				}
				assert.Nil(t, rc)
				return
			}
			require.NoError(t, err)
			unsigned, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(`{}`))
			require.NoError(t, err)
			name, _, err := rc.Verify(unsigned)
			if tt.handlers[len(tt.handlers)-1].Config.Scheme == SchemeNone {
				require.NoError(t, err)
				assert.Equal(t, SchemeNone, name)
			} else {
				assert.ErrorIs(t, err, ErrMissingSignature)
			}
			if tt.handlers[0].Name == "github" {
				name, _, err = rc.Verify(signedRequest(t, "http://127.0.0.1/", githubCfg, []string{testSecret}, `{}`))
				require.NoError(t, err)
				assert.Equal(t, "github", name, "a signed request is reported as such")
			}
		})
	}
}

// trickle opens a connection to srv, sends the headers of a POST with a
// 1000-byte body, then one body byte every 20ms until the test ends, and
// returns the response the server gives, waiting at most 10s for it.
func trickle(t *testing.T, srv *httptest.Server, header string) (*http.Response, error) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n%s\r\n\r\n", header)
	require.NoError(t, err)
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	// A bound on a hang, not a measure of speed: 1000 bytes take 20s.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	return http.ReadResponse(bufio.NewReader(conn), nil)
}

func TestReceiverSlowBody(t *testing.T) {
	var mu sync.Mutex
	var rejected []error
	rc, err := NewReceiver([]Handler{{Name: "github", Config: githubCfg, Secrets: []string{testSecret}}},
		WithBodyReadTimeout(200*time.Millisecond),
		WithOnReject(func(_ *http.Request, err error) { mu.Lock(); rejected = append(rejected, err); mu.Unlock() }))
	require.NoError(t, err)
	next := &seen{}
	srv := httptest.NewServer(rc.Middleware(next))
	defer srv.Close()

	resp, err := trickle(t, srv, githubHeader+": sha256=00")
	require.NoError(t, err, "the receiver must answer instead of waiting for the slow body")
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "body %q", text)
	assert.Equal(t, "request body not received in time", strings.TrimSpace(string(text)))
	assert.True(t, resp.Close, "the connection is closed rather than drained")
	next.mu.Lock()
	assert.Zero(t, next.calls)
	next.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, rejected, 1)
	assert.ErrorIs(t, rejected[0], ErrBodyTimeout)
	assert.ErrorIs(t, rejected[0], os.ErrDeadlineExceeded)
}

// bareWriter hides the server's ResponseWriter, SetReadDeadline included,
// as a wrapper without Unwrap does.
type bareWriter struct{ w http.ResponseWriter }

func (b bareWriter) Header() http.Header         { return b.w.Header() }
func (b bareWriter) Write(p []byte) (int, error) { return b.w.Write(p) }
func (b bareWriter) WriteHeader(code int)        { b.w.WriteHeader(code) }

// TestReceiverBodyDeadlineUnsupported checks that a ResponseWriter that
// cannot take a read deadline does not break the middleware.
func TestReceiverBodyDeadlineUnsupported(t *testing.T) {
	rc, err := NewReceiver([]Handler{{Name: "github", Config: githubCfg, Secrets: []string{testSecret}}},
		WithBodyReadTimeout(time.Millisecond))
	require.NoError(t, err)
	next := &seen{}
	mw := rc.Middleware(next)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.ErrorIs(t, http.NewResponseController(bareWriter{w}).SetReadDeadline(time.Now()), http.ErrNotSupported)
		mw.ServeHTTP(bareWriter{w}, r)
	}))
	defer srv.Close()
	resp, err := srv.Client().Do(signedRequest(t, srv.URL, githubCfg, []string{testSecret}, `{"a":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	next.mu.Lock()
	defer next.mu.Unlock()
	assert.Equal(t, 1, next.calls)
	assert.Equal(t, `{"a":1}`, string(next.body))
}

// TestReceiverBodyDeadlineLifted checks that the body's read deadline does
// not outlive the body: a next handler that runs longer keeps its context.
// The request has no body, so the server's background read, which would
// cancel the context at the deadline, is already waiting when the
// middleware sets it.
func TestReceiverBodyDeadlineLifted(t *testing.T) {
	const timeout = 50 * time.Millisecond
	rc, err := NewReceiver([]Handler{{Name: "github", Config: githubCfg, Secrets: []string{testSecret}}},
		WithBodyReadTimeout(timeout))
	require.NoError(t, err)
	ctxErr := make(chan error, 1)
	srv := httptest.NewServer(rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(6 * timeout): // well past the body's deadline
		}
		ctxErr <- r.Context().Err()
	})))
	defer srv.Close()
	req := signedRequest(t, srv.URL, githubCfg, []string{testSecret}, ``)
	require.Zero(t, req.ContentLength)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NoError(t, <-ctxErr, "the request's context outlives the body's deadline")
}
