package webhook

import (
	"fmt"
	"log/slog"
)

// redacted is what a Secret shows of itself.
const redacted = "[redacted]"

// Secret is a signing secret. It never shows its value: fmt (every verb,
// %#v included), encoding/json, encoding.TextMarshaler users and log/slog all
// see "[redacted]" (or "" when it is empty), so a record logged or encoded by
// accident, alone or inside a slice or a map, does not leak it. Read the value
// on purpose with Reveal.
//
// A Secret decodes from a JSON string as usual, so an admin API can accept
// one; it does not round-trip through JSON. Stores persist Reveal's value.
type Secret string

// Reveal returns the secret's value. Call it only where the value is needed:
// to sign, to verify, or to store it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without the value.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer without the value.
func (s Secret) GoString() string { return fmt.Sprintf("webhook.Secret(%q)", s.mask()) }

// Format implements fmt.Formatter, so that no verb prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.mask()))
}

// LogValue implements slog.LogValuer without the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalText implements encoding.TextMarshaler without the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// MarshalJSON implements json.Marshaler without the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.mask() + `"`), nil }

// UnmarshalText implements encoding.TextUnmarshaler: it takes the value as
// it is, so a Secret decodes from JSON and text formats like a string, except
// "[redacted]", what a Secret encodes to, which decodes to the empty Secret:
// a record read from JSON and written back keeps its stored secret.
func (s *Secret) UnmarshalText(b []byte) error {
	if string(b) == redacted {
		*s = ""
		return nil
	}
	*s = Secret(b)
	return nil
}

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return redacted
}
