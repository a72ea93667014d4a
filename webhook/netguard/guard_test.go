package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loopbackOnly makes g refuse, and the test fail, any connection to an
// address that is not loopback, so a broken guard can never reach out.
func loopbackOnly(t *testing.T, g *Guard) *Guard {
	t.Helper()
	g.beforeDial = func(ap netip.AddrPort) error {
		if !ap.Addr().Unmap().IsLoopback() {
			t.Errorf("test tried to dial non-loopback address %s", ap)
			return fmt.Errorf("test safety: refusing to dial %s", ap)
		}
		return nil
	}
	return g
}

// fakeResolver answers from a map and never touches DNS.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		if (network == "ip4" && !a.Unmap().Is4()) || (network == "ip6" && a.Unmap().Is4()) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func requireBlocked(t *testing.T, err error) *BlockedError {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrBlocked)
	var be *BlockedError
	require.ErrorAs(t, err, &be)
	return be
}

func TestCheckIPBlocksSpecialRanges(t *testing.T) {
	tests := []struct {
		ip     string
		reason string
	}{
		{"0.0.0.0", "unspecified address"},
		{"0.1.2.3", `"this network"`},
		{"10.0.0.1", "private network"},
		{"10.255.255.255", "private network"},
		{"100.64.0.1", "CGNAT"},
		{"100.127.255.254", "CGNAT"},
		{"100.100.100.200", "cloud metadata"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.0.1", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"169.254.170.2", "cloud metadata"},
		{"172.16.0.1", "private network"},
		{"172.31.255.255", "private network"},
		{"192.0.0.8", "IETF protocol assignments"},
		{"192.0.2.1", "TEST-NET-1"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.1.1", "private network"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "TEST-NET-2"},
		{"203.0.113.9", "TEST-NET-3"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},

		{"::", "unspecified address"},
		{"::1", "loopback"},
		{"fc00::1", "unique local"},
		{"fd12:3456::1", "unique local"},
		{"fd00:ec2::254", "cloud metadata"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"100::1", "discard-only"},
		{"2001::1", "Teredo"},
		{"2001:2::1", "IETF protocol assignments"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"64:ff9b:1::1", "local-use NAT64"},
		{"::7f00:1", "not global unicast"},        // deprecated IPv4-compatible form
		{"5f00::1", "not global unicast"},         // SRv6 SIDs
		{"::ffff:0:7f00:1", "not global unicast"}, // SIIT IPv4-translated

		// IPv4-mapped IPv6 is checked as the IPv4 address.
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.1.2.3", "private network"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::ffff:0.0.0.0", "unspecified address"},

		// NAT64 and 6to4 decide by the IPv4 address they embed.
		{"64:ff9b::7f00:1", "NAT64 address embedding 127.0.0.1: loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 address embedding 169.254.169.254: cloud metadata"},
		{"2002:c0a8:0101::1", "6to4 address embedding 192.168.1.1: private network"},
		{"2002:7f00:1::", "6to4 address embedding 127.0.0.1: loopback"},
	}
	g := New()
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip, err := netip.ParseAddr(tt.ip)
			require.NoError(t, err)
			be := requireBlocked(t, g.CheckIP(ip))
			assert.Equal(t, ip, be.IP)
			assert.Contains(t, be.Reason, tt.reason)
			assert.Contains(t, be.Error(), ip.String())

			// The zero Guard and a nil *Guard are the default guard too.
			assert.ErrorIs(t, (&Guard{}).CheckIP(ip), ErrBlocked)
			assert.ErrorIs(t, (*Guard)(nil).CheckIP(ip), ErrBlocked)
		})
	}
}

func TestCheckIPAllowsPublic(t *testing.T) {
	for _, s := range []string{
		"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1",
		"172.15.255.255", "172.32.0.1", "192.0.1.1", "198.17.255.255", "223.255.255.255",
		"2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2001:200::1",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	} {
		t.Run(s, func(t *testing.T) {
			assert.NoError(t, New().CheckIP(netip.MustParseAddr(s)))
		})
	}
}

func TestCheckIPOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		ip      string
		blocked bool
	}{
		{"loopback opt-out", []Option{AllowLoopback()}, "127.0.0.1", false},
		{"loopback opt-out v6", []Option{AllowLoopback()}, "::1", false},
		{"loopback opt-out mapped", []Option{AllowLoopback()}, "::ffff:127.0.0.1", false},
		{"loopback opt-out keeps private blocked", []Option{AllowLoopback()}, "10.0.0.1", true},
		{"loopback opt-out keeps unspecified blocked", []Option{AllowLoopback()}, "0.0.0.0", true},
		{"private opt-out", []Option{AllowPrivate()}, "192.168.0.10", false},
		{"private opt-out ula", []Option{AllowPrivate()}, "fd00::1", false},
		{"private opt-out keeps loopback blocked", []Option{AllowPrivate()}, "127.0.0.1", true},
		{"private opt-out keeps metadata blocked", []Option{AllowPrivate(), AllowLoopback()}, "169.254.169.254", true},
		{"private opt-out keeps v6 metadata blocked", []Option{AllowPrivate()}, "fd00:ec2::254", true},
		{"private opt-out keeps CGNAT blocked", []Option{AllowPrivate()}, "100.64.1.1", true},
		{"private opt-out applies through NAT64", []Option{AllowPrivate()}, "64:ff9b::a00:1", false},
		{"allow prefix lifts default block", []Option{AllowPrefixes(netip.MustParsePrefix("100.64.0.0/10"))}, "100.64.1.1", false},
		{"allow prefix is narrow", []Option{AllowPrefixes(netip.MustParsePrefix("10.1.0.0/16"))}, "10.2.0.1", true},
		{"allow mapped prefix matches v4", []Option{AllowPrefixes(netip.MustParsePrefix("::ffff:10.1.0.0/112"))}, "10.1.2.3", false},
		{"allow prefix can open metadata", []Option{AllowPrefixes(netip.MustParsePrefix("169.254.169.254/32"))}, "169.254.169.254", false},
		{"deny prefix blocks public", []Option{DenyPrefixes(netip.MustParsePrefix("8.8.8.0/24"))}, "8.8.8.8", true},
		{"deny prefix blocks mapped form", []Option{DenyPrefixes(netip.MustParsePrefix("8.8.8.0/24"))}, "::ffff:8.8.8.8", true},
		{"deny prefix blocks through NAT64", []Option{DenyPrefixes(netip.MustParsePrefix("8.8.8.0/24"))}, "64:ff9b::808:808", true},
		{"deny wins over allow", []Option{
			AllowPrefixes(netip.MustParsePrefix("10.0.0.0/8")),
			DenyPrefixes(netip.MustParsePrefix("10.0.0.5/32")),
		}, "10.0.0.5", true},
		{"deny wins over opt-out", []Option{AllowPrivate(), DenyPrefixes(netip.MustParsePrefix("10.0.0.0/8"))}, "10.0.0.5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.opts...).CheckIP(netip.MustParseAddr(tt.ip))
			if tt.blocked {
				requireBlocked(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	t.Run("invalid address", func(t *testing.T) {
		be := requireBlocked(t, New().CheckIP(netip.Addr{}))
		assert.Equal(t, "invalid address", be.Reason)
	})
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		host    string
		blocked string // substring of the reason, "" when allowed
	}{
		{"public name", nil, "hooks.example.com", ""},
		{"localhost", nil, "localhost", "loopback name"},
		{"localhost trailing dot and case", nil, "LocalHost.", "loopback name"},
		{"localhost subdomain", nil, "app.localhost", "loopback name"},
		{"localhost allowed", []Option{AllowLoopback()}, "localhost", ""},
		{"literal loopback", nil, "127.0.0.1", "loopback"},
		{"literal v6 in brackets", nil, "[::1]", "loopback"},
		{"literal mapped", nil, "::ffff:169.254.169.254", "cloud metadata"},
		{"literal public", nil, "8.8.8.8", ""},
		{"decimal spelling", nil, "2130706433", "loopback (non-canonical IPv4 spelling)"},
		{"octal spelling", nil, "0177.0.0.1", "loopback (non-canonical"},
		{"hex spelling", nil, "0x7f.1", "loopback (non-canonical"},
		{"hex metadata", nil, "0xa9fea9fe", "cloud metadata"},
		{"short spelling", nil, "10.1", "private network"},
		{"public non-canonical passes", nil, "134744072", ""}, // 8.8.8.8
		{"empty", nil, "", "empty host"},
		{"deny host", []Option{DenyHosts("evil.example")}, "EVIL.example.", "deny list"},
		{"deny wildcard", []Option{DenyHosts("*.evil.example")}, "a.b.evil.example", "deny list"},
		{"deny wildcard excludes apex", []Option{DenyHosts("*.evil.example")}, "evil.example", ""},
		{"deny wildcard needs a dot", []Option{DenyHosts("*.evil.example")}, "notevil.example", ""},
		{"deny wins over allow", []Option{AllowHosts("x.example"), DenyHosts("x.example")}, "x.example", "deny list"},
		{"allowed literal", []Option{AllowHosts("10.0.0.7")}, "10.0.0.7", ""},
		{"allowed literal still deny-listed by prefix", []Option{
			AllowHosts("10.0.0.7"), DenyPrefixes(netip.MustParsePrefix("10.0.0.0/24")),
		}, "10.0.0.7", "deny list"},
		{"allowed localhost", []Option{AllowHosts("localhost")}, "localhost", ""},

		// Non-ASCII names are checked as net/http dials them.
		{"fullwidth localhost", nil, "ｌｏｃａｌｈｏｓｔ", "loopback name"},
		{"fullwidth upper-case localhost", nil, "ＬＯＣＡＬＨＯＳＴ", "loopback name"},
		{"fullwidth loopback", nil, "１２７.０.０.１", "loopback"},
		{"ideographic full stops", nil, "１６９。２５４。１６９。２５４", "cloud metadata"},
		{"fullwidth hex spelling", nil, "０ｘ７ｆ.１", "loopback (non-canonical"},
		{"fullwidth public name", nil, "ｈｏｏｋｓ.example.com", ""},
		{"deny fullwidth spelling", []Option{DenyHosts("evil.example")}, "ｅｖｉｌ.example", "deny list"},
		{"deny pattern in Unicode", []Option{DenyHosts("*.bücher.example")}, "a.xn--bcher-kva.example", "deny list"},
		{"deny pattern in punycode", []Option{DenyHosts("bücher.example")}, "BÜCHER.example", "deny list"},
		{"allowed fullwidth localhost", []Option{AllowHosts("localhost")}, "ｌｏｃａｌｈｏｓｔ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.opts...).CheckHost(tt.host)
			if tt.blocked == "" {
				assert.NoError(t, err)
				return
			}
			be := requireBlocked(t, err)
			assert.Equal(t, tt.host, be.Host)
			assert.Contains(t, be.Reason, tt.blocked)
		})
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		address string
		blocked string
	}{
		{"loopback", nil, "127.0.0.1:80", "loopback"},
		{"metadata", nil, "169.254.169.254:80", "cloud metadata"},
		{"mapped", nil, "[::ffff:127.0.0.1]:443", "loopback"},
		{"v6 link-local with zone", nil, "[fe80::1%eth0]:443", "link-local"},
		{"public", nil, "93.184.216.34:443", ""},
		{"port allowed", []Option{AllowPorts(443)}, "93.184.216.34:443", ""},
		{"port refused", []Option{AllowPorts(443)}, "93.184.216.34:22", "port 22 not allowed"},
		{"allow list", []Option{AllowPrefixes(netip.MustParsePrefix("127.0.0.0/8"))}, "127.0.0.1:80", ""},
		{"unix socket", nil, "/run/docker.sock", "unparsable socket address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A nil RawConn: the guard decides on the address alone.
			err := New(tt.opts...).Control("tcp4", tt.address, nil)
			if tt.blocked == "" {
				assert.NoError(t, err)
				return
			}
			be := requireBlocked(t, err)
			assert.Contains(t, be.Reason, tt.blocked)
		})
	}
}

// A hostname that resolves to a blocked address is refused before any
// connection; the resolver is a fake, so no DNS and no dial happen.
func TestDialContextResolvesThenChecks(t *testing.T) {
	errDialed := errors.New("dial intercepted")
	res := fakeResolver{
		"metadata.evil.test": {netip.MustParseAddr("169.254.169.254")},
		"rebind.evil.test":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.1")},
		"mapped.evil.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
		"nat64.evil.test":    {netip.MustParseAddr("64:ff9b::a9fe:a9fe")},
		"public.test":        {netip.MustParseAddr("93.184.216.34")},
		"intranet.corp":      {netip.MustParseAddr("10.1.2.3")},
		"empty.test":         {},
	}
	tests := []struct {
		name     string
		opts     []Option
		address  string
		blocked  string         // reason substring when refused
		blockIP  string         // refused address
		dialed   netip.AddrPort // address the guard went on to dial, when allowed
		otherErr bool
	}{
		{name: "metadata", address: "metadata.evil.test:80", blocked: "cloud metadata", blockIP: "169.254.169.254"},
		{name: "mixed answer", address: "rebind.evil.test:443", blocked: "private network", blockIP: "10.0.0.1"},
		{name: "mapped answer", address: "mapped.evil.test:443", blocked: "loopback", blockIP: "::ffff:127.0.0.1"},
		{name: "nat64 answer", address: "nat64.evil.test:443", blocked: "NAT64", blockIP: "64:ff9b::a9fe:a9fe"},
		{name: "deny host", opts: []Option{DenyHosts("public.test")}, address: "public.test:443", blocked: "deny list"},
		{name: "port", opts: []Option{AllowPorts(443)}, address: "public.test:8080", blocked: "port 8080"},
		{name: "literal", address: "127.0.0.1:80", blocked: "loopback", blockIP: "127.0.0.1"},
		{name: "decimal literal", address: "2130706433:80", blocked: "loopback", blockIP: "127.0.0.1"},
		{name: "intranet refused", address: "intranet.corp:443", blocked: "private network", blockIP: "10.1.2.3"},
		{name: "allowed host trusts its DNS", opts: []Option{AllowHosts("intranet.corp")}, address: "intranet.corp:443",
			dialed: netip.MustParseAddrPort("10.1.2.3:443")},
		{name: "allowed host still deny-listed by prefix", opts: []Option{
			AllowHosts("intranet.corp"), DenyPrefixes(netip.MustParsePrefix("10.1.0.0/16")),
		}, address: "intranet.corp:443", blocked: "deny list", blockIP: "10.1.2.3"},
		{name: "public", address: "public.test:443", dialed: netip.MustParseAddrPort("93.184.216.34:443")},
		{name: "unknown host", address: "nx.test:443", otherErr: true},
		{name: "no addresses", address: "empty.test:443", otherErr: true},
		{name: "bad address", address: "public.test", otherErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(append(tt.opts, WithResolver(res))...)
			var dialed []netip.AddrPort
			g.beforeDial = func(ap netip.AddrPort) error {
				dialed = append(dialed, ap)
				return errDialed // never connect from this test
			}
			conn, err := g.DialContext(context.Background(), "tcp", tt.address)
			require.Error(t, err)
			assert.Nil(t, conn)
			switch {
			case tt.blocked != "":
				be := requireBlocked(t, err)
				var oe *net.OpError
				assert.ErrorAs(t, err, &oe, "blocked dials are *net.OpError like any dial error")
				assert.Contains(t, be.Reason, tt.blocked)
				if tt.blockIP != "" {
					assert.Equal(t, netip.MustParseAddr(tt.blockIP), be.IP)
				}
				assert.Empty(t, dialed)
			case tt.dialed.IsValid():
				assert.ErrorIs(t, err, errDialed)
				assert.Equal(t, []netip.AddrPort{tt.dialed}, dialed)
			case tt.otherErr:
				assert.NotErrorIs(t, err, ErrBlocked)
				assert.Empty(t, dialed)
			}
		})
	}
}

func TestDialContextFamilies(t *testing.T) {
	res := fakeResolver{"dual.test": {netip.MustParseAddr("2606:4700::1"), netip.MustParseAddr("::ffff:93.184.216.34")}}
	for network, want := range map[string][]netip.AddrPort{
		"tcp":  {netip.MustParseAddrPort("[2606:4700::1]:443"), netip.MustParseAddrPort("93.184.216.34:443")},
		"tcp4": {netip.MustParseAddrPort("93.184.216.34:443")},
		"tcp6": {netip.MustParseAddrPort("[2606:4700::1]:443")},
	} {
		t.Run(network, func(t *testing.T) {
			g := New(WithResolver(res))
			var dialed []netip.AddrPort
			g.beforeDial = func(ap netip.AddrPort) error {
				dialed = append(dialed, ap)
				return errors.New("dial intercepted")
			}
			_, err := g.DialContext(context.Background(), network, "dual.test:443")
			require.Error(t, err)
			assert.Equal(t, want, dialed, "addresses are tried in resolver order, IPv4-mapped ones unmapped")
		})
	}
}

// The real dial path on loopback: the address passes DialContext's check and
// Control's check, and the connection is made.
func TestDialContextConnectsLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	g := loopbackOnly(t, New(AllowLoopback(), WithResolver(fakeResolver{"app.test": {netip.MustParseAddr("127.0.0.1")}})))
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	conn, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort("app.test", port))
	require.NoError(t, err)
	assert.NoError(t, conn.Close())

	// Control alone, in a plain net.Dialer, refuses the same loopback
	// address for a default guard, wrapped in a *net.OpError.
	d := net.Dialer{Control: New().Control}
	_, err = d.DialContext(context.Background(), "tcp", ln.Addr().String())
	be := requireBlocked(t, err)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
	assert.Equal(t, "loopback", be.Reason)
}

func TestParseInetAton(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when not an address
	}{
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0x7F000001", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"127.000.000.001", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0xa9.0376.43518", "169.254.169.254"},
		{"1.2.3.4", "1.2.3.4"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.1.1.1", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"08.1.1.1", ""}, // 8 is not an octal digit
		{"0x", ""},
		{"1.2.3.4.5", ""},
		{"1..2", ""},
		{"", ""},
		{"+1.2.3.4", ""},
		{"example.com", ""},
		{"1e3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseInetAton(tt.in)
			if tt.want == "" {
				assert.False(t, ok, "parsed as %s", got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, netip.MustParseAddr(tt.want), got)
		})
	}
}

// The zero Guard and a nil *Guard are documented to behave as New(): every
// entry point refuses what the default guard refuses and accepts the rest.
// Nothing here dials anything but a loopback test server, which is refused.
func TestZeroAndNilGuard(t *testing.T) {
	ts, hits := countingServer(t, nil)
	guards := []struct {
		name string
		g    *Guard
	}{
		{"New()", New()},
		{"zero", &Guard{}},
		{"nil", nil},
	}
	for _, tt := range guards {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			requireBlocked(t, g.CheckIP(netip.MustParseAddr("127.0.0.1")))
			requireBlocked(t, g.CheckIP(netip.MustParseAddr("169.254.169.254")))
			assert.NoError(t, g.CheckIP(netip.MustParseAddr("93.184.216.34")))

			requireBlocked(t, g.CheckHost("localhost"))
			requireBlocked(t, g.CheckHost("10.0.0.1"))
			assert.NoError(t, g.CheckHost("hooks.example.com"))

			assert.ErrorIs(t, g.CheckURL("http://127.0.0.1/hook"), ErrBlocked)
			assert.ErrorIs(t, g.CheckURL("http://0x7f.1/"), ErrNonCanonicalIP)
			assert.NoError(t, g.CheckURL("https://hooks.example.com/hook"))

			requireBlocked(t, g.Control("tcp4", "192.168.1.1:443", nil))
			assert.NoError(t, g.Control("tcp4", "93.184.216.34:443", nil))

			// Refused before resolution or dialing: no DNS, no connection.
			for _, addr := range []string{"127.0.0.1:80", "localhost:80", "[::1]:443"} {
				conn, err := g.DialContext(context.Background(), "tcp", addr)
				require.Nil(t, conn)
				var oe *net.OpError
				assert.ErrorAs(t, err, &oe, addr)
				requireBlocked(t, err)
			}

			redirect := RedirectPolicy(g, 5)
			from, err := http.NewRequest(http.MethodPost, "https://hooks.example.com/", nil)
			require.NoError(t, err)
			to, err := http.NewRequest(http.MethodGet, "https://127.0.0.1/admin", nil)
			require.NoError(t, err)
			assert.ErrorIs(t, redirect(to, []*http.Request{from}), ErrBlocked)

			wrapped, err := Wrap(nil, g)
			require.NoError(t, err)
			for _, c := range []*http.Client{NewClient(g), {Transport: NewTransport(g)}, wrapped} {
				resp, err := c.Get(ts.URL)
				if resp != nil {
					resp.Body.Close()
				}
				requireBlocked(t, err)
			}
		})
	}
	assert.Zero(t, hits.Load(), "the loopback server must never be reached")
}
