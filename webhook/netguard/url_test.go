package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		url     string
		want    error  // sentinel the error matches; nil for a good URL
		blocked bool   // also matches ErrBlocked
		reason  string // substring of URLError.Reason
	}{
		{name: "https", url: "https://hooks.example.com/in/abc?token=x"},
		{name: "http with port", url: "http://hooks.example.com:8080/in"},
		{name: "public literal", url: "https://93.184.216.34/"},
		{name: "public IPv6 literal", url: "https://[2606:4700::1111]/"},
		{name: "upper-case scheme", url: "HTTPS://hooks.example.com/"},

		{name: "ftp", url: "ftp://hooks.example.com/", want: ErrScheme, reason: `scheme "ftp"`},
		{name: "file", url: "file:///etc/passwd", want: ErrScheme},
		{name: "gopher", url: "gopher://127.0.0.1:6379/_FLUSHALL", want: ErrScheme},
		{name: "no scheme", url: "hooks.example.com/in", want: ErrScheme, reason: "no scheme"},
		{name: "credentials", url: "https://user:pass@hooks.example.com/", want: ErrCredentials},
		{name: "user only", url: "https://token@hooks.example.com/", want: ErrCredentials},
		{name: "no host", url: "https:///path", want: ErrInvalidURL, reason: "no host"},
		{name: "opaque", url: "https:hooks.example.com", want: ErrInvalidURL},
		{name: "malformed", url: "http://[::1", want: ErrInvalidURL, reason: "malformed"},
		{name: "control character", url: "http://exa\x7fmple.com/", want: ErrInvalidURL},
		{name: "port out of range", url: "http://hooks.example.com:70000/", want: ErrInvalidURL, reason: "invalid port"},

		{name: "loopback", url: "http://127.0.0.1:8080/", want: ErrBlocked, blocked: true, reason: "loopback"},
		{name: "localhost", url: "http://localhost:5432/", want: ErrBlocked, blocked: true, reason: "loopback name"},
		{name: "metadata", url: "http://169.254.169.254/latest/meta-data/", want: ErrBlocked, blocked: true, reason: "cloud metadata"},
		{name: "private", url: "https://10.0.0.1/", want: ErrBlocked, blocked: true, reason: "private network"},
		{name: "IPv6 loopback", url: "http://[::1]/", want: ErrBlocked, blocked: true, reason: "loopback"},
		{name: "IPv4-mapped", url: "http://[::ffff:127.0.0.1]/", want: ErrBlocked, blocked: true, reason: "loopback"},
		{name: "IPv4-mapped hex", url: "http://[::ffff:7f00:1]/", want: ErrBlocked, blocked: true, reason: "loopback"},
		{name: "link-local with zone", url: "http://[fe80::1%25eth0]/", want: ErrBlocked, blocked: true, reason: "link-local"},
		{name: "NAT64", url: "http://[64:ff9b::a9fe:a9fe]/", want: ErrBlocked, blocked: true, reason: "NAT64"},
		{name: "unspecified", url: "http://0.0.0.0:8080/", want: ErrBlocked, blocked: true, reason: "unspecified"},

		{name: "decimal", url: "http://2130706433/", want: ErrNonCanonicalIP, blocked: true,
			reason: "non-canonical IPv4 spelling of 127.0.0.1, blocked: loopback"},
		{name: "octal", url: "http://0177.0.0.1/", want: ErrNonCanonicalIP, blocked: true, reason: "of 127.0.0.1"},
		{name: "hex", url: "http://0x7f.1/", want: ErrNonCanonicalIP, blocked: true, reason: "of 127.0.0.1"},
		{name: "leading zeros", url: "http://127.000.000.001/", want: ErrNonCanonicalIP, blocked: true},
		{name: "hex metadata", url: "http://0xA9FEA9FE/", want: ErrNonCanonicalIP, blocked: true, reason: "cloud metadata"},
		{name: "short", url: "http://10.1/", want: ErrNonCanonicalIP, blocked: true, reason: "of 10.0.0.1"},
		{name: "public, still flagged", url: "http://134744072/", want: ErrNonCanonicalIP, reason: "of 8.8.8.8"},

		{name: "loopback allowed", opts: []Option{AllowLoopback()}, url: "http://127.0.0.1:8080/"},
		{name: "deny host", opts: []Option{DenyHosts("*.example.com")}, url: "https://hooks.example.com/",
			want: ErrBlocked, blocked: true, reason: "deny list"},
		{name: "port refused", opts: []Option{AllowPorts(443)}, url: "http://hooks.example.com/",
			want: ErrBlocked, blocked: true, reason: "port 80 not allowed"},
		{name: "port allowed", opts: []Option{AllowPorts(443)}, url: "https://hooks.example.com/"},
		{name: "port with leading zero refused", opts: []Option{AllowPorts(443)}, url: "http://hooks.example.com:0080/",
			want: ErrBlocked, blocked: true, reason: "port 80 not allowed"},

		// Unicode spellings are checked as the client dials them.
		{name: "fullwidth localhost", url: "http://ｌｏｃａｌｈｏｓｔ:8080/", want: ErrBlocked, blocked: true,
			reason: `blocked: loopback name (RFC 6761) (the client dials "localhost")`},
		{name: "fullwidth loopback", url: "http://１２７.０.０.１/", want: ErrBlocked, blocked: true, reason: "loopback"},
		{name: "ideographic full stops", url: "http://１６９。２５４。１６９。２５４/latest/meta-data/", want: ErrBlocked,
			blocked: true, reason: "cloud metadata"},
		{name: "percent-encoded fullwidth", url: "http://%EF%BD%8Cocalhost/", want: ErrBlocked, blocked: true,
			reason: "loopback name"},
		{name: "fullwidth hex", url: "http://０ｘ７ｆ.１/", want: ErrNonCanonicalIP, blocked: true,
			reason: `non-canonical IPv4 spelling of 127.0.0.1 (the client dials "0x7f.1"), blocked: loopback`},
		{name: "fullwidth private", url: "https://１０.０.０.１/", want: ErrBlocked, blocked: true, reason: "private network"},
		{name: "fullwidth deny-listed", opts: []Option{DenyHosts("*.example.com")}, url: "https://ｈｏｏｋｓ.ｅｘａｍｐｌｅ.com/",
			want: ErrBlocked, blocked: true, reason: "deny list"},
		{name: "fullwidth public", url: "https://ｈｏｏｋｓ.ｅｘａｍｐｌｅ.com/"},
		{name: "internationalized", url: "https://bücher.example/"},
		{name: "not convertible", url: "http://a\u200db.example/", want: ErrInvalidURL, reason: "internationalized domain name"},
		{name: "fullwidth colon", url: "http://ｌｏｃａｌｈｏｓｔ：８０/", want: ErrInvalidURL, reason: "internationalized domain name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.opts...).CheckURL(tt.url)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var ue *URLError
			require.ErrorAs(t, err, &ue)
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, tt.blocked, errors.Is(err, ErrBlocked))
			assert.Contains(t, ue.Reason, tt.reason)
		})
	}
}

func TestCheckURLDefaultGuard(t *testing.T) {
	assert.NoError(t, CheckURL("https://hooks.example.com/"))
	assert.ErrorIs(t, CheckURL("http://127.0.0.1/"), ErrBlocked)

	var be *BlockedError
	require.ErrorAs(t, CheckURL("http://[::ffff:169.254.169.254]/"), &be)
	assert.Equal(t, netip.MustParseAddr("::ffff:169.254.169.254"), be.IP)
}

// Errors name the host and the problem, never the credentials, path or query.
func TestCheckURLKeepsSecretsOut(t *testing.T) {
	for _, raw := range []string{
		"https://admin:s3cret-Pa55@hooks.example.com/x",
		"https://s3cret-Pa55@hooks.example.com/x",
		"ftp://hooks.example.com/s3cret-Pa55",
		"http://127.0.0.1/hook?token=s3cret-Pa55",
		"http://0x7f.1/s3cret-Pa55",
		"http://[::1/s3cret-Pa55",
		"http://hooks.example.com:99999/s3cret-Pa55",
		"http://hooks.example.com/s3cret-Pa55\x7f",
	} {
		t.Run(raw, func(t *testing.T) {
			err := CheckURL(raw)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.example.com/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/",
		"http://[::ffff:127.0.0.1]/", "http://[fe80::1%25eth0]/", "https://u:p@h/", "ftp://x/", "http://[::1",
		"http://0xffffffff/", "http://1.2.3.4.5/", "http://.../", "http://%zz/",
	} {
		f.Add(s)
	}
	g := New(AllowPorts(80, 443), DenyHosts("*.evil.test"))
	f.Fuzz(func(t *testing.T, raw string) {
		for _, g := range []*Guard{nil, g} {
			err := g.CheckURL(raw)
			if err == nil {
				continue
			}
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("CheckURL(%q) = %v, not a *URLError", raw, err)
			}
			if strings.Contains(raw, "@") && errors.Is(err, ErrCredentials) && strings.Contains(err.Error(), "@") {
				t.Fatalf("CheckURL(%q) leaks credentials: %v", raw, err)
			}
		}
		_ = g.CheckHost(raw)
		_, _ = parseInetAton(raw)
	})
}
