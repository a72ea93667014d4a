package signer

import (
	"fmt"
	"net/http"
	"time"
)

// Each constructor has its own option type, so that an option that does not
// apply to it fails to compile instead of being ignored. The options that
// several constructors share return TimestampOption, which implements all of
// their option types (the pattern of zap and grpc).

// VerifierOption configures NewVerifier. WithTolerance, WithClock and
// WithWebhookID return one.
type VerifierOption interface {
	applyVerifier(*verifierOptions) error
}

// ReceiverOption configures NewReceiver. WithMaxBodyBytes,
// WithBodyReadTimeout, WithOnReject, WithAllowUnsigned, WithReplayGuard,
// WithTolerance and WithClock return one.
type ReceiverOption interface {
	applyReceiver(*receiverOptions) error
}

// StandardWebhooksOption configures NewStandardWebhooks. WithTolerance and
// WithClock return one.
type StandardWebhooksOption interface {
	applyStandardWebhooks(*timestampOptions) error
}

// TimestampOption sets how signed timestamps are checked. It is a
// VerifierOption, a ReceiverOption and a StandardWebhooksOption, so
// NewVerifier, NewReceiver and NewStandardWebhooks all accept it; WithTolerance
// and WithClock return one. Only those functions make a usable
// TimestampOption: the zero value is refused with ErrInvalidConfig.
type TimestampOption struct {
	set func(*timestampOptions) error
}

func (o TimestampOption) applyVerifier(v *verifierOptions) error          { return o.apply(&v.timestampOptions) }
func (o TimestampOption) applyReceiver(r *receiverOptions) error          { return o.apply(&r.timestampOptions) }
func (o TimestampOption) applyStandardWebhooks(t *timestampOptions) error { return o.apply(t) }

func (o TimestampOption) apply(t *timestampOptions) error {
	if o.set == nil {
		return fmt.Errorf("%w: zero TimestampOption (use WithTolerance or WithClock)", ErrInvalidConfig)
	}
	return o.set(t)
}

// verifierOptionFunc and receiverOptionFunc are the options that only one
// constructor takes.
type (
	verifierOptionFunc func(*verifierOptions) error
	receiverOptionFunc func(*receiverOptions) error
)

func (f verifierOptionFunc) applyVerifier(o *verifierOptions) error { return f(o) }
func (f receiverOptionFunc) applyReceiver(o *receiverOptions) error { return f(o) }

type timestampOptions struct {
	tolerance time.Duration
	now       func() time.Time
}

type verifierOptions struct {
	timestampOptions
	webhookID string
}

type receiverOptions struct {
	timestampOptions
	maxBody       int64
	bodyTimeout   time.Duration
	onReject      func(*http.Request, error)
	allowUnsigned bool
	replayGuard   ReplayGuard
}

// DefaultMaxBodyBytes is the body size limit of a Receiver without WithMaxBodyBytes.
const DefaultMaxBodyBytes = 1 << 20

// DefaultBodyReadTimeout is how long a Receiver's Middleware waits for a
// request body without WithBodyReadTimeout.
const DefaultBodyReadTimeout = 10 * time.Second

func defaultTimestampOptions() timestampOptions {
	return timestampOptions{tolerance: DefaultTolerance, now: time.Now}
}

// applyOptions applies opts to o in order, so that a later option wins, and
// stops at the first error. A nil option is a mistake, reported as one.
func applyOptions[Opt, T any](o *T, opts []Opt, apply func(Opt, *T) error) error {
	for i, opt := range opts {
		if any(opt) == nil {
			return fmt.Errorf("%w: option %d is nil", ErrInvalidConfig, i)
		}
		if err := apply(opt, o); err != nil {
			return err
		}
	}
	return nil
}

// WithTolerance sets how far a signed timestamp may be from the clock, either
// way (default DefaultTolerance); a d that is not positive is refused with
// ErrInvalidConfig. NewVerifier, NewReceiver and NewStandardWebhooks accept
// it. It concerns the schemes that sign a timestamp, today
// SchemeStandardWebhooks; the others have none to check, so a Receiver or a
// Verifier built from a stored Config can pass it whatever the scheme.
func WithTolerance(d time.Duration) TimestampOption {
	return TimestampOption{set: func(o *timestampOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: tolerance %s is not positive", ErrInvalidConfig, d)
		}
		o.tolerance = d
		return nil
	}}
}

// WithClock sets the clock that signed timestamps are checked against
// (default time.Now); a nil now is refused with ErrInvalidConfig.
// NewVerifier, NewReceiver and NewStandardWebhooks accept it; like
// WithTolerance, it concerns the schemes that sign a timestamp.
func WithClock(now func() time.Time) TimestampOption {
	return TimestampOption{set: func(o *timestampOptions) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		o.now = now
		return nil
	}}
}

// WithWebhookID sets the UUID of the sender's webhook record, which
// SchemeTYPO3 signs and so needs to verify. Only NewVerifier accepts it, and
// only for SchemeTYPO3 (another scheme refuses it with ErrInvalidConfig); a
// Receiver takes the UUID from each Handler instead.
func WithWebhookID(id string) VerifierOption {
	return verifierOptionFunc(func(o *verifierOptions) error {
		o.webhookID = id
		return nil
	})
}

// WithMaxBodyBytes sets the largest body a Receiver reads (default
// DefaultMaxBodyBytes); a larger one is refused with 413. An n that is not
// positive is refused with ErrInvalidConfig. Only NewReceiver accepts it.
func WithMaxBodyBytes(n int64) ReceiverOption {
	return receiverOptionFunc(func(o *receiverOptions) error {
		if n <= 0 {
			return fmt.Errorf("%w: body limit %d is not positive", ErrInvalidConfig, n)
		}
		o.maxBody = n
		return nil
	})
}

// WithBodyReadTimeout sets how long a Receiver's Middleware waits for the
// whole request body, counted from when the middleware starts (default
// DefaultBodyReadTimeout); a body still arriving then is refused with 408 and
// an error matching ErrBodyTimeout. It replaces the server's read deadline
// for the body (see Middleware). A d that is not positive is refused with
// ErrInvalidConfig. Only NewReceiver accepts it.
func WithBodyReadTimeout(d time.Duration) ReceiverOption {
	return receiverOptionFunc(func(o *receiverOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: body read timeout %s is not positive", ErrInvalidConfig, d)
		}
		o.bodyTimeout = d
		return nil
	})
}

// WithOnReject sets a function a Receiver's middleware calls for every
// request it refuses, with the reason, to log or count it; nil, the
// default, calls nothing. err matches ErrBodyTooLarge, ErrBodyTimeout or
// ErrReplayed, is a read error or a ReplayGuard's, or joins the errors of the
// handlers that were tried. Only NewReceiver accepts it.
func WithOnReject(fn func(r *http.Request, err error)) ReceiverOption {
	return receiverOptionFunc(func(o *receiverOptions) error {
		o.onReject = fn
		return nil
	})
}

// WithAllowUnsigned lets NewReceiver take a handler of SchemeNone beside
// signed handlers: the Receiver then accepts unsigned requests too, and
// MatchedHandler tells the next handler which ones were signed. Without it,
// such a list is refused with ErrUnsignedHandler, since one unsigned handler
// makes all the others protect nothing. The SchemeNone handler must come
// last, and still takes no secret. Only NewReceiver accepts it.
func WithAllowUnsigned() ReceiverOption {
	return receiverOptionFunc(func(o *receiverOptions) error {
		o.allowUnsigned = true
		return nil
	})
}
