package netguard

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// CheckURL validates a webhook URL with the default guard; see
// (*Guard).CheckURL.
func CheckURL(raw string) error {
	return (*Guard)(nil).CheckURL(raw)
}

// CheckURL validates a webhook URL when a record is saved, so that a bad one
// is reported early: nil, or a *URLError naming the first problem. It
// refuses schemes other than http and https, credentials in the URL, a port
// outside AllowPorts, a host the guard refuses (literal blocked IPs, deny-listed
// or localhost names) and IPv4 addresses in non-canonical spellings
// (2130706433, 0177.0.0.1, 0x7f.1), which some resolvers accept. It checks the
// host as net/http will dial it (see CanonicalAddr), so a fullwidth or other
// Unicode spelling such as ｌｏｃａｌｈｏｓｔ or １２７.０.０.１ is refused as the ASCII
// one is, and a host net/http cannot convert to ASCII is invalid.
//
// It does not resolve the host: a name may still resolve to a blocked address,
// and the dial-time check is the one that counts.
func (g *Guard) CheckURL(raw string) error {
	g = g.get()
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if u.User != nil {
		return &URLError{Host: host, Reason: "contains credentials; pass them in a header or the signing secret", Err: ErrCredentials}
	}
	if host == "" {
		return &URLError{Reason: "no host", Err: ErrInvalidURL}
	}
	port, err := urlPort(u)
	if err != nil {
		return err
	}
	if err := g.checkPort(host, netip.Addr{}, port); err != nil {
		return &URLError{Host: host, Reason: err.(*BlockedError).Reason, Err: err}
	}
	// Check the name the client will dial: fullwidth and other Unicode
	// spellings of localhost or 127.0.0.1 are those names to net/http.
	dialed, err := dialHost(host)
	if err != nil {
		return err
	}
	var as string
	if dialed != host {
		as = fmt.Sprintf(" (the client dials %q)", dialed)
	}
	hostErr := g.CheckHost(dialed)
	if _, err := netip.ParseAddr(dialed); err != nil {
		if ip, ok := parseInetAton(strings.TrimSuffix(dialed, ".")); ok {
			reason := fmt.Sprintf("non-canonical IPv4 spelling of %s%s", ip, as)
			if hostErr != nil {
				be := hostErr.(*BlockedError)
				why := strings.TrimSuffix(be.Reason, nonCanonicalSuffix)
				return &URLError{Host: host, Reason: reason + ", blocked: " + why,
					Err: fmt.Errorf("%w: %w", ErrNonCanonicalIP, hostErr)}
			}
			return &URLError{Host: host, Reason: reason, Err: ErrNonCanonicalIP}
		}
	}
	if hostErr != nil {
		return &URLError{Host: host, Reason: "blocked: " + hostErr.(*BlockedError).Reason + as, Err: hostErr}
	}
	return nil
}

// parseInetAton parses an IPv4 address the way the C library's inet_aton
// does: one to four dot-separated parts, each decimal, octal (leading 0) or
// hexadecimal (leading 0x), the last part filling the remaining bytes.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals [4]uint64
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" || p[0] == '+' || p[0] == '-' || strings.Contains(p, "_") {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(parts)
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
	}
	if last := vals[n-1]; last > (uint64(1)<<(8*(5-n)))-1 {
		return netip.Addr{}, false
	}
	var x uint32
	for i := 0; i < n-1; i++ {
		x |= uint32(vals[i]) << (24 - 8*i)
	}
	x |= uint32(vals[n-1])
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}), true
}
