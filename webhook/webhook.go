package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook/netguard"
)

// Webhook is one webhook record: where to send which triggers, and how to sign them.
//
// A Webhook's String, GoString and LogValue never show its secret.
type Webhook struct {
	// ID is the record's UUID; Store.Create sets a random one when it is zero.
	// The TYPO3 scheme signs it together with the body.
	ID uuid.UUID `json:"id"`
	// Name is what administrators see. Required.
	Name string `json:"name"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Tenant is the customer the record belongs to (an organization, a
	// room, an account: an opaque string the application chooses). It
	// receives only messages dispatched for its tenant (see ForTenant). The
	// empty tenant holds the application's own records. It cannot change
	// after Create.
	Tenant string `json:"tenant,omitempty"`
	// Channels, when not empty, restrict the record to messages that carry
	// at least one of them (see InChannels), such as "campaign/tech-conf".
	// A record without channels gets every message of its triggers.
	Channels []string `json:"channels,omitempty"`
	// Triggers are the trigger identifiers the record subscribes to. At least one.
	Triggers []string `json:"triggers"`
	// URL is the absolute http or https target.
	URL string `json:"url"`
	// Method is "POST" (the default when empty) or "GET". Both send the JSON
	// body and the same headers, as TYPO3 does.
	Method string `json:"method,omitempty"`
	// Secret keys the signature; Store.Create generates one in the scheme's
	// format when it is empty, and Update keeps the stored one when it is
	// empty. A Secret never prints or encodes its value (see Secret).
	Secret Secret `json:"secret,omitempty"`
	// Headers are extra request headers. They can never replace the headers
	// outhook sets (Content-Type, the signature headers, Webhook-Delivery-Id...).
	Headers map[string]string `json:"headers,omitempty"`
	// PreviousSecret is a secret being rotated out (see RotateSecret). Until
	// PreviousSecretExpiresAt, schemes that can carry several signatures
	// (Standard Webhooks) sign with it too; the others sign with Secret only.
	PreviousSecret          Secret    `json:"previous_secret,omitempty"`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at,omitempty"`
	// Disabled records receive nothing; queued deliveries to them are cancelled.
	Disabled bool `json:"disabled,omitempty"`
	// DisabledReason and DisabledAt say why and when the record was disabled
	// automatically (endpoint health); re-enabling clears them.
	DisabledReason string    `json:"disabled_reason,omitempty"`
	DisabledAt     time.Time `json:"disabled_at,omitempty"`
	// InsecureSkipVerify turns off TLS certificate verification for this
	// record, like TYPO3's verify_ssl = false. Every attempt that uses it logs
	// a warning. Only the default client (or one with an *http.Transport)
	// supports it.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// PropagateTrace sends this record the trace context of each attempt
	// (the headers the Sender's propagator writes, such as traceparent; see
	// WithPropagator). Off by default: trace IDs are internal identifiers,
	// and a receiver is a third party.
	PropagateTrace bool `json:"propagate_trace,omitempty"`
	// Signing selects the signature scheme; the zero value is TYPO3's.
	Signing signer.Config `json:"signing"`
	// CreatedAt and UpdatedAt are set by the Store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts the stored record's writes: Create sets 1 and every
	// Update or Disable adds one. Update refuses, with an error matching
	// ErrConflict, a record whose Version is not the stored one, so that a
	// write based on a stale read never undoes another.
	Version int64 `json:"version"`
}

// Request headers set by outhook on every attempt, besides the signature headers.
const (
	HeaderContentType = "Content-Type"
	// HeaderDeliveryID carries the delivery's UUID, the same on every retry
	// and replay, so receivers can de-duplicate.
	HeaderDeliveryID = signer.HeaderDeliveryID
	// HeaderTrigger carries the trigger identifier.
	HeaderTrigger   = "Webhook-Trigger"
	headerUserAgent = "User-Agent"
)

// reservedHeaders may not appear in Webhook.Headers: outhook sets them, or
// net/http owns them.
var reservedHeaders = map[string]bool{
	HeaderContentType: true, HeaderDeliveryID: true, HeaderTrigger: true,
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
}

// ErrInvalidWebhook is matched (errors.Is) by every *ValidationError.
var ErrInvalidWebhook = errors.New("webhook: invalid record")

// ValidationError names the field of a record that is not valid.
type ValidationError struct {
	// Field is the record's field, as named in JSON ("url", "triggers"...).
	Field string
	// Reason says what is wrong with it, without echoing secrets.
	Reason string
	// Err is the underlying cause, if any.
	Err error
}

// Error names the field and the reason.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("webhook: invalid %s: %s", e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidWebhook.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidWebhook }

// Unwrap returns the cause.
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(field, reason string, err error) error {
	return &ValidationError{Field: field, Reason: reason, Err: err}
}

// Validate checks the record's fields: a name, at least one well-formed
// trigger identifier, an absolute http(s) URL, a known method, a usable
// signing config, secrets in the scheme's format (an empty Secret is left for
// Store.Create to generate), and headers that do not collide with outhook's own.
// Errors are *ValidationError values naming the field.
func (w *Webhook) Validate() error {
	if strings.TrimSpace(w.Name) == "" {
		return invalid("name", "must not be empty", nil)
	}
	if err := ValidateTenant(w.Tenant); err != nil {
		return invalid("tenant", err.Error(), err)
	}
	if err := validateChannels(w.Channels, MaxRecordChannels); err != nil {
		return invalid("channels", err.Error(), err)
	}
	if len(w.Triggers) == 0 {
		return invalid("triggers", "at least one trigger is required", nil)
	}
	for _, t := range w.Triggers {
		if err := trigger.ValidateIdentifier(t); err != nil {
			return invalid("triggers", err.Error(), err)
		}
	}
	u, err := url.Parse(w.URL)
	switch {
	case err != nil:
		return invalid("url", "not a URL", nil)
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("url", fmt.Sprintf("scheme %q is not http or https", u.Scheme), nil)
	case u.Host == "":
		return invalid("url", "must be absolute, with a host", nil)
	case u.User != nil:
		return invalid("url", "contains credentials (user:password@host); send them in a header instead, such as Authorization", nil)
	}
	switch w.Method {
	case "", http.MethodPost, http.MethodGet:
	default:
		return invalid("method", fmt.Sprintf("%q is not POST or GET", w.Method), nil)
	}
	s, err := signer.New(w.Signing)
	if err != nil {
		return invalid("signing", err.Error(), err)
	}
	for _, sec := range []struct {
		field string
		value Secret
	}{{"secret", w.Secret}, {"previous_secret", w.PreviousSecret}} {
		if sec.value == "" {
			continue
		}
		if err := signer.ValidateSecret(w.Signing, sec.value.Reveal()); err != nil {
			return invalid(sec.field, err.Error(), err)
		}
		if err := checkSecretLength(w.Signing, sec.value.Reveal()); err != nil {
			return invalid(sec.field, err.Error(), err)
		}
	}
	return validateHeaders(w.Headers, s.Headers())
}

// validateHeaders checks a record's extra headers: names net/http can send,
// values without control characters, none of outhook's own or the signing
// scheme's (protected).
func validateHeaders(headers map[string]string, protected []string) error {
	for k, v := range headers {
		ck := http.CanonicalHeaderKey(k)
		if !validHeaderName(k) {
			return invalid("headers", fmt.Sprintf("%q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", k), nil)
		}
		if !validHeaderValue(v) {
			return invalid("headers", fmt.Sprintf("value of %s contains a control character (NUL, CR, LF...)", ck), nil)
		}
		if reservedHeaders[ck] || containsFold(protected, ck) {
			return invalid("headers", fmt.Sprintf("%s is set by outhook and cannot be overridden", ck), nil)
		}
	}
	return nil
}

// MinSecretLength is the least number of bytes Validate accepts in a
// record's secret (Standard Webhooks keys need 24 decoded bytes, as
// signer.ValidateSecret checks). Generated secrets have 32 random bytes.
const MinSecretLength = 16

// ErrSecretTooShort is the cause of a ValidationError for a secret shorter
// than MinSecretLength.
var ErrSecretTooShort = errors.New("secret too short")

// checkSecretLength refuses a secret with fewer than MinSecretLength key
// bytes; the scheme none and an unknown scheme are left to signer.
func checkSecretLength(cfg signer.Config, secret string) error {
	// Standard Webhooks keys are checked by signer.ValidateSecret (24 to 64
	// bytes after "whsec_"), so that scheme's secrets pass here.
	n := len(secret)
	if cfg.Scheme == signer.SchemeNone {
		return nil
	}
	if n < MinSecretLength {
		return fmt.Errorf("%w: %d bytes, want at least %d (leave it empty to generate one)", ErrSecretTooShort, n, MinSecretLength)
	}
	return nil
}

// validHeaderName reports whether k is an RFC 9110 token, as net/http
// requires of a header name it sends.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control character other than
// horizontal tab, as net/http requires of a header value it sends.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// CheckURL reports early what the network guard g (nil: netguard.New())
// would refuse about the record's URL: a literal address in a blocked range,
// a blocked host name, credentials in the URL. It does not resolve names;
// the check at dial time is the one that counts. Admin screens show it as a
// warning.
func (w *Webhook) CheckURL(g *netguard.Guard) error {
	if g == nil {
		g = netguard.New()
	}
	if err := g.CheckURL(w.URL); err != nil {
		return invalid("url", err.Error(), err)
	}
	return nil
}

// CheckTriggers reports, as a *ValidationError, the first of the record's
// triggers that reg does not know.
func (w *Webhook) CheckTriggers(reg *trigger.Registry) error {
	for _, t := range w.Triggers {
		if _, err := reg.Get(t); err != nil {
			return invalid("triggers", err.Error(), err)
		}
	}
	return nil
}

// RotateSecret makes newSecret the record's secret and keeps the current one
// valid as PreviousSecret for overlap after now, so receivers can switch
// without a gap. An empty newSecret is generated in the scheme's format.
// Store the record afterwards with Store.Update.
func (w *Webhook) RotateSecret(newSecret Secret, overlap time.Duration, now time.Time) error {
	if newSecret == "" {
		s, err := signer.GenerateSecret(w.Signing.Scheme)
		if err != nil {
			return err
		}
		newSecret = Secret(s)
	}
	if newSecret == w.Secret {
		return invalid("secret", "the new secret equals the current one", nil)
	}
	w.PreviousSecret, w.PreviousSecretExpiresAt = w.Secret, now.Add(overlap).UTC()
	if overlap <= 0 {
		w.PreviousSecret, w.PreviousSecretExpiresAt = "", time.Time{}
	}
	w.Secret = newSecret
	return nil
}

// Secrets returns the secrets to sign with at t: the current one first, then
// the previous one while its overlap lasts.
func (w *Webhook) Secrets(t time.Time) []string { return w.appendSecrets(nil, t) }

// appendSecrets appends Secrets(t) to dst.
func (w *Webhook) appendSecrets(dst []string, t time.Time) []string {
	if w.PreviousSecret != "" && t.Before(w.PreviousSecretExpiresAt) {
		return append(dst, w.Secret.Reveal(), w.PreviousSecret.Reveal())
	}
	return append(dst, w.Secret.Reveal())
}

// Enable clears Disabled and the automatic disabling's reason and time.
func (w *Webhook) Enable() {
	w.Disabled, w.DisabledReason, w.DisabledAt = false, "", time.Time{}
}

// Subscribes reports whether the record subscribes to the trigger identifier.
func (w *Webhook) Subscribes(identifier string) bool {
	for _, t := range w.Triggers {
		if t == identifier {
			return true
		}
	}
	return false
}

// method returns the HTTP method to use.
func (w *Webhook) method() string {
	if w.Method == "" {
		return http.MethodPost
	}
	return w.Method
}

// Clone returns a deep copy of w.
func (w *Webhook) Clone() *Webhook {
	c := *w
	c.Triggers = append([]string(nil), w.Triggers...)
	if w.Channels != nil {
		c.Channels = append([]string(nil), w.Channels...)
	}
	if w.Headers != nil {
		c.Headers = make(map[string]string, len(w.Headers))
		for k, v := range w.Headers {
			c.Headers[k] = v
		}
	}
	return &c
}

// String describes the record without its secrets, and with its URL cut to
// scheme and host (see RedactURL).
func (w Webhook) String() string {
	secret := ""
	if w.Secret != "" {
		secret = " secret=[redacted]"
	}
	if w.PreviousSecret != "" {
		secret += " previous_secret=[redacted]"
	}
	tenant := ""
	if w.Tenant != "" {
		tenant = fmt.Sprintf(" tenant=%q", w.Tenant)
	}
	if len(w.Channels) > 0 {
		tenant += fmt.Sprintf(" channels=%v", w.Channels)
	}
	return fmt.Sprintf("webhook %s %q %s %s triggers=%v%s disabled=%t%s",
		w.ID, w.Name, w.method(), RedactURL(w.URL), w.Triggers, tenant, w.Disabled, secret)
}

// GoString is String, so that %#v does not print the secret either.
func (w Webhook) GoString() string { return w.String() }

// LogValue implements slog.LogValuer without the secrets, and with the URL
// cut to scheme and host (see RedactURL).
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", w.ID.String()),
		slog.String("name", w.Name),
		slog.String("tenant", w.Tenant),
		slog.String("url", RedactURL(w.URL)),
		slog.Bool("disabled", w.Disabled),
	)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// RedactURL returns raw cut to scheme://host, with "/…" when it had a path,
// a query, a fragment or credentials: receivers such as Slack carry tokens in
// the path or the query, and what is redacted ends up in logs. A URL that
// does not parse gives "[invalid URL]".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[invalid URL]"
	}
	return redact(u)
}
