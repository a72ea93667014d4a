package telemetry

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/outhook/outhook/webhook/netguard"
)

// HTTPClient returns a copy of c whose requests tell the attempt's span and
// the http.client.request.duration metric their method, server.address and
// server.port, as OpenTelemetry's HTTP client conventions ask. The Sender
// does not hand its request to middleware, so this is where they come from:
//
//	webhook.WithHTTPClient(tel.HTTPClient(netguard.NewClient(guard)))
//
// c keeps its guard, redirect policy and timeouts; a nil c is
// netguard.NewClient(nil), the Sender's default. Without it, attempts are
// still traced and measured, without those three attributes. The URL's path
// and query are never recorded: receivers' URLs often carry tokens.
func (t *Telemetry) HTTPClient(c *http.Client) *http.Client {
	if c == nil {
		c = netguard.NewClient(nil)
	}
	cc := *c
	next := cc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = roundTripper{next}
	return &cc
}

// roundTripper notes the first request of each attempt in its request record.
type roundTripper struct{ next http.RoundTripper }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if r, ok := req.Context().Value(requestKey{}).(*request); ok {
		r.set(req)
	}
	return rt.next.RoundTrip(req)
}

// requestKey is the context key of an attempt's *request.
type requestKey struct{}

// request is what HTTPClient saw of an attempt's request: its first hop,
// the record's own URL (redirects, when followed, come after).
type request struct {
	mu     sync.Mutex
	sent   bool
	method string
	host   string
	port   int
}

func (r *request) set(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent {
		return
	}
	r.sent, r.method, r.host = true, req.Method, req.URL.Hostname()
	r.port, _ = strconv.Atoi(req.URL.Port())
	if r.port == 0 {
		switch req.URL.Scheme {
		case "https":
			r.port = 443
		case "http":
			r.port = 80
		}
	}
}

func (r *request) get() (method, host string, port int, sent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.method, r.host, r.port, r.sent
}
