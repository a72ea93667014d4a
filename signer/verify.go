package signer

import (
	"fmt"
	"net/http"
	"time"
)

// Verifier checks the signature of one received request, with the secrets
// and parameters it was created with.
type Verifier interface {
	// Verify returns nil if h carries a valid signature of body, or an error
	// matching ErrMissingSignature, ErrInvalidSignature or
	// ErrTimestampOutOfRange.
	Verify(h http.Header, body []byte) error
}

// NewVerifier returns a Verifier for cfg and secrets, the current secret
// first and then any previous ones still accepted during a rotation. Every
// secret is checked here: the error matches ErrUnknownScheme,
// ErrInvalidConfig, ErrNoSecret or ErrInvalidSecret. SchemeTYPO3 needs
// WithWebhookID, which the other schemes refuse; SchemeNone takes no
// secrets; WithTolerance and WithClock apply to SchemeStandardWebhooks.
func NewVerifier(cfg Config, secrets []string, opts ...VerifierOption) (Verifier, error) {
	o := verifierOptions{timestampOptions: defaultTimestampOptions()}
	if err := applyOptions(&o, opts, VerifierOption.applyVerifier); err != nil {
		return nil, err
	}
	return newVerifier(cfg, secrets, o)
}

func newVerifier(cfg Config, secrets []string, o verifierOptions) (*verifier, error) {
	c, err := cfg.canonical()
	if err != nil {
		return nil, err
	}
	s, err := newScheme(c)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Scheme == SchemeTYPO3 && o.webhookID == "":
		return nil, fmt.Errorf("%w: typo3 verification needs the sender's webhook id", ErrInvalidConfig)
	case c.Scheme != SchemeTYPO3 && o.webhookID != "":
		return nil, fmt.Errorf("%w: scheme %q does not use a webhook id", ErrInvalidConfig, c.Scheme)
	case c.Scheme == SchemeStandardWebhooks:
		s = newStandardWebhooks(o.timestampOptions)
	}
	if err := checkSecrets(c.Scheme, secrets); err != nil {
		return nil, err
	}
	return &verifier{scheme: s, secrets: append([]string(nil), secrets...), webhookID: o.webhookID}, nil
}

// checkSecrets checks the secrets of a verifier for the canonical scheme.
// SchemeNone accepts every request, so a secret given to it is a mistake
// that would look like protection.
func checkSecrets(scheme string, secrets []string) error {
	if scheme == SchemeNone {
		if len(secrets) > 0 {
			return fmt.Errorf("%w: scheme %q takes no secret", ErrInvalidConfig, scheme)
		}
		return nil
	}
	if len(secrets) == 0 {
		return ErrNoSecret
	}
	for i, secret := range secrets {
		if err := validateSecret(scheme, secret); err != nil {
			return fmt.Errorf("%w (secret %d)", err, i)
		}
	}
	return nil
}

type verifier struct {
	scheme    scheme
	secrets   []string
	webhookID string
}

func (v *verifier) Verify(h http.Header, body []byte) error {
	return v.scheme.Verify(h, v.secrets, Input{WebhookID: v.webhookID, Body: body})
}

// verifyID is Verify, also returning the request's ID for a ReplayGuard,
// and when the scheme signs it, the time it was signed: the webhook-id of
// Standard Webhooks, or else the unsigned Webhook-Delivery-Id header.
func (v *verifier) verifyID(h http.Header, body []byte) (id string, signedAt time.Time, err error) {
	if sw, ok := v.scheme.(*StandardWebhooks); ok {
		return sw.verify(h, v.secrets, body)
	}
	if err := v.Verify(h, body); err != nil {
		return "", time.Time{}, err
	}
	return h.Get(HeaderDeliveryID), time.Time{}, nil
}
