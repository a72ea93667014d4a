package signer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // offered only for legacy receivers that demand it
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"time"
)

// Scheme names accepted in Config.Scheme.
const (
	SchemeTYPO3 = "typo3"
)

var (
	// ErrUnknownScheme is returned by New for a scheme name it does not know.
	ErrUnknownScheme = errors.New("signer: unknown scheme")
	// ErrInvalidConfig is returned by New when a scheme's parameters are not usable.
	ErrInvalidConfig = errors.New("signer: invalid config")
	// ErrNoSecret is returned by Sign when no secret is given to a scheme that needs one.
	ErrNoSecret = errors.New("signer: no secret")
	// ErrMissingSignature is returned by Verify when the signature header is absent or empty.
	ErrMissingSignature = errors.New("signer: missing signature")
	// ErrInvalidSignature is returned by Verify when no given secret produces the received signature.
	ErrInvalidSignature = errors.New("signer: invalid signature")
)

// Config selects a signing scheme and its parameters. It is plain data, stored
// with each webhook record as JSON. The zero value is the TYPO3 scheme with sha256.
type Config struct {
	// Scheme is the scheme name; "" means SchemeTYPO3.
	Scheme string `json:"scheme,omitempty"`
	// Algorithm is the HMAC hash: "sha256" (default), "sha512" or "sha1".
	Algorithm string `json:"algorithm,omitempty"`
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

// New returns the Signer for cfg, or an error matching ErrUnknownScheme or
// ErrInvalidConfig. Call it when a record is validated, not only at send time.
func New(cfg Config) (Signer, error) {
	switch cfg.Scheme {
	case "", SchemeTYPO3:
		return NewTYPO3(cfg.Algorithm)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownScheme, cfg.Scheme)
	}
}

// Validate reports whether cfg names a known scheme with usable parameters.
func (c Config) Validate() error {
	_, err := New(c)
	return err
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
func mac(h func() hash.Hash, key string, parts ...[]byte) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// GenerateSecret returns a new random secret in the format of scheme
// ("" means SchemeTYPO3), read from crypto/rand.
func GenerateSecret(scheme string) (string, error) {
	switch scheme {
	case "", SchemeTYPO3:
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("signer: generate secret: %w", err)
		}
		return hex.EncodeToString(b), nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownScheme, scheme)
	}
}
