package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonicalAddr(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"https://example.com/", "example.com:443"},
		{"http://example.com/", "example.com:80"},
		{"https://example.com:443/", "example.com:443"},
		{"https://example.com:0443/", "example.com:443"},
		{"https://example.com:000443/", "example.com:443"},
		{"http://example.com:/", "example.com:80"},
		{"https://example.com:8443/path?token=x#f", "example.com:8443"},
		{"HTTPS://EXAMPLE.com./", "example.com:443"},
		{"https://Example.COM.:0443", "example.com:443"},
		{"https://user:pass@example.com/", "example.com:443"},
		{"https://ｅｘａｍｐｌｅ.com/", "example.com:443"},
		{"https://ＥＸＡＭＰＬＥ.ｃｏｍ/", "example.com:443"},
		{"https://ｅｘａｍｐｌｅ。com/", "example.com:443"},
		{"https://ｅｘａｍｐｌｅ｡com｡/", "example.com:443"},
		{"https://%EF%BD%85xample.com/", "example.com:443"},
		{"https://bücher.example/", "xn--bcher-kva.example:443"},
		{"https://BÜCHER.example/", "xn--bcher-kva.example:443"},
		{"https://xn--bcher-kva.example/", "xn--bcher-kva.example:443"},
		{"https://XN--BCHER-KVA.example/", "xn--bcher-kva.example:443"},
		{"http://１２７.０.０.１/", "127.0.0.1:80"},
		{"http://ｌｏｃａｌｈｏｓｔ:０/", ""}, // fullwidth digits in the port do not parse
		{"http://127.0.0.1:8080/", "127.0.0.1:8080"},
		{"http://0x7f.1/", "0x7f.1:80"}, // a name to net/http
		{"http://[::1]/", "[::1]:80"},
		{"https://[2001:DB8:0:0::1]:0443/", "[2001:db8::1]:443"},
		{"http://[::FFFF:127.0.0.1]/", "127.0.0.1:80"},
		{"http://[::ffff:7f00:1]:81/", "127.0.0.1:81"},
		{"http://[fe80::1%25eth0]:8080/", "[fe80::1%eth0]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := CanonicalAddr(tt.url)
			if tt.want == "" {
				assert.ErrorIs(t, err, ErrInvalidURL)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCanonicalAddrErrors(t *testing.T) {
	tests := []struct {
		url    string
		want   error
		reason string
	}{
		{"ftp://example.com/", ErrScheme, `scheme "ftp"`},
		{"example.com/x", ErrScheme, "no scheme"},
		{"https:///x", ErrInvalidURL, "no host"},
		{"https://./", ErrInvalidURL, "empty label"},
		{"https://../", ErrInvalidURL, "empty label"},
		{"https://a..example/", ErrInvalidURL, "empty label"},
		{"https://.example/", ErrInvalidURL, "empty label"},
		{"https://example.。/", ErrInvalidURL, "empty label"},
		{"https://example../", ErrInvalidURL, "empty label"},
		{"http://[::1", ErrInvalidURL, "malformed"},
		{"https://example.com:65536/", ErrInvalidURL, "invalid port"},
		{"https://example.com:99999999999999999999/", ErrInvalidURL, "invalid port"},
		{"http://a\u200db.example/", ErrInvalidURL, "internationalized domain name"},
		{"http://ｅｘａｍｐｌｅ.com：443/", ErrInvalidURL, "internationalized domain name"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := CanonicalAddr(tt.url)
			assert.Empty(t, got)
			assert.ErrorIs(t, err, tt.want)
			var ue *URLError
			require.ErrorAs(t, err, &ue)
			assert.Contains(t, ue.Reason, tt.reason)
		})
	}
	_, err := CanonicalAddr("https://user:s3cret@example.com:99999/s3cret?s3cret")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

var errDialRecorded = errors.New("test: dial recorded")

// netHTTPDials returns the address an http.Transport is asked to dial for
// raw. Its dialer records the address and fails: nothing is resolved or
// connected to.
func netHTTPDials(t *testing.T, raw string) string {
	t.Helper()
	dialed := make(chan string, 1)
	tr := &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		dialed <- addr
		return nil, errDialRecorded
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, raw, strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, errDialRecorded)
	return <-dialed
}

// CanonicalAddr names the endpoint net/http connects to: the address its
// transport dials, up to case, a trailing dot, leading zeros in the port and
// the spelling of IP literals.
func TestCanonicalAddrIsWhatNetHTTPDials(t *testing.T) {
	for _, raw := range []string{
		"https://example.com/", "http://example.com:8080/x", "https://EXAMPLE.com.:0443/", "http://example.com:/",
		"https://ｅｘａｍｐｌｅ.com/", "https://ＥＸＡＭＰＬＥ。ｃｏｍ/", "https://bücher.example/", "https://BÜCHER.example:8443/",
		"https://%EF%BD%85xample.com/", "http://１２７.０.０.１/", "http://ｌｏｃａｌｈｏｓｔ/", "http://０ｘ７ｆ.１/",
		"https://日本語.jp/", "https://пример.рф/", "https://ǅ.example/", "https://ß.example/", "https://ﬀ.example/",
		"http://[::1]:80/", "https://[2001:DB8::1]/", "http://[::ffff:127.0.0.1]:0081/", "http://10.0.0.1:00/",
	} {
		t.Run(raw, func(t *testing.T) {
			got, err := CanonicalAddr(raw)
			require.NoError(t, err)
			host, port, err := net.SplitHostPort(netHTTPDials(t, raw))
			require.NoError(t, err)
			p, err := strconv.ParseUint(port, 10, 16)
			require.NoError(t, err)
			host = strings.ToLower(strings.TrimSuffix(host, "."))
			if ip, err := netip.ParseAddr(host); err == nil {
				host = ip.Unmap().String()
			}
			assert.Equal(t, net.JoinHostPort(host, fmt.Sprint(p)), got)
		})
	}
}

func TestHTTPASCIICacheIsBounded(t *testing.T) {
	for i := range idnaCacheSize + 50 {
		h := fmt.Sprintf("ｈ%d.example", i)
		a, ok := httpASCII(h)
		require.True(t, ok)
		assert.Equal(t, fmt.Sprintf("h%d.example", i), a)
	}
	idnaCache.mu.Lock()
	n := len(idnaCache.m)
	idnaCache.mu.Unlock()
	assert.LessOrEqual(t, n, idnaCacheSize)

	// Cached answers are the answers, failures included.
	for range 2 {
		_, ok := httpASCII("a\u200db.example")
		assert.False(t, ok)
		a, ok := httpASCII("ｌｏｃａｌｈｏｓｔ")
		assert.True(t, ok)
		assert.Equal(t, "localhost", a)
	}
}

// A key is ASCII and its own key: canonicalising it again changes nothing.
func FuzzCanonicalAddr(f *testing.F) {
	for _, s := range []string{
		"https://EXAMPLE.com.:0443/", "https://ｅｘａｍｐｌｅ。com/", "http://bücher.example/", "http://[::FFFF:7f00:1]:81/",
		"http://１２７.０.０.１/", "http://0x7f.1/", "https://a\u200db.example/", "http://%EF%BD%85xample.com/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := CanonicalAddr(raw)
		if err != nil {
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("CanonicalAddr(%q) = %v, not a *URLError", raw, err)
			}
			return
		}
		if strings.Contains(got, "%") {
			return // an IPv6 zone, kept as written
		}
		if !isASCII(got) || got != strings.ToLower(got) {
			t.Fatalf("CanonicalAddr(%q) = %q, not lower-case ASCII", raw, got)
		}
		again, err := CanonicalAddr("http://" + got + "/")
		if err != nil || again != got {
			t.Fatalf("CanonicalAddr(%q) = %q, but its key gives %q, %v", raw, got, again, err)
		}
	})
}
