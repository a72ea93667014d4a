package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
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
// (2130706433, 0177.0.0.1, 0x7f.1), which some resolvers accept.
//
// It does not resolve the host: a name may still resolve to a blocked address,
// and the dial-time check is the one that counts.
func (g *Guard) CheckURL(raw string) error {
	g = g.get()
	u, err := url.Parse(raw)
	if err != nil {
		// The *url.Error would repeat the whole URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &URLError{Reason: "malformed: " + err.Error(), Err: ErrInvalidURL}
	}
	host := u.Hostname()
	switch u.Scheme {
	case "http", "https":
	case "":
		return &URLError{Host: host, Reason: "no scheme, want http or https", Err: ErrScheme}
	default:
		return &URLError{Host: host, Reason: fmt.Sprintf("scheme %q, want http or https", u.Scheme), Err: ErrScheme}
	}
	if u.User != nil {
		return &URLError{Host: host, Reason: "contains credentials; pass them in a header or the signing secret", Err: ErrCredentials}
	}
	if host == "" {
		return &URLError{Reason: "no host", Err: ErrInvalidURL}
	}
	port := uint64(80)
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.ParseUint(p, 10, 16); err != nil {
			return &URLError{Host: host, Reason: fmt.Sprintf("invalid port %q", p), Err: ErrInvalidURL}
		}
	}
	if err := g.checkPort(host, netip.Addr{}, uint16(port)); err != nil {
		return &URLError{Host: host, Reason: err.(*BlockedError).Reason, Err: err}
	}
	hostErr := g.CheckHost(host)
	if _, err := netip.ParseAddr(host); err != nil {
		if ip, ok := parseInetAton(strings.TrimSuffix(host, ".")); ok {
			reason := fmt.Sprintf("non-canonical IPv4 spelling of %s", ip)
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
		return &URLError{Host: host, Reason: "blocked: " + hostErr.(*BlockedError).Reason, Err: hostErr}
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
