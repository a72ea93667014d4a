package signer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // offered only for legacy receivers that demand it
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"
)

// Scheme names accepted in Config.Scheme.
const (
	// SchemeTYPO3 is TYPO3's convention, the default: see TYPO3.
	SchemeTYPO3 = "typo3"
	// SchemeHMAC is an HMAC over the body alone in one configurable header: see HMAC.
	SchemeHMAC = "hmac"
	// SchemeStandardWebhooks is the Standard Webhooks specification: see StandardWebhooks.
	SchemeStandardWebhooks = "standard-webhooks"
	// SchemeToken is a static shared token in a configurable header: see Token.
	SchemeToken = "token"
	// SchemeNone adds nothing: an explicit opt-out, never the default.
	SchemeNone = "none"
)

// Encodings accepted in Config.Encoding by SchemeHMAC.
const (
	// EncodingHex is lowercase hexadecimal, the default.
	EncodingHex = "hex"
	// EncodingBase64 is standard base64 with padding (RFC 4648 section 4).
	EncodingBase64 = "base64"
)

// aliases are the descriptive scheme names used by the shared test vectors
// (and by Tiki's handler types); each stands for a canonical scheme with one
// parameter fixed.
var aliases = map[string]Config{
	"hmac-hex-body":    {Scheme: SchemeHMAC, Encoding: EncodingHex},
	"hmac-base64-body": {Scheme: SchemeHMAC, Encoding: EncodingBase64},
	"static-token":     {Scheme: SchemeToken},
}

var (
	// ErrUnknownScheme is returned by New for a scheme name it does not know.
	ErrUnknownScheme = errors.New("signer: unknown scheme")
	// ErrInvalidConfig is returned by New when a scheme's parameters are not usable.
	ErrInvalidConfig = errors.New("signer: invalid config")
	// ErrNoSecret is returned by Sign when no secret is given to a scheme that needs one.
	ErrNoSecret = errors.New("signer: no secret")
	// ErrInvalidSecret is returned when a secret is not in its scheme's format,
	// such as a Standard Webhooks secret that is not base64.
	ErrInvalidSecret = errors.New("signer: invalid secret")
	// ErrMissingSignature is returned by Verify when a signature header is absent or empty.
	ErrMissingSignature = errors.New("signer: missing signature")
	// ErrInvalidSignature is returned by Verify when no given secret produces the received signature.
	ErrInvalidSignature = errors.New("signer: invalid signature")
	// ErrTimestampOutOfRange is returned by Verify when a signed timestamp is
	// further from now than the tolerance: a replay, or a badly wrong clock.
	ErrTimestampOutOfRange = errors.New("signer: timestamp out of range")
	// ErrUnsignedHandler is returned by NewReceiver, wrapped with
	// ErrInvalidConfig, for a handler of SchemeNone beside signed handlers
	// without WithAllowUnsigned: it would accept every request, and the
	// signed handlers would protect nothing.
	ErrUnsignedHandler = errors.New("signer: unsigned handler beside signed ones")
	// ErrBodyTooLarge is returned by a Receiver for a body over its limit.
	ErrBodyTooLarge = errors.New("signer: body too large")
	// ErrBodyTimeout is returned by a Receiver when the body did not arrive
	// within its read timeout (see WithBodyReadTimeout); it wraps the
	// underlying os.ErrDeadlineExceeded.
	ErrBodyTimeout = errors.New("signer: body read timed out")
)

// Config selects a signing scheme and its parameters. It is plain, comparable
// data, stored with each webhook record as JSON. The zero value is the TYPO3
// scheme with sha256. A field the chosen scheme does not use must be empty, so
// that a mistake is reported rather than ignored.
type Config struct {
	// Scheme is the scheme name; "" means SchemeTYPO3. The aliases
	// "hmac-hex-body", "hmac-base64-body" and "static-token" are accepted too.
	Scheme string `json:"scheme,omitempty"`
	// Algorithm is the HMAC hash of SchemeTYPO3 and SchemeHMAC: "sha256"
	// (default), "sha512" or "sha1".
	Algorithm string `json:"algorithm,omitempty"`
	// Header is the header that carries the signature of SchemeHMAC (default
	// DefaultHMACHeader) or the token of SchemeToken (default DefaultTokenHeader).
	Header string `json:"header,omitempty"`
	// Encoding is how SchemeHMAC writes the MAC: EncodingHex (default) or EncodingBase64.
	Encoding string `json:"encoding,omitempty"`
	// Prefix is written before the encoded MAC of SchemeHMAC (GitHub's
	// "sha256=") or before the token of SchemeToken ("Bearer ").
	Prefix string `json:"prefix,omitempty"`
}

// Input is what a signature covers.
type Input struct {
	// WebhookID is the UUID of the webhook record, as text.
	WebhookID string
	// MessageID identifies the delivery; it is the same on every retry.
	MessageID string
	// Timestamp is when the attempt is made.
	Timestamp time.Time
	// Body is the exact request body.
	Body []byte
}

// Signer adds a scheme's signature headers to an outgoing request.
type Signer interface {
	// Sign sets the signature headers for in on h. secrets[0] is the current
	// secret; any further ones are previous secrets still valid during a
	// rotation, used by schemes that can carry several signatures.
	Sign(h http.Header, secrets []string, in Input) error
	// Headers lists the canonical names of the headers Sign sets, so that a
	// record's own headers can never replace them.
	Headers() []string
}

// scheme is what every scheme type implements: the Signer and a Verify
// that checks received headers against the secrets.
type scheme interface {
	Signer
	Verify(h http.Header, secrets []string, in Input) error
}

// New returns the Signer for cfg, or an error matching ErrUnknownScheme or
// ErrInvalidConfig. Call it when a record is validated, not only at send time.
func New(cfg Config) (Signer, error) {
	s, err := newScheme(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newScheme(cfg Config) (scheme, error) {
	c, err := cfg.canonical()
	if err != nil {
		return nil, err
	}
	switch c.Scheme {
	case SchemeTYPO3:
		if err := c.onlyUses(c.Algorithm != "", false, false, false); err != nil {
			return nil, err
		}
		return NewTYPO3(c.Algorithm)
	case SchemeHMAC:
		return NewHMAC(c)
	case SchemeStandardWebhooks:
		if c.Algorithm != "" && c.Algorithm != "sha256" {
			return nil, fmt.Errorf("%w: algorithm %q (standard-webhooks always uses sha256)", ErrInvalidConfig, c.Algorithm)
		}
		if err := c.onlyUses(true, false, false, false); err != nil {
			return nil, err
		}
		return NewStandardWebhooks()
	case SchemeToken:
		return NewToken(c)
	case SchemeNone:
		if err := c.onlyUses(false, false, false, false); err != nil {
			return nil, err
		}
		return None{}, nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownScheme, cfg.Scheme)
	}
}

// Validate reports whether c names a known scheme with usable parameters.
func (c Config) Validate() error {
	_, err := newScheme(c)
	return err
}

// canonical resolves "" and the aliases to a canonical scheme name.
func (c Config) canonical() (Config, error) {
	if c.Scheme == "" {
		c.Scheme = SchemeTYPO3
		return c, nil
	}
	a, ok := aliases[c.Scheme]
	if !ok {
		return c, nil
	}
	if a.Encoding != "" && c.Encoding != "" && c.Encoding != a.Encoding {
		return c, fmt.Errorf("%w: encoding %q contradicts scheme %q", ErrInvalidConfig, c.Encoding, c.Scheme)
	}
	c.Scheme = a.Scheme
	if a.Encoding != "" {
		c.Encoding = a.Encoding
	}
	return c, nil
}

// onlyUses rejects the fields that c's scheme would silently ignore; each
// argument says whether that field is allowed (or already checked).
func (c Config) onlyUses(algorithm, header, encoding, prefix bool) error {
	var unused []string
	if !algorithm && c.Algorithm != "" {
		unused = append(unused, "algorithm")
	}
	if !header && c.Header != "" {
		unused = append(unused, "header")
	}
	if !encoding && c.Encoding != "" {
		unused = append(unused, "encoding")
	}
	if !prefix && c.Prefix != "" {
		unused = append(unused, "prefix")
	}
	if len(unused) > 0 {
		return fmt.Errorf("%w: scheme %q does not use %s", ErrInvalidConfig, c.Scheme, strings.Join(unused, ", "))
	}
	return nil
}

// hashFor returns the hash constructor for an algorithm name; "" is sha256.
func hashFor(algo string) (func() hash.Hash, string, error) {
	switch algo {
	case "", "sha256":
		return sha256.New, "sha256", nil
	case "sha512":
		return sha512.New, "sha512", nil
	case "sha1":
		return sha1.New, "sha1", nil
	default:
		return nil, "", fmt.Errorf("%w: algorithm %q (want sha256, sha512 or sha1)", ErrInvalidConfig, algo)
	}
}

// mac computes HMAC(key, parts...) with h.
func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// hexString returns prefix followed by b in hex, built in one allocation.
func hexString(prefix string, b []byte) string {
	var buf [160]byte
	if len(prefix)+hex.EncodedLen(len(b)) > len(buf) {
		return prefix + hex.EncodeToString(b)
	}
	return string(hex.AppendEncode(append(buf[:0], prefix...), b))
}

// reservedHeaders are headers a scheme may not take over: replacing them
// would break the request itself rather than sign it.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Content-Encoding": true,
	"Transfer-Encoding": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Upgrade": true,
}

// headerName checks a configured header name and returns it in canonical form.
func headerName(name string) (string, error) {
	if name == "" || len(name) > 256 {
		return "", fmt.Errorf("%w: header name %q", ErrInvalidConfig, name)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return "", fmt.Errorf("%w: header name %q has the invalid character %q", ErrInvalidConfig, name, name[i])
		}
	}
	c := http.CanonicalHeaderKey(name)
	if reservedHeaders[c] {
		return "", fmt.Errorf("%w: header %s cannot carry a signature", ErrInvalidConfig, c)
	}
	return c, nil
}

// isTokenChar reports whether b may appear in an HTTP field name (RFC 9110 token).
func isTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// checkPrefix accepts printable ASCII only: a prefix is protocol text such as
// "sha256=" or "Bearer ", and must survive as a header value.
func checkPrefix(p string) error {
	if len(p) > 64 {
		return fmt.Errorf("%w: prefix longer than 64 bytes", ErrInvalidConfig)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return fmt.Errorf("%w: prefix %q has a non-printable character", ErrInvalidConfig, p)
		}
	}
	if strings.TrimLeft(p, " ") != p {
		return fmt.Errorf("%w: prefix %q starts with a space, which receivers strip", ErrInvalidConfig, p)
	}
	return nil
}

// GenerateSecret returns a new random secret in the format of scheme ("" means
// SchemeTYPO3), read from crypto/rand: 32 random bytes as hex for typo3, hmac
// and token, "whsec_" and the base64 of 32 random bytes for standard-webhooks,
// and "" for none, which uses no secret.
func GenerateSecret(scheme string) (string, error) {
	c, err := Config{Scheme: scheme}.canonical()
	if err != nil {
		return "", err
	}
	b := make([]byte, 32)
	switch c.Scheme {
	case SchemeTYPO3, SchemeHMAC, SchemeToken, SchemeStandardWebhooks:
	case SchemeNone:
		return "", nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownScheme, scheme)
	}
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("signer: generate secret: %w", err)
	}
	if c.Scheme == SchemeStandardWebhooks {
		return whsecPrefix + base64.StdEncoding.EncodeToString(b), nil
	}
	return hex.EncodeToString(b), nil
}

// ValidateSecret reports whether secret can be used with cfg: an error
// matching ErrInvalidConfig or ErrUnknownScheme for a bad cfg, ErrNoSecret for
// an empty secret where one is needed, and ErrInvalidSecret for a secret
// that is not in the scheme's format. Call it when a record is validated, for
// the current secret and every previous one still valid.
func ValidateSecret(cfg Config, secret string) error {
	c, err := cfg.canonical()
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	return validateSecret(c.Scheme, secret)
}

// validateSecret checks secret for the canonical scheme name.
func validateSecret(scheme, secret string) error {
	if scheme == SchemeNone {
		return nil
	}
	if secret == "" {
		return ErrNoSecret
	}
	switch scheme {
	case SchemeStandardWebhooks:
		_, err := whsecKey(secret)
		return err
	case SchemeToken:
		return checkToken(secret)
	}
	return nil
}

// decodeBase64 decodes standard base64 with padding, refusing any byte
// outside the alphabet first: Go's decoder skips CR and LF even in strict
// mode, so a signature with a line break inside would otherwise verify as if
// it were not there. strict also refuses non-zero padding bits, so that a
// signature has exactly one accepted encoding; secrets are decoded without
// it, as the Standard Webhooks libraries do.
func decodeBase64(s string, strict bool) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if !isBase64Char(s[i]) {
			return nil, fmt.Errorf("byte %q at offset %d is not base64", s[i], i)
		}
	}
	enc := base64.StdEncoding
	if strict {
		enc = enc.Strict()
	}
	return enc.DecodeString(s)
}

// isBase64Char reports whether b belongs to standard base64, padding included.
func isBase64Char(b byte) bool {
	switch {
	case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return true
	}
	return b == '+' || b == '/' || b == '='
}

// clip shortens received text quoted in an error, so that a huge header
// cannot make a huge log line.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
