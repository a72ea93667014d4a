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

// Option tunes a Verifier, a Receiver or StandardWebhooks; each option says
// which of them it applies to, and is ignored by the others.
type Option func(*options) error

type options struct {
	tolerance time.Duration
	now       func() time.Time
	webhookID string
	maxBody   int64
	onReject  func(*http.Request, error)
}

// DefaultMaxBodyBytes is the body size limit of a Receiver without WithMaxBodyBytes.
const DefaultMaxBodyBytes = 1 << 20

func newOptions(opts []Option) (options, error) {
	o := options{tolerance: DefaultTolerance, now: time.Now, maxBody: DefaultMaxBodyBytes}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithTolerance sets how far a signed timestamp may be from the clock, either
// way (default DefaultTolerance). It applies to schemes that sign a
// timestamp, today SchemeStandardWebhooks.
func WithTolerance(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: tolerance %s is not positive", ErrInvalidConfig, d)
		}
		o.tolerance = d
		return nil
	}
}

// WithClock sets the clock that timestamps are checked against (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		o.now = now
		return nil
	}
}

// WithWebhookID sets the UUID of the sender's webhook record, which
// SchemeTYPO3 signs and so needs to verify. It applies to NewVerifier; a
// Receiver takes it from each Handler.
func WithWebhookID(id string) Option {
	return func(o *options) error {
		o.webhookID = id
		return nil
	}
}

// WithMaxBodyBytes sets the largest body a Receiver reads (default
// DefaultMaxBodyBytes); a larger one is refused with 413.
func WithMaxBodyBytes(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("%w: body limit %d is not positive", ErrInvalidConfig, n)
		}
		o.maxBody = n
		return nil
	}
}

// WithOnReject sets a function a Receiver's middleware calls for every
// request it refuses, with the reason, to log or count it. err matches
// ErrBodyTooLarge, or the errors of the handlers that were tried.
func WithOnReject(fn func(r *http.Request, err error)) Option {
	return func(o *options) error {
		o.onReject = fn
		return nil
	}
}

// NewVerifier returns a Verifier for cfg and secrets, the current secret
// first and then any previous ones still accepted during a rotation. Every
// secret is checked here: the error matches ErrUnknownScheme,
// ErrInvalidConfig, ErrNoSecret or ErrInvalidSecret. SchemeTYPO3 needs
// WithWebhookID; SchemeStandardWebhooks honours WithTolerance and WithClock.
func NewVerifier(cfg Config, secrets []string, opts ...Option) (Verifier, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return newVerifier(cfg, secrets, o)
}

func newVerifier(cfg Config, secrets []string, o options) (Verifier, error) {
	c, err := cfg.canonical()
	if err != nil {
		return nil, err
	}
	s, err := newScheme(c)
	if err != nil {
		return nil, err
	}
	switch c.Scheme {
	case SchemeTYPO3:
		if o.webhookID == "" {
			return nil, fmt.Errorf("%w: typo3 verification needs the sender's webhook id", ErrInvalidConfig)
		}
	case SchemeStandardWebhooks:
		s = &StandardWebhooks{tolerance: o.tolerance, now: o.now}
	}
	if c.Scheme != SchemeNone {
		if len(secrets) == 0 {
			return nil, ErrNoSecret
		}
		for i, secret := range secrets {
			if err := validateSecret(c.Scheme, secret); err != nil {
				return nil, fmt.Errorf("%w (secret %d)", err, i)
			}
		}
	}
	return &verifier{scheme: s, secrets: append([]string(nil), secrets...), webhookID: o.webhookID}, nil
}

type verifier struct {
	scheme    scheme
	secrets   []string
	webhookID string
}

func (v *verifier) Verify(h http.Header, body []byte) error {
	return v.scheme.Verify(h, v.secrets, Input{WebhookID: v.webhookID, Body: body})
}
