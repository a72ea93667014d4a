package signer

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// DefaultHMACHeader is the header SchemeHMAC uses when Config.Header is empty.
const DefaultHMACHeader = "X-Webhook-Signature"

// HMAC is an HMAC over the request body alone, in one header:
//
//	<Header>: <Prefix><encoding(HMAC-<algo>(secret, body))>
//
// It covers GitHub (X-Hub-Signature-256, sha256, hex, prefix "sha256="),
// Tikkl (X-Tikkl-Signature, sha256, hex) and Shopify or Tiki (base64).
// Because nothing but the body is signed, a captured request can be replayed;
// prefer StandardWebhooks where the receiver supports it. Create it with NewHMAC.
type HMAC struct {
	hash     func() hash.Hash
	header   string
	prefix   string
	encoding string
	headers  []string
	macs     macCache
}

// NewHMAC returns the HMAC scheme with cfg's Algorithm, Header, Encoding and
// Prefix; cfg.Scheme must be SchemeHMAC, one of its aliases, or "".
func NewHMAC(cfg Config) (*HMAC, error) {
	if cfg.Scheme == "" {
		cfg.Scheme = SchemeHMAC
	}
	c, err := cfg.canonical()
	if err != nil {
		return nil, err
	}
	if c.Scheme != SchemeHMAC {
		return nil, fmt.Errorf("%w: NewHMAC given scheme %q", ErrInvalidConfig, cfg.Scheme)
	}
	h, _, err := hashFor(c.Algorithm)
	if err != nil {
		return nil, err
	}
	s := &HMAC{hash: h, header: DefaultHMACHeader, encoding: EncodingHex, macs: macCache{hash: h}}
	if c.Header != "" {
		if s.header, err = headerName(c.Header); err != nil {
			return nil, err
		}
	}
	switch c.Encoding {
	case "", EncodingHex:
	case EncodingBase64:
		s.encoding = EncodingBase64
	default:
		return nil, fmt.Errorf("%w: encoding %q (want hex or base64)", ErrInvalidConfig, c.Encoding)
	}
	if err := checkPrefix(c.Prefix); err != nil {
		return nil, err
	}
	s.prefix = c.Prefix
	s.headers = []string{s.header}
	return s, nil
}

// Headers implements Signer.
func (s *HMAC) Headers() []string { return s.headers }

// Sign implements Signer. Only secrets[0] is used: the header has room for one signature.
func (s *HMAC) Sign(h http.Header, secrets []string, in Input) error {
	if len(secrets) == 0 || secrets[0] == "" {
		return ErrNoSecret
	}
	m := s.macs.get(secrets[0])
	m.Write(in.Body)
	sum := m.sum()
	if s.encoding == EncodingBase64 {
		h.Set(s.header, s.prefix+s.encode(sum))
	} else {
		h.Set(s.header, hexString(s.prefix, sum))
	}
	m.release()
	return nil
}

// Verify checks the signature header of a received request against each
// secret in turn; in.Body must be the exact body received. Hex is accepted
// in either case.
func (s *HMAC) Verify(h http.Header, secrets []string, in Input) error {
	got := h.Get(s.header)
	if got == "" {
		return ErrMissingSignature
	}
	enc, ok := strings.CutPrefix(got, s.prefix)
	if !ok {
		return fmt.Errorf("%w: %s does not start with %q", ErrInvalidSignature, s.header, s.prefix)
	}
	sig, err := s.decode(enc)
	if err != nil {
		return fmt.Errorf("%w: %s is not %s", ErrInvalidSignature, s.header, s.encoding)
	}
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(sig, mac(s.hash, []byte(secret), in.Body)) {
			return nil
		}
	}
	return ErrInvalidSignature
}

func (s *HMAC) encode(b []byte) string {
	if s.encoding == EncodingBase64 {
		return base64.StdEncoding.EncodeToString(b)
	}
	return hex.EncodeToString(b)
}

func (s *HMAC) decode(v string) ([]byte, error) {
	if s.encoding == EncodingBase64 {
		return decodeBase64(v, true)
	}
	return hex.DecodeString(v)
}
