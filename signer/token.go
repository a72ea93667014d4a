package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
)

// DefaultTokenHeader is the header SchemeToken uses when Config.Header is
// empty; it is Spika's.
const DefaultTokenHeader = "Verification-Signature"

// Token sends the secret itself, after an optional prefix, in one header:
//
//	Verification-Signature: <secret>
//
// It proves only that the sender knows the token, not what it sent: use it
// for receivers that accept nothing better, and only over HTTPS. Create it
// with NewToken.
type Token struct {
	header  string
	prefix  string
	headers []string
}

// NewToken returns the Token scheme with cfg's Header and Prefix; cfg.Scheme
// must be SchemeToken, its alias "static-token", or "".
func NewToken(cfg Config) (*Token, error) {
	if cfg.Scheme == "" {
		cfg.Scheme = SchemeToken
	}
	c, err := cfg.canonical()
	if err != nil {
		return nil, err
	}
	if c.Scheme != SchemeToken {
		return nil, fmt.Errorf("%w: NewToken given scheme %q", ErrInvalidConfig, cfg.Scheme)
	}
	if err := c.onlyUses(false, true, false, true); err != nil {
		return nil, err
	}
	s := &Token{header: DefaultTokenHeader}
	if c.Header != "" {
		if s.header, err = headerName(c.Header); err != nil {
			return nil, err
		}
	}
	if err := checkPrefix(c.Prefix); err != nil {
		return nil, err
	}
	s.prefix = c.Prefix
	s.headers = []string{s.header}
	return s, nil
}

// Headers implements Signer.
func (s *Token) Headers() []string { return s.headers }

// Sign implements Signer: it sets the header to the prefix and secrets[0].
func (s *Token) Sign(h http.Header, secrets []string, _ Input) error {
	if len(secrets) == 0 || secrets[0] == "" {
		return ErrNoSecret
	}
	if err := checkToken(secrets[0]); err != nil {
		return err
	}
	h.Set(s.header, s.prefix+secrets[0])
	return nil
}

// Verify checks that the token header holds the prefix and one of secrets.
// The body is not covered by this scheme.
func (s *Token) Verify(h http.Header, secrets []string, _ Input) error {
	got := h.Get(s.header)
	if got == "" {
		return ErrMissingSignature
	}
	// Comparing digests keeps the comparison constant-time in the token's
	// length as well as its content.
	sum := sha256.Sum256([]byte(got))
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		want := sha256.Sum256([]byte(s.prefix + secret))
		if hmac.Equal(sum[:], want[:]) {
			return nil
		}
	}
	return ErrInvalidSignature
}

// checkToken accepts a secret that survives as a header value unchanged: no
// control characters, no surrounding white space (receivers strip it).
func checkToken(secret string) error {
	for i := 0; i < len(secret); i++ {
		if b := secret[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return fmt.Errorf("%w: token has a control character", ErrInvalidSecret)
		}
	}
	if strings.TrimSpace(secret) != secret {
		return fmt.Errorf("%w: token starts or ends with white space", ErrInvalidSecret)
	}
	return nil
}
