package signer

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// TYPO3 headers.
const (
	// HeaderTYPO3Signature carries the hex HMAC.
	HeaderTYPO3Signature = "Webhook-Signature"
	// HeaderTYPO3Algo names the hash of the HMAC.
	HeaderTYPO3Algo = "Webhook-Signature-Algo"
)

// TYPO3 is the signing scheme of TYPO3's outgoing webhooks:
//
//	Webhook-Signature: hex(HMAC-<algo>(secret, "<webhook uuid>:<body>"))
//	Webhook-Signature-Algo: <algo>
//
// Create it with NewTYPO3.
type TYPO3 struct {
	hash func() hash.Hash
	algo string
	macs macCache
}

// NewTYPO3 returns the TYPO3 scheme for algo ("" means sha256).
func NewTYPO3(algo string) (*TYPO3, error) {
	h, name, err := hashFor(algo)
	if err != nil {
		return nil, err
	}
	return &TYPO3{hash: h, algo: name, macs: macCache{hash: h}}, nil
}

var colon = []byte{':'}

var typo3Headers = []string{HeaderTYPO3Signature, HeaderTYPO3Algo}

// Headers implements Signer.
func (s *TYPO3) Headers() []string { return typo3Headers }

// Sign implements Signer. Only secrets[0] is used: the scheme has room for one signature.
func (s *TYPO3) Sign(h http.Header, secrets []string, in Input) error {
	if len(secrets) == 0 || secrets[0] == "" {
		return ErrNoSecret
	}
	m := s.macs.get(secrets[0])
	m.writeString(in.WebhookID)
	m.Write(colon)
	m.Write(in.Body)
	sig := hexString("", m.sum())
	m.release()
	// Both values share one array; the keys are canonical, as Set makes them.
	vals := [...]string{sig, s.algo}
	h[HeaderTYPO3Signature] = vals[0:1:1]
	h[HeaderTYPO3Algo] = vals[1:2:2]
	return nil
}

// Verify checks the Webhook-Signature header of a received request against
// each secret in turn. in.WebhookID must be the UUID of the sender's record
// and in.Body the exact body received: both are signed, so a wrong UUID is
// refused like a wrong secret, and the error says so. A
// Webhook-Signature-Algo header, when present, must name the algorithm s was
// created with.
func (s *TYPO3) Verify(h http.Header, secrets []string, in Input) error {
	got := h.Get(HeaderTYPO3Signature)
	if got == "" {
		return ErrMissingSignature
	}
	if a := h.Get(HeaderTYPO3Algo); a != "" && !strings.EqualFold(a, s.algo) {
		return fmt.Errorf("%w: algorithm %q, want %q", ErrInvalidSignature, clip(a), s.algo)
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrInvalidSignature)
	}
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(sig, s.sum(secret, in)) {
			return nil
		}
	}
	// A wrong record UUID and a wrong secret look the same: say both.
	return fmt.Errorf(`%w: %s is not the HMAC of "<record uuid>:<body>" with record uuid %q and any of the secrets; check the uuid as well as the secret`,
		ErrInvalidSignature, HeaderTYPO3Signature, clip(in.WebhookID))
}

func (s *TYPO3) sum(secret string, in Input) []byte {
	return mac(s.hash, []byte(secret), []byte(in.WebhookID), []byte{':'}, in.Body)
}
