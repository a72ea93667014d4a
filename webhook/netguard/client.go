package netguard

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"
)

// Defaults of NewClient and NewTransport.
const (
	// DefaultTimeout bounds a whole request; see WithTimeout.
	DefaultTimeout = 30 * time.Second
	// DefaultTLSHandshakeTimeout bounds the TLS handshake.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultResponseHeaderTimeout bounds the wait for response headers.
	DefaultResponseHeaderTimeout = 15 * time.Second
	// DefaultMaxIdleConnsPerHost is the idle connections kept per host.
	DefaultMaxIdleConnsPerHost = 16
)

// defaultMaxIdleConns is net/http's default bound on idle connections
// across all hosts.
const defaultMaxIdleConns = 100

type clientConfig struct {
	timeout               time.Duration
	tlsHandshakeTimeout   time.Duration
	responseHeaderTimeout time.Duration
	maxIdleConnsPerHost   int
	redirects             int
	tlsConfig             *tls.Config
}

// ClientOption configures NewClient. Every TransportOption is a ClientOption
// too; WithTimeout and WithRedirects, which concern the client rather than
// its transport, are ClientOptions only, so NewTransport cannot be given them.
type ClientOption interface {
	applyClient(*clientConfig)
}

// TransportOption configures NewTransport, and the transport of NewClient.
type TransportOption interface {
	ClientOption
	applyTransport(*clientConfig)
}

// clientOption concerns the *http.Client itself.
type clientOption func(*clientConfig)

func (o clientOption) applyClient(c *clientConfig) { o(c) }

// transportOption concerns the transport, whichever constructor builds it.
type transportOption func(*clientConfig)

func (o transportOption) applyClient(c *clientConfig)    { o(c) }
func (o transportOption) applyTransport(c *clientConfig) { o(c) }

// WithTimeout bounds a whole request, from dialing to reading the last byte
// of the response body (http.Client.Timeout). Zero means no limit beyond the
// request's context. Default DefaultTimeout.
func WithTimeout(d time.Duration) ClientOption {
	return clientOption(func(c *clientConfig) { c.timeout = d })
}

// WithTLSHandshakeTimeout bounds the TLS handshake. Default
// DefaultTLSHandshakeTimeout.
func WithTLSHandshakeTimeout(d time.Duration) TransportOption {
	return transportOption(func(c *clientConfig) { c.tlsHandshakeTimeout = d })
}

// WithResponseHeaderTimeout bounds the wait for the response headers once
// the request is written. Default DefaultResponseHeaderTimeout.
func WithResponseHeaderTimeout(d time.Duration) TransportOption {
	return transportOption(func(c *clientConfig) { c.responseHeaderTimeout = d })
}

// WithMaxIdleConnsPerHost sets how many idle connections are kept per host
// for reuse. Default DefaultMaxIdleConnsPerHost, well above net/http's 2,
// because one event often fans out to several endpoints of one host. Size it
// to the deliveries under way at once (webhook's Dispatcher does, from its
// transport's concurrency): a connection that finds the pool full is closed,
// and the next request to that host dials and passes the guard again. The
// pool across all hosts keeps at least this many too.
func WithMaxIdleConnsPerHost(n int) TransportOption {
	return transportOption(func(c *clientConfig) { c.maxIdleConnsPerHost = n })
}

// WithRedirects lets the client follow up to n redirects. Each hop is checked
// by the guard (host before the request, address at dial time) and a hop from
// https to http is refused. Default 0: a redirect fails with a
// *RedirectError.
func WithRedirects(n int) ClientOption {
	return clientOption(func(c *clientConfig) { c.redirects = n })
}

// WithTLSConfig sets the TLS configuration, which is cloned. By default
// certificates are verified and TLS 1.2 is the minimum. Setting
// InsecureSkipVerify here is the caller's decision and should be logged.
func WithTLSConfig(cfg *tls.Config) TransportOption {
	return transportOption(func(c *clientConfig) { c.tlsConfig = cfg })
}

func defaultClientConfig() clientConfig {
	return clientConfig{
		timeout:               DefaultTimeout,
		tlsHandshakeTimeout:   DefaultTLSHandshakeTimeout,
		responseHeaderTimeout: DefaultResponseHeaderTimeout,
		maxIdleConnsPerHost:   DefaultMaxIdleConnsPerHost,
	}
}

// NewClient returns an *http.Client whose connections all pass g (a nil g is
// the default guard), with the timeouts above (dialing is bounded by the
// guard, DefaultDialTimeout), certificates verified, response headers capped
// at 1 MiB, redirects refused unless WithRedirects says otherwise, and no
// proxy.
//
// There is deliberately no proxy, not even from HTTP_PROXY: through a proxy
// the guard would only see the proxy's address and the proxy would reach the
// blocked destination for us.
func NewClient(g *Guard, opts ...ClientOption) *http.Client {
	c := defaultClientConfig()
	for _, o := range opts {
		o.applyClient(&c)
	}
	return &http.Client{
		Transport:     newTransport(g, c),
		Timeout:       c.timeout,
		CheckRedirect: RedirectPolicy(g, c.redirects),
	}
}

// NewTransport returns the guarded *http.Transport NewClient uses, for
// callers that build their own client around it. It has no proxy; see
// NewClient.
func NewTransport(g *Guard, opts ...TransportOption) *http.Transport {
	c := defaultClientConfig()
	for _, o := range opts {
		o.applyTransport(&c)
	}
	return newTransport(g, c)
}

func newTransport(g *Guard, c clientConfig) *http.Transport {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tlsConfig != nil {
		tlsConfig = c.tlsConfig.Clone()
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            g.get().DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    c.tlsHandshakeTimeout,
		ResponseHeaderTimeout:  c.responseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           max(defaultMaxIdleConns, c.maxIdleConnsPerHost),
		MaxIdleConnsPerHost:    c.maxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// RedirectPolicy returns an http.Client CheckRedirect function that follows
// up to maxHops redirects, refusing a hop to a host g refuses, to a scheme other
// than http and https, or from https to http. Refusals are *RedirectError.
// The addresses of each hop are checked at dial time by a guarded transport,
// not by this function.
func RedirectPolicy(g *Guard, maxHops int) func(req *http.Request, via []*http.Request) error {
	hop := hopCheck(g)
	return func(req *http.Request, via []*http.Request) error {
		if err := hop(req, via); err != nil {
			return err
		}
		if len(via) > maxHops {
			reason := "redirects are not followed"
			if maxHops > 0 {
				reason = fmt.Sprintf("stopped after %d redirects", maxHops)
			}
			return redirectError(req, via, reason, nil)
		}
		return nil
	}
}

func hopCheck(g *Guard) func(req *http.Request, via []*http.Request) error {
	g = g.get()
	return func(req *http.Request, via []*http.Request) error {
		switch req.URL.Scheme {
		case "http":
			for _, v := range via {
				if v.URL.Scheme == "https" {
					return redirectError(req, via, "redirect from https to http", nil)
				}
			}
		case "https":
		default:
			return redirectError(req, via, fmt.Sprintf("unsupported scheme %q", req.URL.Scheme), nil)
		}
		if err := g.CheckHost(req.URL.Hostname()); err != nil {
			return redirectError(req, via, "target blocked", err)
		}
		return nil
	}
}

func redirectError(req *http.Request, via []*http.Request, reason string, err error) *RedirectError {
	e := &RedirectError{
		To:     req.URL.Scheme + "://" + req.URL.Host,
		Hops:   len(via) - 1,
		Reason: reason,
		Err:    err,
	}
	if req.Response != nil {
		e.StatusCode = req.Response.StatusCode
	}
	return e
}

// Wrap returns a copy of c whose transport passes every connection through
// g, for applications that bring their own client. c's *http.Transport (or
// http.DefaultTransport when c.Transport is nil) is cloned, its DialContext
// replaced by g's, and its proxy and custom Dial, DialTLS and DialTLSContext
// functions removed, since each would bypass the guard. Timeouts, TLS
// configuration and c's redirect policy are kept; each redirect hop is also
// checked by the guard, and one from https to http is refused. A transport
// that is not an *http.Transport cannot be guarded and is an error.
func Wrap(c *http.Client, g *Guard) (*http.Client, error) {
	if c == nil {
		c = &http.Client{}
	}
	var t *http.Transport
	switch rt := c.Transport.(type) {
	case nil:
		t = WrapTransport(nil, g)
	case *http.Transport:
		t = WrapTransport(rt, g)
	default:
		return nil, fmt.Errorf("netguard: cannot guard transport of type %T; use an *http.Transport", c.Transport)
	}
	wrapped := *c
	wrapped.Transport = t
	hop, user := hopCheck(g), c.CheckRedirect
	wrapped.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := hop(req, via); err != nil {
			return err
		}
		if user != nil {
			return user(req, via)
		}
		if len(via) >= 10 { // net/http's default policy
			return redirectError(req, via, "stopped after 10 redirects", nil)
		}
		return nil
	}
	return &wrapped, nil
}

// WrapTransport returns a clone of t (http.DefaultTransport when t is nil)
// that dials through g, without proxy or custom dial functions; see Wrap.
func WrapTransport(t *http.Transport, g *Guard) *http.Transport {
	if t == nil {
		dt, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return NewTransport(g)
		}
		t = dt
	}
	t = t.Clone()
	t.Proxy = nil
	// The deprecated hooks bypass the guard as DialTLSContext does (DialTLS
	// is used whenever DialTLSContext is nil), so they must go.
	t.Dial = nil    //lint:ignore SA1019 clearing a deprecated hook, not using it
	t.DialTLS = nil //lint:ignore SA1019 clearing a deprecated hook, not using it
	t.DialTLSContext = nil
	t.DialContext = g.get().DialContext
	// A custom DialContext would otherwise switch HTTP/2 off; an explicit
	// opt-out through TLSNextProto still wins.
	t.ForceAttemptHTTP2 = true
	return t
}
