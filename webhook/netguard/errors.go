package netguard

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors, for errors.Is. The typed errors below match them.
var (
	// ErrBlocked: the guard refused a destination. Every *BlockedError matches it.
	ErrBlocked = errors.New("netguard: destination blocked")
	// ErrRedirect: a redirect was refused. Every *RedirectError matches it.
	ErrRedirect = errors.New("netguard: redirect refused")
	// ErrInvalidURL: the URL does not parse, or lacks a host, or has a bad port.
	ErrInvalidURL = errors.New("netguard: invalid url")
	// ErrScheme: the URL scheme is not http or https.
	ErrScheme = errors.New("netguard: unsupported scheme")
	// ErrCredentials: the URL carries a user name or password.
	ErrCredentials = errors.New("netguard: credentials in url")
	// ErrNonCanonicalIP: the host is an IPv4 address written in a
	// decimal, octal, hexadecimal or shortened form such as 2130706433,
	// 0177.0.0.1 or 127.1, which some resolvers accept and others do not.
	ErrNonCanonicalIP = errors.New("netguard: non-canonical IPv4 spelling")
)

// BlockedError reports a destination the guard refused. It matches
// ErrBlocked and is found with errors.As through the *url.Error of
// http.Client.Do and the *net.OpError of a dial.
type BlockedError struct {
	// Host is the host name as requested, or "" when only the address
	// was known (a bare net.Dialer.Control check).
	Host string
	// IP is the refused address, or the zero Addr when the host itself
	// was refused before resolution.
	IP netip.Addr
	// Reason names the rule, e.g. "loopback" or "cloud metadata endpoint".
	Reason string
}

// Error describes the refusal without secrets.
func (e *BlockedError) Error() string {
	switch {
	case e.Host != "" && e.IP.IsValid() && e.Host != e.IP.String():
		return fmt.Sprintf("netguard: host %q resolves to blocked address %s: %s", e.Host, e.IP, e.Reason)
	case e.IP.IsValid():
		return fmt.Sprintf("netguard: blocked address %s: %s", e.IP, e.Reason)
	default:
		return fmt.Sprintf("netguard: blocked host %q: %s", e.Host, e.Reason)
	}
}

// Is reports whether target is ErrBlocked.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// RedirectError reports a redirect the client refused to follow. It matches
// ErrRedirect; when the target was blocked, Err holds the *BlockedError and
// the error matches ErrBlocked too.
type RedirectError struct {
	// StatusCode is the status of the redirect response, e.g. 302.
	StatusCode int
	// To is the scheme and host of the redirect target. Path and query
	// are left out because they may carry tokens.
	To string
	// Hops is the number of redirects already followed before this one.
	Hops int
	// Reason says why the redirect was refused.
	Reason string
	// Err is the underlying cause, or nil.
	Err error
}

// Error describes the refusal without secrets.
func (e *RedirectError) Error() string {
	msg := fmt.Sprintf("netguard: redirect (%d) to %s refused: %s", e.StatusCode, e.To, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrRedirect.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// Unwrap returns the underlying cause.
func (e *RedirectError) Unwrap() error { return e.Err }

// URLError reports a problem CheckURL found in a webhook URL. Err is one of
// ErrInvalidURL, ErrScheme, ErrCredentials, ErrNonCanonicalIP or a
// *BlockedError (or ErrNonCanonicalIP and a *BlockedError together). The
// error never repeats the path, query or credentials, which may be secret.
type URLError struct {
	// Host is the URL's host as written, or "" when it has none.
	Host string
	// Reason describes the problem.
	Reason string
	// Err is the sentinel or typed error to branch on.
	Err error
}

// Error describes the problem without secrets.
func (e *URLError) Error() string {
	if e.Host == "" {
		return "netguard: url: " + e.Reason
	}
	return fmt.Sprintf("netguard: url with host %q: %s", e.Host, e.Reason)
}

// Unwrap returns Err.
func (e *URLError) Unwrap() error { return e.Err }
