package netguard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every server here is an httptest server on 127.0.0.1, and every guard is
// wrapped by loopbackOnly: even a broken guard connects to nothing else.

func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	require.True(t, strings.HasPrefix(ts.URL, "http://127.0.0.1:"), "test servers must be on loopback")
	return ts, &hits
}

func portOf(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(ts.URL)
	require.NoError(t, err)
	return u.Port()
}

// The default guard refuses 127.0.0.1; the target is loopback, so the test
// is safe even if the guard were broken.
func TestClientRefusesLoopbackEndToEnd(t *testing.T) {
	ts, hits := countingServer(t, nil)

	ownClient := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("custom dialer must be removed")
		},
	}}
	wrapped, err := Wrap(ownClient, loopbackOnly(t, New()))
	require.NoError(t, err)

	clients := map[string]*http.Client{
		"NewClient":      NewClient(loopbackOnly(t, New())),
		"NewClient(nil)": NewClient(nil),
		"Wrap":           wrapped,
		"Control only": {Transport: &http.Transport{
			DialContext: (&net.Dialer{Control: New().Control}).DialContext,
		}},
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Get(ts.URL + "/hook?token=secret")
			if resp != nil {
				resp.Body.Close()
			}
			require.Error(t, err)

			var ue *url.Error
			assert.ErrorAs(t, err, &ue)
			var oe *net.OpError
			assert.ErrorAs(t, err, &oe)
			be := requireBlocked(t, err)
			assert.Equal(t, netip.MustParseAddr("127.0.0.1"), be.IP)
			assert.Equal(t, "loopback", be.Reason)
			assert.NotContains(t, be.Error(), "secret")
		})
	}
	assert.Zero(t, hits.Load(), "the server must never be reached")
}

func TestClientAllowsLoopbackWhenAsked(t *testing.T) {
	ts, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	c := NewClient(loopbackOnly(t, New(AllowLoopback())))
	resp, err := c.Get(ts.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", string(body))
	assert.EqualValues(t, 1, hits.Load())

	tr := NewTransport(nil)
	assert.Nil(t, tr.Proxy, "a proxy would bypass the guard")
	assert.False(t, tr.TLSClientConfig.InsecureSkipVerify)
	assert.Equal(t, DefaultMaxIdleConnsPerHost, tr.MaxIdleConnsPerHost)

	// A pool sized for many workers is not cut by the all-hosts bound.
	big := NewTransport(nil, WithMaxIdleConnsPerHost(256))
	assert.Equal(t, 256, big.MaxIdleConns)
}

func TestClientRedirects(t *testing.T) {
	target, targetHits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "landed")
	})
	redirectTo := func(loc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, loc, http.StatusFound)
		}
	}
	// Loopback is opened by prefix for 127.0.0.1 only, so that 127.0.0.2
	// and localhost stand in for blocked targets while staying on loopback.
	allow1 := AllowPrefixes(netip.MustParsePrefix("127.0.0.1/32"))
	res := WithResolver(fakeResolver{"metadata.evil.test": {netip.MustParseAddr("169.254.169.254")}})
	port := portOf(t, target)

	tests := []struct {
		name       string
		location   string
		opts       []ClientOption
		wantBody   string
		wantReason string // of the *RedirectError
		wantBlock  string // reason of a *BlockedError, when the target is blocked
	}{
		{name: "not followed by default", location: target.URL, wantReason: "redirects are not followed"},
		{name: "followed when allowed", location: target.URL, opts: []ClientOption{WithRedirects(2)}, wantBody: "landed"},
		{name: "to a blocked literal", location: "http://127.0.0.2:" + port + "/", opts: []ClientOption{WithRedirects(2)},
			wantReason: "target blocked", wantBlock: "loopback"},
		{name: "to localhost", location: "http://localhost:" + port + "/", opts: []ClientOption{WithRedirects(2)},
			wantReason: "target blocked", wantBlock: "loopback name"},
		{name: "to a decimal spelling", location: "http://2130706434:" + port + "/", opts: []ClientOption{WithRedirects(2)},
			wantReason: "target blocked", wantBlock: "loopback (non-canonical"},
		{name: "to a name resolving to metadata", location: "http://metadata.evil.test:" + port + "/latest/meta-data/",
			opts: []ClientOption{WithRedirects(2)}, wantBlock: "cloud metadata"},
		{name: "to another scheme", location: "ftp://127.0.0.1/", opts: []ClientOption{WithRedirects(2)},
			wantReason: `unsupported scheme "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := targetHits.Load()
			src, _ := countingServer(t, redirectTo(tt.location))
			c := NewClient(loopbackOnly(t, New(allow1, res)), tt.opts...)

			resp, err := c.Get(src.URL)
			if resp != nil {
				resp.Body.Close()
			}
			if tt.wantBody != "" {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, before+1, targetHits.Load())
				return
			}
			require.Error(t, err)
			assert.Equal(t, before, targetHits.Load(), "the target must not be reached")
			if tt.wantReason != "" {
				var re *RedirectError
				require.ErrorAs(t, err, &re)
				assert.ErrorIs(t, err, ErrRedirect)
				assert.Equal(t, http.StatusFound, re.StatusCode)
				assert.Equal(t, tt.wantReason, re.Reason)
				assert.Equal(t, 0, re.Hops)
			}
			if tt.wantBlock != "" {
				be := requireBlocked(t, err)
				assert.Contains(t, be.Reason, tt.wantBlock)
			} else {
				assert.NotErrorIs(t, err, ErrBlocked)
			}
		})
	}
}

func TestClientRedirectLoop(t *testing.T) {
	var ts *httptest.Server
	ts, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ts.URL+"/again", http.StatusTemporaryRedirect)
	})
	c := NewClient(loopbackOnly(t, New(AllowLoopback())), WithRedirects(3))
	resp, err := c.Get(ts.URL)
	if resp != nil {
		resp.Body.Close()
	}
	var re *RedirectError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "stopped after 3 redirects", re.Reason)
	assert.Equal(t, 3, re.Hops)
	assert.Equal(t, http.StatusTemporaryRedirect, re.StatusCode)
	assert.EqualValues(t, 4, hits.Load())

	// A wrapped client keeps its own policy, here net/http's ten hops.
	hits.Store(0)
	wrapped, err := Wrap(&http.Client{}, loopbackOnly(t, New(AllowLoopback())))
	require.NoError(t, err)
	resp, err = wrapped.Get(ts.URL)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "stopped after 10 redirects", re.Reason)
	assert.EqualValues(t, 10, hits.Load())
}

func TestClientRefusesHTTPSToHTTP(t *testing.T) {
	plain, plainHits := countingServer(t, nil)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL, http.StatusMovedPermanently)
	}))
	defer tlsSrv.Close()
	require.True(t, strings.HasPrefix(tlsSrv.URL, "https://127.0.0.1:"))
	trusted := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig

	c := NewClient(loopbackOnly(t, New(AllowLoopback())), WithRedirects(5), WithTLSConfig(trusted))
	resp, err := c.Get(tlsSrv.URL)
	if resp != nil {
		resp.Body.Close()
	}
	var re *RedirectError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "redirect from https to http", re.Reason)
	assert.Equal(t, http.StatusMovedPermanently, re.StatusCode)
	assert.Zero(t, plainHits.Load())

	// The same for a wrapped client with its own permissive policy.
	wrapped, err := Wrap(tlsSrv.Client(), loopbackOnly(t, New(AllowLoopback())))
	require.NoError(t, err)
	resp, err = wrapped.Get(tlsSrv.URL)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "redirect from https to http", re.Reason)
	assert.Zero(t, plainHits.Load())
}

func TestClientVerifiesTLS(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	c := NewClient(loopbackOnly(t, New(AllowLoopback())))
	resp, err := c.Get(tlsSrv.URL)
	if resp != nil {
		resp.Body.Close()
	}
	var certErr *tls.CertificateVerificationError
	assert.ErrorAs(t, err, &certErr, "the self-signed test certificate must be refused")
}

// Misbehaving receivers end as clean errors within the configured timeouts.
func TestClientMisbehavingServers(t *testing.T) {
	const limit = 200 * time.Millisecond
	// hang blocks until the client goes away or the subtest ends.
	hang := func(done <-chan struct{}, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
	tests := []struct {
		name    string
		handler func(done <-chan struct{}, w http.ResponseWriter, r *http.Request)
		opts    []ClientOption
		timeout bool
	}{
		{name: "sleeps before headers", handler: hang, opts: []ClientOption{WithResponseHeaderTimeout(limit)}, timeout: true},
		{name: "sleeps, whole-request timeout", handler: hang, opts: []ClientOption{WithTimeout(limit)}, timeout: true},
		{name: "sleeps mid-body", handler: func(done <-chan struct{}, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			hang(done, w, r)
		}, opts: []ClientOption{WithTimeout(limit)}, timeout: true},
		{name: "resets the connection", handler: func(_ <-chan struct{}, w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
			conn.Close()
		}},
		{name: "closes without answering", handler: func(_ <-chan struct{}, w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { tt.handler(done, w, r) })
			t.Cleanup(func() { close(done) }) // runs before ts.Close
			c := NewClient(loopbackOnly(t, New(AllowLoopback())), tt.opts...)
			req, err := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(`{"event":"x"}`))
			require.NoError(t, err)

			start := time.Now()
			resp, err := c.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			elapsed := time.Since(start)

			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrBlocked)
			assert.Less(t, elapsed, 5*time.Second)
			if tt.timeout {
				var ne net.Error
				require.ErrorAs(t, err, &ne)
				assert.True(t, ne.Timeout(), "want a timeout, got %v", err)
				assert.GreaterOrEqual(t, elapsed, limit)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	t.Run("keeps the client's settings", func(t *testing.T) {
		own := &http.Client{Timeout: 7 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 42}}
		c, err := Wrap(own, New())
		require.NoError(t, err)
		assert.Equal(t, 7*time.Second, c.Timeout)
		tr, ok := c.Transport.(*http.Transport)
		require.True(t, ok)
		assert.Equal(t, 42, tr.MaxIdleConnsPerHost)
		assert.NotSame(t, own.Transport, tr, "the transport is cloned, not modified")
		assert.Nil(t, own.Transport.(*http.Transport).DialContext)
	})
	t.Run("nil client", func(t *testing.T) {
		c, err := Wrap(nil, nil)
		require.NoError(t, err)
		assert.NotNil(t, c.Transport)
	})
	t.Run("foreign transport", func(t *testing.T) {
		_, err := Wrap(&http.Client{Transport: roundTripFunc(nil)}, New())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "roundTripFunc")
	})
}

// Transport options reach the transport of both constructors; client
// options are for NewClient only and cannot be passed to NewTransport.
func TestOptions(t *testing.T) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: "hooks.example.com"}
	transportOpts := []TransportOption{
		WithTLSHandshakeTimeout(time.Second),
		WithResponseHeaderTimeout(2 * time.Second),
		WithMaxIdleConnsPerHost(3),
		WithTLSConfig(tlsConfig),
	}
	clientOpts := []ClientOption{WithTimeout(4 * time.Second), WithRedirects(1)}
	for _, o := range transportOpts {
		clientOpts = append(clientOpts, o)
	}
	c := NewClient(nil, clientOpts...)
	assert.Equal(t, 4*time.Second, c.Timeout)
	for name, tr := range map[string]*http.Transport{
		"NewClient":    c.Transport.(*http.Transport),
		"NewTransport": NewTransport(nil, transportOpts...),
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, time.Second, tr.TLSHandshakeTimeout)
			assert.Equal(t, 2*time.Second, tr.ResponseHeaderTimeout)
			assert.Equal(t, 3, tr.MaxIdleConnsPerHost)
			assert.Equal(t, 100, tr.MaxIdleConns)
			assert.NotSame(t, tlsConfig, tr.TLSClientConfig, "cloned")
			assert.Equal(t, "hooks.example.com", tr.TLSClientConfig.ServerName)
		})
	}
	for _, o := range clientOpts[:2] {
		_, ok := o.(TransportOption)
		assert.False(t, ok, "%T must not be accepted by NewTransport", o)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRedirectErrorMessages(t *testing.T) {
	err := fmt.Errorf("attempt 1: %w", &RedirectError{
		StatusCode: 302, To: "http://127.0.0.2:8080", Reason: "target blocked",
		Err: &BlockedError{Host: "127.0.0.2", IP: netip.MustParseAddr("127.0.0.2"), Reason: "loopback"},
	})
	assert.ErrorIs(t, err, ErrRedirect)
	assert.ErrorIs(t, err, ErrBlocked)
	assert.Equal(t, "attempt 1: netguard: redirect (302) to http://127.0.0.2:8080 refused: target blocked: "+
		"netguard: blocked address 127.0.0.2: loopback", err.Error())
}

func TestRedirectToUnicodeLoopbackName(t *testing.T) {
	// A redirect to a fullwidth spelling of localhost is refused at the hop,
	// as the ASCII spelling is, not only later at dial time.
	for _, target := range []string{"http://ｌｏｃａｌｈｏｓｔ:8080/x", "http://１２７.０.０.１/x"} {
		t.Run(target, func(t *testing.T) {
			first, err := http.NewRequest(http.MethodPost, "http://hooks.example.com/", nil)
			require.NoError(t, err)
			next, err := http.NewRequest(http.MethodPost, target, nil)
			require.NoError(t, err)
			err = RedirectPolicy(New(), 5)(next, []*http.Request{first})
			assert.ErrorIs(t, err, ErrRedirect)
			assert.ErrorIs(t, err, ErrBlocked)
		})
	}
}
