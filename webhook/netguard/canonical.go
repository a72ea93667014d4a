package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// CanonicalAddr returns the "host:port" that net/http connects to for the
// http or https URL rawURL, spelled one way for every way of writing it, so
// that it can key per-endpoint state (limits, health) that no other spelling
// of the same endpoint escapes.
//
// The host is converted as net/http converts it before dialing (IDNA 2008
// lookup with UTS #46 mapping: fullwidth letters and digits, the ideographic
// full stop U+3002 and other Unicode spellings map to ASCII, internationalized
// names to punycode), then lower-cased, without a trailing dot; an IP literal
// is written in its canonical form (IPv6 compressed, in brackets, its zone
// kept; an IPv4-mapped IPv6 address as the IPv4 address it maps). The port is
// the URL's, or the scheme's default (80, 443), in decimal without leading
// zeros. So "https://EXAMPLE.com.:0443/x", "https://ｅｘａｍｐｌｅ。com/" and
// "https://example.com/" all give "example.com:443", and
// "http://[::FFFF:127.0.0.1]/" gives "127.0.0.1:80".
//
// An IPv4 address in a non-canonical spelling such as 0x7f.1 is a name to
// net/http and stays as written (CheckURL refuses those). User information,
// path, query and fragment are ignored and never appear in the result or an
// error. CanonicalAddr neither resolves nor connects.
//
// The error is a *URLError matching ErrInvalidURL (malformed URL, no host, a
// port above 65535, a host net/http cannot convert to ASCII, an empty label
// as in "a..b" or ".") or ErrScheme.
func CanonicalAddr(rawURL string) (string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return "", err
	}
	return canonicalAddr(u)
}

// parseURL parses raw and checks its scheme; errors are *URLError.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The *url.Error would repeat the whole URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &URLError{Reason: "malformed: " + err.Error(), Err: ErrInvalidURL}
	}
	host := u.Hostname()
	switch u.Scheme {
	case "http", "https":
		return u, nil
	case "":
		return nil, &URLError{Host: host, Reason: "no scheme, want http or https", Err: ErrScheme}
	default:
		return nil, &URLError{Host: host, Reason: "scheme \"" + u.Scheme + "\", want http or https", Err: ErrScheme}
	}
}

// urlPort returns u's port, or its scheme's default, as a number.
func urlPort(u *url.URL) (uint16, error) {
	p := u.Port()
	if p == "" {
		if u.Scheme == "https" {
			return 443, nil
		}
		return 80, nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, &URLError{Host: u.Hostname(), Reason: "invalid port " + strconv.Quote(p), Err: ErrInvalidURL}
	}
	return uint16(n), nil
}

// dialHost returns the host name net/http dials for host, a URL's
// Hostname(), or an error when net/http cannot convert it to ASCII.
func dialHost(host string) (string, error) {
	h, ok := httpASCII(host)
	if !ok {
		return "", &URLError{Host: host, Reason: "host is not a valid internationalized domain name", Err: ErrInvalidURL}
	}
	return h, nil
}

func canonicalAddr(u *url.URL) (string, error) {
	host := u.Hostname()
	if host == "" {
		return "", &URLError{Reason: "no host", Err: ErrInvalidURL}
	}
	port, err := urlPort(u)
	if err != nil {
		return "", err
	}
	h, err := dialHost(host)
	if err != nil {
		return "", err
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Is4In6() {
			ip = ip.Unmap()
		}
		h = ip.String()
	} else if h == "" || h[0] == '.' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return "", &URLError{Host: host, Reason: "empty label in host name", Err: ErrInvalidURL}
	}
	return net.JoinHostPort(h, strconv.FormatUint(uint64(port), 10)), nil
}

// httpASCII converts a host name (without port or brackets) as net/http does
// before it dials: ASCII names and IP literals as they are, others through
// IDNA lookup. It reports false when the result is not ASCII, because
// net/http then dials the name unconverted and no resolver finds it.
func httpASCII(host string) (string, bool) {
	if isASCII(host) {
		return host, true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, true // a zone with non-ASCII letters: no conversion
	}
	idnaCache.mu.Lock()
	r, hit := idnaCache.m[host]
	idnaCache.mu.Unlock()
	if hit {
		return r, r != ""
	}
	r = dialedHost(host)
	if !isASCII(r) {
		r = ""
	}
	idnaCache.mu.Lock()
	if len(idnaCache.m) >= idnaCacheSize {
		for k := range idnaCache.m { // drop one entry, any
			delete(idnaCache.m, k)
			break
		}
	}
	idnaCache.m[host] = r
	idnaCache.mu.Unlock()
	return r, r != ""
}

// idnaCacheSize bounds the conversions of non-ASCII names kept.
const idnaCacheSize = 256

var idnaCache = struct {
	mu sync.Mutex
	m  map[string]string // "" for a name that does not convert
}{m: map[string]string{}}

var errAddrCaptured = errors.New("netguard: dial address captured")

// dialedHost asks net/http which host it would dial for host. The standard
// library's IDNA conversion is internal to net/http, and the core module
// takes no dependency on golang.org/x/net/idna, so it runs a request through
// a throwaway transport whose dialer only records the address it is given
// and fails: no name is resolved, no connection is made, there is no proxy.
// It returns "" if no address was captured.
func dialedHost(host string) string {
	if strings.ContainsAny(host, ":[]") {
		return "" // not a name; net/http would not convert it either
	}
	captured := make(chan string, 1)
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			select {
			case captured <- addr:
			default:
			}
			return nil, errAddrCaptured
		},
	}
	defer t.CloseIdleConnections()
	req := (&http.Request{
		Method: http.MethodGet,
		URL:    &url.URL{Scheme: "http", Host: host, Path: "/"},
		Header: make(http.Header),
	}).WithContext(context.Background())
	resp, err := t.RoundTrip(req)
	if err == nil { // cannot happen: the dialer always fails
		resp.Body.Close()
		return ""
	}
	select {
	case addr := <-captured:
		h, _, err := net.SplitHostPort(addr)
		if err != nil {
			return ""
		}
		return h
	default:
		return ""
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
