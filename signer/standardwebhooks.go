package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers, in canonical form; the specification writes
// them in lowercase, which is the same to HTTP.
const (
	// HeaderWebhookID carries the message ID, the same on every retry.
	HeaderWebhookID = "Webhook-Id"
	// HeaderWebhookTimestamp carries the attempt time in Unix seconds.
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	// HeaderWebhookSignature carries space-separated "v1,<base64>" signatures.
	HeaderWebhookSignature = "Webhook-Signature"
)

// Svix's names for the Standard Webhooks headers, which its hosted service
// sends and its libraries accept; Verify accepts them too.
const (
	// HeaderSvixID is HeaderWebhookID as Svix names it.
	HeaderSvixID = "Svix-Id"
	// HeaderSvixTimestamp is HeaderWebhookTimestamp as Svix names it.
	HeaderSvixTimestamp = "Svix-Timestamp"
	// HeaderSvixSignature is HeaderWebhookSignature as Svix names it.
	HeaderSvixSignature = "Svix-Signature"
)

// headerSet names the three headers of one Standard Webhooks request.
type headerSet struct{ id, timestamp, signature string }

// headerSets are the names Verify reads, in order.
var headerSets = []headerSet{
	{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature},
	{HeaderSvixID, HeaderSvixTimestamp, HeaderSvixSignature},
}

// DefaultTolerance is how far a Standard Webhooks timestamp may be from the
// receiver's clock, either way, before Verify refuses it as a replay.
const DefaultTolerance = 5 * time.Minute

const whsecPrefix = "whsec_"

// Bounds of a Standard Webhooks key, from the specification.
const (
	minWhsecKey = 24
	maxWhsecKey = 64
)

// StandardWebhooks is the Standard Webhooks specification (standardwebhooks.com):
//
//	webhook-id: <in.MessageID>
//	webhook-timestamp: <in.Timestamp in Unix seconds>
//	webhook-signature: v1,<base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))>
//
// Secrets are "whsec_" followed by the standard base64 of the key bytes; the
// prefix may be left out, as the official libraries allow. Given several
// secrets, Sign sends one signature per secret, space-separated, so that
// receivers holding either the old or the new secret accept the request
// during a rotation. Verify also reads the headers under Svix's names
// (svix-id, svix-timestamp, svix-signature). Create it with
// NewStandardWebhooks.
//
// An empty body signs and verifies here and with the official Go library,
// but svix's Node library refuses it (it parses the body as JSON): send at
// least "{}" to receivers that may use it.
type StandardWebhooks struct {
	tolerance time.Duration
	now       func() time.Time
}

// NewStandardWebhooks returns the Standard Webhooks scheme. Its Verify
// checks timestamps as WithTolerance and WithClock say, or against
// DefaultTolerance and time.Now; an invalid option is refused with
// ErrInvalidConfig.
func NewStandardWebhooks(opts ...StandardWebhooksOption) (*StandardWebhooks, error) {
	o := defaultTimestampOptions()
	if err := applyOptions(&o, opts, StandardWebhooksOption.applyStandardWebhooks); err != nil {
		return nil, err
	}
	return newStandardWebhooks(o), nil
}

func newStandardWebhooks(o timestampOptions) *StandardWebhooks {
	return &StandardWebhooks{tolerance: o.tolerance, now: o.now}
}

var standardWebhooksHeaders = []string{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature}

// Headers implements Signer.
func (s *StandardWebhooks) Headers() []string { return standardWebhooksHeaders }

// Sign implements Signer. It signs with every non-empty secret; in.MessageID
// and in.Timestamp are required.
func (s *StandardWebhooks) Sign(h http.Header, secrets []string, in Input) error {
	if in.MessageID == "" {
		return errors.New("signer: standard-webhooks needs a message id")
	}
	if in.Timestamp.IsZero() {
		return errors.New("signer: standard-webhooks needs a timestamp")
	}
	ts := strconv.FormatInt(in.Timestamp.Unix(), 10)
	var sigs []string
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		key, err := whsecKey(secret)
		if err != nil {
			return err
		}
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(standardWebhooksMAC(key, in.MessageID, ts, in.Body)))
	}
	if len(sigs) == 0 {
		return ErrNoSecret
	}
	h.Set(HeaderWebhookID, in.MessageID)
	h.Set(HeaderWebhookTimestamp, ts)
	h.Set(HeaderWebhookSignature, strings.Join(sigs, " "))
	return nil
}

// Verify checks a received request: the three headers must be present, the
// timestamp within the tolerance of the clock, and one of the v1 signatures
// must match one of secrets; in.Body must be the exact body received, and
// the other fields of in are not used. Signatures of other versions are
// skipped, as the specification asks. The webhook-* headers are read first;
// when they are absent or do not verify, the svix-* headers are.
func (s *StandardWebhooks) Verify(h http.Header, secrets []string, in Input) error {
	_, _, err := s.verify(h, secrets, in.Body)
	return err
}

// verify is Verify, returning the message ID and the timestamp that were
// signed.
func (s *StandardWebhooks) verify(h http.Header, secrets []string, body []byte) (id string, signedAt time.Time, err error) {
	err = ErrMissingSignature
	tried := false
	for _, set := range headerSets {
		if h.Get(set.signature) == "" {
			continue
		}
		id, signedAt, setErr := s.verifySet(h, set, secrets, body)
		if setErr == nil {
			return id, signedAt, nil
		}
		if !tried {
			err, tried = setErr, true
		}
	}
	return "", time.Time{}, err
}

// verifySet checks the request under one set of header names.
func (s *StandardWebhooks) verifySet(h http.Header, set headerSet, secrets []string, body []byte) (string, time.Time, error) {
	id, ts, sig := h.Get(set.id), h.Get(set.timestamp), h.Get(set.signature)
	switch {
	case id == "":
		return "", time.Time{}, fmt.Errorf("%w: no %s header", ErrMissingSignature, set.id)
	case ts == "":
		return "", time.Time{}, fmt.Errorf("%w: no %s header", ErrMissingSignature, set.timestamp)
	}
	unix, err := parseTimestamp(set.timestamp, ts)
	if err != nil {
		return "", time.Time{}, err
	}
	signedAt := time.Unix(unix, 0)
	if d := s.now().Sub(signedAt); d > s.tolerance || d < -s.tolerance {
		return "", time.Time{}, fmt.Errorf("%w: %s is %d, %s from now (tolerance %s)",
			ErrTimestampOutOfRange, set.timestamp, unix, d.Round(time.Second), s.tolerance)
	}
	got := parseSignatures(sig)
	if len(got) == 0 {
		return "", time.Time{}, fmt.Errorf("%w: no v1 signature in %s", ErrInvalidSignature, set.signature)
	}
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		key, err := whsecKey(secret)
		if err != nil {
			return "", time.Time{}, err
		}
		want := standardWebhooksMAC(key, id, ts, body)
		for _, g := range got {
			if hmac.Equal(g, want) {
				return id, signedAt, nil
			}
		}
	}
	return "", time.Time{}, ErrInvalidSignature
}

// parseTimestamp accepts decimal digits only, as the specification writes
// them; header names the header ts came from.
func parseTimestamp(header, ts string) (int64, error) {
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return 0, fmt.Errorf("%w: %s %q is not Unix seconds", ErrInvalidSignature, header, clip(ts))
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix > 1<<40 { // far past any real clock; keeps time arithmetic exact
		return 0, fmt.Errorf("%w: %s %q is out of range", ErrTimestampOutOfRange, header, clip(ts))
	}
	return unix, nil
}

// maxSignatures bounds the work one header can ask for.
const maxSignatures = 32

// parseSignatures returns the decoded v1 signatures of a webhook-signature
// header value: "<version>,<base64>" entries separated by spaces, of which
// other versions and malformed entries are skipped. Only the space separates
// entries, as the specification says: an entry with a tab, CR or LF inside
// is malformed. It reads at most maxSignatures entries.
func parseSignatures(v string) [][]byte {
	var out [][]byte
	for n := 0; v != "" && n < maxSignatures; {
		var f string
		f, v, _ = strings.Cut(v, " ")
		if f == "" {
			continue
		}
		n++
		version, b64, ok := strings.Cut(f, ",")
		if !ok || version != "v1" || b64 == "" {
			continue
		}
		sig, err := decodeBase64(b64, true)
		if err != nil || len(sig) != sha256.Size {
			continue
		}
		out = append(out, sig)
	}
	return out
}

// whsecKey decodes a "whsec_<base64>" secret into its key bytes; like the
// official libraries, it takes the base64 without the prefix too.
func whsecKey(secret string) ([]byte, error) {
	key, err := decodeBase64(strings.TrimPrefix(secret, whsecPrefix), false)
	if err != nil {
		return nil, fmt.Errorf("%w: standard-webhooks secret is not base64 (with or without %q)", ErrInvalidSecret, whsecPrefix)
	}
	if len(key) < minWhsecKey || len(key) > maxWhsecKey {
		return nil, fmt.Errorf("%w: standard-webhooks key is %d bytes, want %d to %d", ErrInvalidSecret, len(key), minWhsecKey, maxWhsecKey)
	}
	return key, nil
}

func standardWebhooksMAC(key []byte, id, ts string, body []byte) []byte {
	return mac(sha256.New, key, []byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body)
}
