package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultDialTimeout bounds connecting to a host, all its addresses together,
// unless WithDialTimeout says otherwise.
const DefaultDialTimeout = 5 * time.Second

// Resolver looks up the addresses of a host. *net.Resolver implements it;
// tests inject a fake.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which destinations outgoing requests may reach. The zero
// value, like New(), refuses loopback, private, link-local, CGNAT, multicast
// and the other special-purpose ranges; a nil *Guard behaves the same. A
// Guard is immutable and safe for concurrent use.
//
// Decisions, strongest first: a deny-listed host or prefix is always refused;
// an allow-listed host or prefix is always accepted; then the default blocks
// apply, minus the ranges lifted by AllowLoopback and AllowPrivate; then the
// port, if AllowPorts was given.
type Guard struct {
	allowPrefixes []netip.Prefix
	denyPrefixes  []netip.Prefix
	allowHosts    []string
	denyHosts     []string
	ports         map[uint16]bool
	allowLoopback bool
	allowPrivate  bool
	resolver      Resolver
	dialTimeout   time.Duration

	// beforeDial, when set, sees every address right before it is dialed.
	// Tests use it to make sure nothing but loopback is ever connected to.
	beforeDial func(netip.AddrPort) error
}

// Option configures a Guard.
type Option func(*Guard)

// New returns a Guard with the default blocks, adjusted by opts.
func New(opts ...Option) *Guard {
	g := &Guard{}
	for _, o := range opts {
		o(g)
	}
	return g
}

// AllowLoopback lifts the block on 127.0.0.0/8, ::1 and the name localhost,
// for tests against httptest servers. 0.0.0.0 and :: stay blocked even
// though many systems connect them to the local host.
func AllowLoopback() Option { return func(g *Guard) { g.allowLoopback = true } }

// AllowPrivate lifts the block on private networks: 10.0.0.0/8, 172.16.0.0/12,
// 192.168.0.0/16 and fc00::/7, for intranet deployments. Cloud metadata
// addresses, link-local and CGNAT (100.64.0.0/10) stay blocked; use
// AllowPrefixes for those.
func AllowPrivate() Option { return func(g *Guard) { g.allowPrivate = true } }

// AllowPrefixes accepts addresses in prefixes even when a default block
// covers them. IPv4-mapped IPv6 prefixes (::ffff:0:0/96 and longer) are
// treated as the IPv4 prefixes they map.
func AllowPrefixes(prefixes ...netip.Prefix) Option {
	return func(g *Guard) { g.allowPrefixes = append(g.allowPrefixes, normalizePrefixes(prefixes)...) }
}

// DenyPrefixes refuses addresses in prefixes, whatever else is allowed.
func DenyPrefixes(prefixes ...netip.Prefix) Option {
	return func(g *Guard) { g.denyPrefixes = append(g.denyPrefixes, normalizePrefixes(prefixes)...) }
}

// AllowHosts accepts the named hosts before resolution, and whatever
// addresses they resolve to except deny-listed ones: the guard trusts their
// DNS. A pattern "*.example.com" matches every subdomain of example.com but
// not example.com itself; matching ignores case and a trailing dot, and
// compares internationalized names as net/http dials them (bücher.example
// matches xn--bcher-kva.example). Prefer AllowPrefixes when the addresses are
// known.
//
// Host decisions need the host name, which DialContext and the clients of
// this package have but a bare net.Dialer.Control does not.
func AllowHosts(patterns ...string) Option {
	return func(g *Guard) { g.allowHosts = append(g.allowHosts, normalizePatterns(patterns)...) }
}

// DenyHosts refuses the named hosts before resolution, whatever else is
// allowed. Patterns are as for AllowHosts.
func DenyHosts(patterns ...string) Option {
	return func(g *Guard) { g.denyHosts = append(g.denyHosts, normalizePatterns(patterns)...) }
}

// AllowPorts restricts connections to the given ports, e.g. 443 and 80.
// Without it every port is allowed.
func AllowPorts(ports ...uint16) Option {
	return func(g *Guard) {
		if g.ports == nil {
			g.ports = make(map[uint16]bool, len(ports))
		}
		for _, p := range ports {
			g.ports[p] = true
		}
	}
}

// WithResolver makes DialContext resolve host names with r instead of
// net.DefaultResolver.
func WithResolver(r Resolver) Option { return func(g *Guard) { g.resolver = r } }

// WithDialTimeout bounds DialContext's connecting to a host, all its
// addresses together. Zero or less keeps DefaultDialTimeout.
func WithDialTimeout(d time.Duration) Option { return func(g *Guard) { g.dialTimeout = d } }

var defaultGuard = &Guard{}

func (g *Guard) get() *Guard {
	if g == nil {
		return defaultGuard
	}
	return g
}

// CheckIP reports whether ip may be connected to: nil, or a *BlockedError.
// IPv4-mapped IPv6 addresses are checked as the IPv4 address they map, and
// NAT64 and 6to4 addresses by the IPv4 address they embed. It does not
// consider host lists or ports.
func (g *Guard) CheckIP(ip netip.Addr) error {
	return g.get().checkIP("", ip, false)
}

// CheckHost reports whether host (a name or a literal IP, without port) may
// be connected to, deciding before resolution: nil, or a *BlockedError. A
// name that passes may still resolve to a blocked address, which
// DialContext and Control refuse. Names under localhost are loopback
// (RFC 6761), non-canonical IPv4 spellings such as 0x7f.1 are checked as
// the address they spell, and a non-ASCII name is checked as net/http dials
// it (ｌｏｃａｌｈｏｓｔ as localhost, １２７.０.０.１ as 127.0.0.1).
func (g *Guard) CheckHost(host string) error {
	_, err := g.get().checkHost(host)
	return err
}

// Control checks the address a socket is about to connect to; set it as a
// net.Dialer's Control. It runs after name resolution, on the address
// actually dialed, so DNS rebinding cannot get past it. It knows no host
// name, so AllowHosts and DenyHosts do not apply here.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	return g.get().control(address, false)
}

// DialContext connects like net.Dialer.DialContext, refusing blocked
// destinations with a *net.OpError wrapping a *BlockedError. It checks the
// host, resolves it, refuses it if any address is blocked (a mixed answer is
// a rebinding signal), then dials the checked addresses one after the other
// (in resolver order, without Happy Eyeballs) with Control installed, so the
// address connected to is the address checked. Use it as an
// http.Transport's DialContext.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	g = g.get()
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Err: err} }

	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, opErr(fmt.Errorf("netguard: invalid port %q", portStr))
	}
	if err := g.checkPort(host, netip.Addr{}, uint16(port)); err != nil {
		return nil, opErr(err)
	}
	hostAllowed, err := g.checkHost(host)
	if err != nil {
		return nil, opErr(err)
	}

	timeout := g.dialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		r := g.resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, lookupNetwork(network), host)
		if err != nil {
			return nil, opErr(err)
		}
		if len(addrs) == 0 {
			return nil, opErr(&net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
		}
		for _, ip := range addrs {
			if err := g.checkIP(host, ip, hostAllowed); err != nil {
				return nil, opErr(err)
			}
		}
	}

	var firstErr error
	for i, ip := range addrs {
		attemptCtx, attemptCancel := partialDeadline(ctx, len(addrs)-i)
		conn, err := g.dial(attemptCtx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)), hostAllowed)
		attemptCancel()
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func (g *Guard) dial(ctx context.Context, network string, ap netip.AddrPort, hostAllowed bool) (net.Conn, error) {
	if g.beforeDial != nil {
		if err := g.beforeDial(ap); err != nil {
			return nil, err
		}
	}
	d := net.Dialer{
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			return g.control(address, hostAllowed)
		},
	}
	return d.DialContext(ctx, network, ap.String())
}

// partialDeadline gives one of n remaining addresses its share of the time
// left, at least two seconds when there is that much, as the net package does.
func partialDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	left := time.Until(deadline)
	share := left / time.Duration(n)
	const floor = 2 * time.Second
	if share < floor {
		share = min(floor, left)
	}
	return context.WithTimeout(ctx, share)
}

func lookupNetwork(network string) string {
	switch {
	case strings.HasSuffix(network, "4"):
		return "ip4"
	case strings.HasSuffix(network, "6"):
		return "ip6"
	default:
		return "ip"
	}
}

func (g *Guard) control(address string, hostAllowed bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: fmt.Sprintf("unparsable socket address %q", address)}
	}
	if err := g.checkIP("", ap.Addr(), hostAllowed); err != nil {
		return err
	}
	return g.checkPort("", ap.Addr(), ap.Port())
}

func (g *Guard) checkPort(host string, ip netip.Addr, port uint16) error {
	if g.ports == nil || g.ports[port] {
		return nil
	}
	return &BlockedError{Host: host, IP: ip, Reason: fmt.Sprintf("port %d not allowed", port)}
}

const nonCanonicalSuffix = " (non-canonical IPv4 spelling)"

// checkHost returns whether host is on the allow list, or why it is refused.
func (g *Guard) checkHost(host string) (allowed bool, err error) {
	h := normalizeHost(host)
	if h == "" {
		return false, &BlockedError{Host: host, Reason: "empty host"}
	}
	if matchHost(g.denyHosts, h) {
		return false, &BlockedError{Host: host, Reason: "host on the deny list"}
	}
	allowed = matchHost(g.allowHosts, h)
	if ip, err := netip.ParseAddr(h); err == nil {
		return allowed, g.checkIP(host, ip, allowed)
	}
	if ip, ok := parseInetAton(h); ok {
		if err := g.checkIP(host, ip, allowed); err != nil {
			be := err.(*BlockedError)
			be.Reason += nonCanonicalSuffix
			return false, be
		}
		return allowed, nil
	}
	if !allowed && !g.allowLoopback && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
		return false, &BlockedError{Host: host, Reason: "loopback name (RFC 6761)"}
	}
	return allowed, nil
}

// checkIP decides on one address; host is only for the error.
func (g *Guard) checkIP(host string, ip netip.Addr, hostAllowed bool) error {
	if !ip.IsValid() {
		return &BlockedError{Host: host, IP: ip, Reason: "invalid address"}
	}
	reason := g.decide(ip.Unmap().WithZone(""), hostAllowed)
	if reason == "" {
		return nil
	}
	return &BlockedError{Host: host, IP: ip, Reason: reason}
}

// decide returns why ip is refused, or "".
func (g *Guard) decide(ip netip.Addr, hostAllowed bool) string {
	for _, p := range g.denyPrefixes {
		if p.Contains(ip) {
			return "on the deny list (" + p.String() + ")"
		}
	}
	if hostAllowed {
		return ""
	}
	for _, p := range g.allowPrefixes {
		if p.Contains(ip) {
			return ""
		}
	}
	sp, ok := classify(ip)
	if !ok {
		return ""
	}
	switch sp.kind {
	case kindLoopback:
		if g.allowLoopback {
			return ""
		}
	case kindPrivate:
		if g.allowPrivate {
			return ""
		}
	case kindNAT64, kind6to4:
		v4 := embeddedIPv4(ip, sp.kind)
		if r := g.decide(v4, false); r != "" {
			return fmt.Sprintf("%s address embedding %s: %s", sp.reason, v4, r)
		}
		return ""
	}
	return sp.reason
}

// normalizeHost spells a host name as the guard compares it: as net/http
// dials it (IDNA for non-ASCII names), lower-case, without brackets or a
// trailing dot, IP literals in canonical form.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, ok := httpASCII(h); ok {
		h = a
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String()
	}
	return h
}

func normalizePatterns(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			out = append(out, "*."+normalizeHost(rest))
		} else {
			out = append(out, normalizeHost(p))
		}
	}
	return out
}

func matchHost(patterns []string, h string) bool {
	for _, p := range patterns {
		if suffix, ok := strings.CutPrefix(p, "*"); ok {
			if strings.HasSuffix(h, suffix) && len(h) > len(suffix) {
				return true
			}
		} else if p == h {
			return true
		}
	}
	return false
}

func normalizePrefixes(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}
