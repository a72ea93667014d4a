package signer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"unknown scheme", Config{Scheme: "rot13"}, ErrUnknownScheme},
		{"scheme is case-sensitive", Config{Scheme: "TYPO3"}, ErrUnknownScheme},
		{"typo3 bad algorithm", Config{Algorithm: "md5"}, ErrInvalidConfig},
		{"typo3 with header", Config{Header: "X-Sig"}, ErrInvalidConfig},
		{"typo3 with encoding", Config{Encoding: EncodingBase64}, ErrInvalidConfig},
		{"hmac bad algorithm", Config{Scheme: SchemeHMAC, Algorithm: "sha3"}, ErrInvalidConfig},
		{"hmac bad encoding", Config{Scheme: SchemeHMAC, Encoding: "base32"}, ErrInvalidConfig},
		{"hmac header with space", Config{Scheme: SchemeHMAC, Header: "X Sig"}, ErrInvalidConfig},
		{"hmac header with colon", Config{Scheme: SchemeHMAC, Header: "X-Sig:"}, ErrInvalidConfig},
		{"hmac header with newline", Config{Scheme: SchemeHMAC, Header: "X-Sig\r\nX-Evil"}, ErrInvalidConfig},
		{"hmac header non-ascii", Config{Scheme: SchemeHMAC, Header: "X-Sïg"}, ErrInvalidConfig},
		{"hmac reserved header", Config{Scheme: SchemeHMAC, Header: "content-type"}, ErrInvalidConfig},
		{"hmac huge header name", Config{Scheme: SchemeHMAC, Header: strings.Repeat("X", 300)}, ErrInvalidConfig},
		{"hmac prefix with newline", Config{Scheme: SchemeHMAC, Prefix: "sha256=\n"}, ErrInvalidConfig},
		{"alias encoding contradiction", Config{Scheme: "hmac-hex-body", Encoding: EncodingBase64}, ErrInvalidConfig},
		{"standard-webhooks sha512", Config{Scheme: SchemeStandardWebhooks, Algorithm: "sha512"}, ErrInvalidConfig},
		{"standard-webhooks header", Config{Scheme: SchemeStandardWebhooks, Header: "X-Sig"}, ErrInvalidConfig},
		{"token algorithm", Config{Scheme: SchemeToken, Algorithm: "sha256"}, ErrInvalidConfig},
		{"token bad header", Config{Scheme: SchemeToken, Header: "Verification Signature"}, ErrInvalidConfig},
		{"token host header", Config{Scheme: SchemeToken, Header: "Host"}, ErrInvalidConfig},
		{"none with prefix", Config{Scheme: SchemeNone, Prefix: "x"}, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, s)
			assert.ErrorIs(t, tt.cfg.Validate(), tt.want)
		})
	}
}

func TestNewValidConfigs(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		headers []string
	}{
		{"zero value is typo3", Config{}, []string{"Webhook-Signature", "Webhook-Signature-Algo"}},
		{"typo3 sha512", Config{Scheme: SchemeTYPO3, Algorithm: "sha512"}, []string{"Webhook-Signature", "Webhook-Signature-Algo"}},
		{"hmac defaults", Config{Scheme: SchemeHMAC}, []string{DefaultHMACHeader}},
		{"hmac github", Config{Scheme: SchemeHMAC, Header: "x-hub-signature-256", Prefix: "sha256="}, []string{"X-Hub-Signature-256"}},
		{"hmac legacy sha1", Config{Scheme: SchemeHMAC, Algorithm: "sha1", Header: "X-Hub-Signature", Prefix: "sha1="}, []string{"X-Hub-Signature"}},
		{"hmac tiki", Config{Scheme: SchemeHMAC, Header: "Webhook-Signature", Encoding: EncodingBase64}, []string{"Webhook-Signature"}},
		{"standard-webhooks", Config{Scheme: SchemeStandardWebhooks}, []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}},
		{"standard-webhooks explicit sha256", Config{Scheme: SchemeStandardWebhooks, Algorithm: "sha256"}, []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}},
		{"token default", Config{Scheme: SchemeToken}, []string{DefaultTokenHeader}},
		{"token bearer", Config{Scheme: SchemeToken, Header: "Authorization", Prefix: "Bearer "}, []string{"Authorization"}},
		{"static-token alias", Config{Scheme: "static-token"}, []string{DefaultTokenHeader}},
		{"none", Config{Scheme: SchemeNone}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.headers, s.Headers())
			assert.NoError(t, tt.cfg.Validate())
		})
	}
}

func TestConfigJSON(t *testing.T) {
	b, err := json.Marshal(Config{})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(b))

	in := Config{Scheme: SchemeHMAC, Algorithm: "sha512", Header: "X-Sig", Encoding: EncodingBase64, Prefix: "v="}
	b, err = json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"scheme":"hmac","algorithm":"sha512","header":"X-Sig","encoding":"base64","prefix":"v="}`, string(b))
	var out Config
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)
}

func TestGenerateSecret(t *testing.T) {
	for _, scheme := range []string{"", SchemeTYPO3, SchemeHMAC, SchemeStandardWebhooks, SchemeToken, "hmac-base64-body", "static-token"} {
		t.Run(scheme, func(t *testing.T) {
			a, err := GenerateSecret(scheme)
			require.NoError(t, err)
			b, err := GenerateSecret(scheme)
			require.NoError(t, err)
			assert.NotEqual(t, a, b)
			assert.NoError(t, ValidateSecret(Config{Scheme: scheme}, a))
			if scheme == SchemeStandardWebhooks {
				key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(a, "whsec_"))
				assert.GreaterOrEqual(t, len(key), 24)
				assert.LessOrEqual(t, len(key), 32)
			} else {
				assert.Len(t, a, 64)
			}
		})
	}
	s, err := GenerateSecret(SchemeNone)
	require.NoError(t, err)
	assert.Empty(t, s)
	_, err = GenerateSecret("rot13")
	assert.ErrorIs(t, err, ErrUnknownScheme)
}

func TestValidateSecret(t *testing.T) {
	sw := Config{Scheme: SchemeStandardWebhooks}
	tests := []struct {
		name   string
		cfg    Config
		secret string
		want   error
	}{
		{"typo3 any text", Config{}, "s3cr3t with spaces and ünïcode", nil},
		{"typo3 empty", Config{}, "", ErrNoSecret},
		{"hmac empty", Config{Scheme: SchemeHMAC}, "", ErrNoSecret},
		{"whsec published example", sw, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", nil},
		{"standard-webhooks base64 without whsec_, as the official library takes it", sw, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", nil},
		{"standard-webhooks base64 without whsec_, too short", sw, base64.StdEncoding.EncodeToString(make([]byte, 16)), ErrInvalidSecret},
		{"standard-webhooks plain text", sw, "hunter2", ErrInvalidSecret},
		{"whsec not base64", sw, "whsec_not base64!!", ErrInvalidSecret},
		{"whsec with a line break", sw, "whsec_MfKQ9r8GKYqrTwjU\r\nPD8ILPZIo2LaLaSw", ErrInvalidSecret},
		{"whsec with a trailing line break", sw, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", ErrInvalidSecret},
		{"whsec truncated", sw, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", ErrInvalidSecret},
		{"whsec too short", sw, "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)), ErrInvalidSecret},
		{"whsec too long", sw, "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), ErrInvalidSecret},
		{"whsec empty key", sw, "whsec_", ErrInvalidSecret},
		{"whsec empty", sw, "", ErrNoSecret},
		{"token with newline", Config{Scheme: SchemeToken}, "abc\r\nX-Evil: 1", ErrInvalidSecret},
		{"token with trailing space", Config{Scheme: SchemeToken}, "abc ", ErrInvalidSecret},
		{"token unicode", Config{Scheme: SchemeToken}, "s3cr3t with spaces and ünïcode", nil},
		{"none ignores secret", Config{Scheme: SchemeNone}, "", nil},
		{"bad config first", Config{Scheme: "rot13"}, "x", ErrUnknownScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSecret(tt.cfg, tt.secret)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			if tt.secret != "" {
				assert.NotContains(t, err.Error(), tt.secret, "errors must never show the secret")
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	in := Input{WebhookID: "id", MessageID: "msg_1", Timestamp: time.Unix(1700000000, 0), Body: []byte("{}")}
	tests := []struct {
		name    string
		cfg     Config
		secrets []string
		in      Input
		want    error
	}{
		{"typo3 no secret", Config{}, nil, in, ErrNoSecret},
		{"typo3 empty secret", Config{}, []string{""}, in, ErrNoSecret},
		{"hmac no secret", Config{Scheme: SchemeHMAC}, nil, in, ErrNoSecret},
		{"token no secret", Config{Scheme: SchemeToken}, []string{}, in, ErrNoSecret},
		{"token header injection", Config{Scheme: SchemeToken}, []string{"a\nb"}, in, ErrInvalidSecret},
		{"standard-webhooks no secret", Config{Scheme: SchemeStandardWebhooks}, nil, in, ErrNoSecret},
		{"standard-webhooks malformed secret", Config{Scheme: SchemeStandardWebhooks}, []string{"hunter2"}, in, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			require.NoError(t, err)
			h := http.Header{}
			assert.ErrorIs(t, s.Sign(h, tt.secrets, tt.in), tt.want)
			assert.Empty(t, h, "a failed Sign sets no header")
		})
	}

	s, err := New(Config{Scheme: SchemeStandardWebhooks})
	require.NoError(t, err)
	secret := mustSecret(t, SchemeStandardWebhooks)
	assert.Error(t, s.Sign(http.Header{}, []string{secret}, Input{Timestamp: in.Timestamp}), "message id is required")
	assert.Error(t, s.Sign(http.Header{}, []string{secret}, Input{MessageID: "msg_1"}), "timestamp is required")

	none, err := New(Config{Scheme: SchemeNone})
	require.NoError(t, err)
	h := http.Header{}
	assert.NoError(t, none.Sign(h, nil, in))
	assert.Empty(t, h)
}

func TestStandardWebhooksRotation(t *testing.T) {
	current, previous := mustSecret(t, SchemeStandardWebhooks), mustSecret(t, SchemeStandardWebhooks)
	s, err := New(Config{Scheme: SchemeStandardWebhooks})
	require.NoError(t, err)
	at := time.Unix(1700000000, 0)
	in := Input{MessageID: "msg_rot", Timestamp: at, Body: []byte(`{"a":1}`)}
	h := http.Header{}
	require.NoError(t, s.Sign(h, []string{current, previous}, in))

	sigs := strings.Split(h.Get(HeaderWebhookSignature), " ")
	require.Len(t, sigs, 2)
	for _, sig := range sigs {
		assert.True(t, strings.HasPrefix(sig, "v1,"))
	}
	for name, secrets := range map[string][]string{
		"receiver has current":  {current},
		"receiver has previous": {previous},
		"receiver has both":     {previous, current},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, secrets, WithClock(func() time.Time { return at }))
			require.NoError(t, err)
			assert.NoError(t, v.Verify(h, in.Body))
		})
	}
}

func TestStandardWebhooksTolerance(t *testing.T) {
	secret := mustSecret(t, SchemeStandardWebhooks)
	s, err := New(Config{Scheme: SchemeStandardWebhooks})
	require.NoError(t, err)
	signedAt := time.Unix(1700000000, 0)
	h := http.Header{}
	body := []byte(`{}`)
	require.NoError(t, s.Sign(h, []string{secret}, Input{MessageID: "msg_t", Timestamp: signedAt, Body: body}))

	tests := []struct {
		name      string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"same second", signedAt, 0, nil},
		{"just inside default, late", signedAt.Add(5 * time.Minute), 0, nil},
		{"just inside default, early", signedAt.Add(-5 * time.Minute), 0, nil},
		{"old", signedAt.Add(5*time.Minute + time.Second), 0, ErrTimestampOutOfRange},
		{"future", signedAt.Add(-5*time.Minute - time.Second), 0, ErrTimestampOutOfRange},
		{"a day old", signedAt.Add(24 * time.Hour), 0, ErrTimestampOutOfRange},
		{"custom tolerance accepts", signedAt.Add(30 * time.Minute), time.Hour, nil},
		{"custom tolerance refuses", signedAt.Add(31 * time.Second), 30 * time.Second, ErrTimestampOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []VerifierOption{WithClock(func() time.Time { return tt.now })}
			if tt.tolerance > 0 {
				opts = append(opts, WithTolerance(tt.tolerance))
			}
			v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{secret}, opts...)
			require.NoError(t, err)
			err = v.Verify(h, body)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}

	sw, err := NewStandardWebhooks(WithClock(func() time.Time { return signedAt }))
	require.NoError(t, err)
	assert.NoError(t, sw.Verify(h, []string{secret}, Input{Body: body}))
	_, err = NewStandardWebhooks(WithTolerance(-time.Second))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewStandardWebhooks(WithClock(nil))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestNewVerifierErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		secrets []string
		opts    []VerifierOption
		want    error
	}{
		{"unknown scheme", Config{Scheme: "rot13"}, []string{"x"}, nil, ErrUnknownScheme},
		{"bad algorithm", Config{Scheme: SchemeHMAC, Algorithm: "md5"}, []string{"x"}, nil, ErrInvalidConfig},
		{"typo3 without webhook id", Config{}, []string{"x"}, nil, ErrInvalidConfig},
		{"no secrets", Config{Scheme: SchemeHMAC}, nil, nil, ErrNoSecret},
		{"empty secret", Config{Scheme: SchemeHMAC}, []string{"x", ""}, nil, ErrNoSecret},
		{"malformed whsec", Config{Scheme: SchemeStandardWebhooks}, []string{"whsec_%%%"}, nil, ErrInvalidSecret},
		{"bad tolerance", Config{Scheme: SchemeHMAC}, []string{"x"}, []VerifierOption{WithTolerance(0)}, ErrInvalidConfig},
		{"negative tolerance", Config{Scheme: SchemeStandardWebhooks}, []string{mustSecret(t, SchemeStandardWebhooks)}, []VerifierOption{WithTolerance(-time.Second)}, ErrInvalidConfig},
		{"nil clock", Config{Scheme: SchemeStandardWebhooks}, []string{mustSecret(t, SchemeStandardWebhooks)}, []VerifierOption{WithClock(nil)}, ErrInvalidConfig},
		{"zero TimestampOption", Config{Scheme: SchemeHMAC}, []string{"x"}, []VerifierOption{TimestampOption{}}, ErrInvalidConfig},
		{"nil option", Config{Scheme: SchemeHMAC}, []string{"x"}, []VerifierOption{nil}, ErrInvalidConfig},
		{"webhook id for hmac", Config{Scheme: SchemeHMAC}, []string{"x"}, []VerifierOption{WithWebhookID(testUUID)}, ErrInvalidConfig},
		{"webhook id for none", Config{Scheme: SchemeNone}, nil, []VerifierOption{WithWebhookID(testUUID)}, ErrInvalidConfig},
		{"none with a secret", Config{Scheme: SchemeNone}, []string{"x"}, nil, ErrInvalidConfig},
		{"none with an empty secret", Config{Scheme: SchemeNone}, []string{""}, nil, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg, tt.secrets, tt.opts...)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, v)
		})
	}
	v, err := NewVerifier(Config{Scheme: SchemeNone}, nil)
	require.NoError(t, err)
	assert.NoError(t, v.Verify(http.Header{}, nil), "none accepts everything")
}

// TestVerifyNegative alters each vector in the ways an attacker or a broken
// sender would, and checks that every verifier refuses with the right error.
func TestVerifyNegative(t *testing.T) {
	huge := strings.Repeat("A", 1<<20)
	type mutation struct {
		name   string
		apply  func(v *testVector, h http.Header, body *[]byte, opts *[]VerifierOption, secret *string)
		want   error
		scheme string                // only for this vector scheme, "" for all
		skip   func(testVector) bool // vectors the mutation does not apply to
	}
	bodyless := func(v testVector) bool { return v.Scheme == "static-token" } // a token does not cover the body
	sigHeader := func(v testVector) string {
		switch v.Scheme {
		case "typo3":
			return HeaderTYPO3Signature
		case "standard-webhooks":
			return HeaderWebhookSignature
		}
		return v.Header
	}
	mutations := []mutation{
		{name: "tampered body", want: ErrInvalidSignature, skip: bodyless, apply: func(v *testVector, h http.Header, body *[]byte, _ *[]VerifierOption, _ *string) {
			*body = append([]byte(nil), *body...)
			*body = append(*body, ' ')
		}},
		{name: "empty body instead", want: ErrInvalidSignature, skip: bodyless, apply: func(v *testVector, h http.Header, body *[]byte, _ *[]VerifierOption, _ *string) {
			if len(*body) == 0 {
				*body = []byte("{}")
			} else {
				*body = nil
			}
		}},
		{name: "wrong secret", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, secret *string) {
			if v.Scheme == "standard-webhooks" {
				*secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-of-24-byt"))
			} else {
				*secret = "not-" + *secret
			}
		}},
		{name: "missing signature header", want: ErrMissingSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Del(sigHeader(*v))
		}},
		{name: "empty signature header", want: ErrMissingSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(sigHeader(*v), "")
		}},
		{name: "no headers", want: ErrMissingSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			for k := range h {
				delete(h, k)
			}
		}},
		{name: "garbage signature", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(sigHeader(*v), "!!garbage%%")
		}},
		{name: "truncated signature", want: ErrInvalidSignature, skip: func(v testVector) bool { return len(v.Secret) < 2 }, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			s := h.Get(sigHeader(*v))
			h.Set(sigHeader(*v), s[:len(s)/2])
		}},
		{name: "signature with a byte changed", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			s := []byte(h.Get(sigHeader(*v)))
			i := len(s) * 2 / 3 // inside the MAC, before any base64 padding
			if s[i] == 'a' {
				s[i] = 'b'
			} else {
				s[i] = 'a'
			}
			h.Set(sigHeader(*v), string(s))
		}},
		// Go's base64 decoder skips CR and LF, even in strict mode.
		{name: "line break inside the signature", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			s := h.Get(sigHeader(*v))
			i := len(s) / 2
			h.Set(sigHeader(*v), s[:i]+"\r\n"+s[i:])
		}},
		{name: "line break after the v1 signature", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookSignature, h.Get(HeaderWebhookSignature)+"\r\n")
		}},
		{name: "tab between v1 signatures", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))+"\t"+h.Get(HeaderWebhookSignature))
		}},
		{name: "huge signature header", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(sigHeader(*v), huge)
		}},
		{name: "valid signature after 1000 decoys", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			decoy := "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32)) + " "
			h.Set(sigHeader(*v), strings.Repeat(decoy, 1000)+h.Get(sigHeader(*v)))
		}},
		{name: "wrong uuid", scheme: "typo3", want: ErrInvalidSignature, apply: func(v *testVector, _ http.Header, _ *[]byte, opts *[]VerifierOption, _ *string) {
			*opts = append(*opts, WithWebhookID("11111111-1111-4111-8111-111111111111"))
		}},
		{name: "algo header says sha512", scheme: "typo3", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderTYPO3Algo, "sha512")
		}},
		{name: "uppercase hex is the same MAC", scheme: "typo3", want: nil, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderTYPO3Signature, strings.ToUpper(h.Get(HeaderTYPO3Signature)))
		}},
		{name: "hmac prefix missing", scheme: "hmac-hex-body", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			if v.Prefix == "" {
				h.Set(v.Header, "sha256="+h.Get(v.Header))
			} else {
				h.Set(v.Header, strings.TrimPrefix(h.Get(v.Header), v.Prefix))
			}
		}},
		{name: "token with prefix garbage", scheme: "static-token", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(v.Header, "x"+h.Get(v.Header))
		}},
		{name: "old timestamp", scheme: "standard-webhooks", want: ErrTimestampOutOfRange, apply: func(v *testVector, _ http.Header, _ *[]byte, opts *[]VerifierOption, _ *string) {
			*opts = append(*opts, WithClock(func() time.Time { return time.Unix(v.Timestamp, 0).Add(6 * time.Minute) }))
		}},
		{name: "future timestamp", scheme: "standard-webhooks", want: ErrTimestampOutOfRange, apply: func(v *testVector, _ http.Header, _ *[]byte, opts *[]VerifierOption, _ *string) {
			*opts = append(*opts, WithClock(func() time.Time { return time.Unix(v.Timestamp, 0).Add(-6 * time.Minute) }))
		}},
		{name: "timestamp changed by a second", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookTimestamp, strconv.FormatInt(v.Timestamp+1, 10))
		}},
		{name: "garbage timestamp", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookTimestamp, "1700000000.5")
		}},
		{name: "negative timestamp", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookTimestamp, "-1")
		}},
		{name: "enormous timestamp", scheme: "standard-webhooks", want: ErrTimestampOutOfRange, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookTimestamp, strings.Repeat("9", 40))
		}},
		{name: "missing timestamp", scheme: "standard-webhooks", want: ErrMissingSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Del(HeaderWebhookTimestamp)
		}},
		{name: "missing id", scheme: "standard-webhooks", want: ErrMissingSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Del(HeaderWebhookID)
		}},
		{name: "other message id", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookID, v.ID+"x")
		}},
		{name: "only a v2 signature", scheme: "standard-webhooks", want: ErrInvalidSignature, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookSignature, "v2"+strings.TrimPrefix(h.Get(HeaderWebhookSignature), "v1"))
		}},
		{name: "valid among garbage", scheme: "standard-webhooks", want: nil, apply: func(v *testVector, h http.Header, _ *[]byte, _ *[]VerifierOption, _ *string) {
			h.Set(HeaderWebhookSignature, "v1a,xx v2,abc v1, ,,, "+h.Get(HeaderWebhookSignature)+" v1,!!")
		}},
	}
	vectors := loadVectors(t)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			ran := 0
			for i, v := range vectors {
				alias := v.Scheme
				if alias == "hmac-base64-body" {
					alias = "hmac-hex-body"
				}
				if m.scheme != "" && m.scheme != alias {
					continue
				}
				if m.skip != nil && m.skip(v) {
					continue
				}
				ran++
				t.Run(v.name(i), func(t *testing.T) {
					v := v
					h, body, opts, secret := v.header(), []byte(v.Body), v.opts(), v.Secret
					m.apply(&v, h, &body, &opts, &secret)
					vf, err := NewVerifier(v.config(t), []string{secret}, opts...)
					require.NoError(t, err)
					err = vf.Verify(h, body)
					if m.want == nil {
						assert.NoError(t, err)
						return
					}
					require.Error(t, err)
					assert.True(t, errors.Is(err, m.want), "got %v, want %v", err, m.want)
					assert.Less(t, len(err.Error()), 300, "errors stay short whatever the input")
				})
			}
			require.NotZero(t, ran, "mutation applied to no vector")
		})
	}
}

// TestStandardWebhooksSvixHeaders checks that Verify reads the headers under
// Svix's names too, as its hosted service sends them.
func TestStandardWebhooksSvixHeaders(t *testing.T) {
	secret := mustSecret(t, SchemeStandardWebhooks)
	s, err := New(Config{Scheme: SchemeStandardWebhooks})
	require.NoError(t, err)
	body := []byte(`{"a":1}`)
	signed := http.Header{}
	require.NoError(t, s.Sign(signed, []string{secret}, Input{MessageID: "msg_svix", Timestamp: testNow, Body: body}))
	asSvix := func(h http.Header) http.Header {
		out := http.Header{}
		out.Set("svix-id", h.Get(HeaderWebhookID))
		out.Set("svix-timestamp", h.Get(HeaderWebhookTimestamp))
		out.Set("svix-signature", h.Get(HeaderWebhookSignature))
		return out
	}
	tests := []struct {
		name string
		h    func() http.Header
		want error
	}{
		{"svix headers", func() http.Header { return asSvix(signed) }, nil},
		{"svix headers beside a TYPO3 Webhook-Signature", func() http.Header {
			h := asSvix(signed)
			h.Set(HeaderTYPO3Signature, strings.Repeat("ab", 32))
			return h
		}, nil},
		{"both sets, webhook-* tampered", func() http.Header {
			h := asSvix(signed)
			h.Set(HeaderWebhookID, "msg_other")
			h.Set(HeaderWebhookTimestamp, signed.Get(HeaderWebhookTimestamp))
			h.Set(HeaderWebhookSignature, signed.Get(HeaderWebhookSignature))
			return h
		}, nil},
		{"svix id changed", func() http.Header {
			h := asSvix(signed)
			h.Set("svix-id", "msg_other")
			return h
		}, ErrInvalidSignature},
		{"svix id missing", func() http.Header {
			h := asSvix(signed)
			h.Del("svix-id")
			return h
		}, ErrMissingSignature},
		{"svix timestamp old", func() http.Header {
			h := asSvix(signed)
			h.Set("svix-timestamp", strconv.FormatInt(testNow.Add(-time.Hour).Unix(), 10))
			return h
		}, ErrTimestampOutOfRange},
		{"mixed names are not one set", func() http.Header {
			h := asSvix(signed)
			h.Del("svix-id")
			h.Set(HeaderWebhookID, signed.Get(HeaderWebhookID))
			return h
		}, ErrMissingSignature},
		{"webhook-* errors are reported first", func() http.Header {
			h := asSvix(signed)
			h.Set("svix-id", "msg_other")
			h.Set(HeaderWebhookSignature, signed.Get(HeaderWebhookSignature))
			return h
		}, ErrMissingSignature},
	}
	v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{secret}, WithClock(func() time.Time { return testNow }))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.h(), body)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

// TestStandardWebhooksSecretWithoutPrefix checks that the base64 of a key,
// without "whsec_", is the same secret as with it.
func TestStandardWebhooksSecretWithoutPrefix(t *testing.T) {
	const withPrefix = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	withoutPrefix := strings.TrimPrefix(withPrefix, "whsec_")
	s, err := New(Config{Scheme: SchemeStandardWebhooks})
	require.NoError(t, err)
	body := []byte(`{"test": 2432232314}`)
	in := Input{MessageID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Timestamp: time.Unix(1614265330, 0), Body: body}
	for _, signWith := range []string{withPrefix, withoutPrefix} {
		h := http.Header{}
		require.NoError(t, s.Sign(h, []string{signWith}, in))
		assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", h.Get(HeaderWebhookSignature), "signed with %s", signWith)
		for _, verifyWith := range []string{withPrefix, withoutPrefix} {
			v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{verifyWith}, WithClock(func() time.Time { return in.Timestamp }))
			require.NoError(t, err)
			assert.NoError(t, v.Verify(h, body), "signed with %s, verified with %s", signWith, verifyWith)
		}
	}
}

// TestTYPO3MismatchNamesRecordID checks that a TYPO3 refusal says the record
// UUID is signed: a wrong UUID and a wrong secret fail the same way.
func TestTYPO3MismatchNamesRecordID(t *testing.T) {
	const otherUUID = "11111111-1111-4111-8111-111111111111"
	s, err := New(Config{})
	require.NoError(t, err)
	body := []byte(`{"a":1}`)
	h := http.Header{}
	require.NoError(t, s.Sign(h, []string{testSecret}, Input{WebhookID: testUUID, Body: body}))
	tests := []struct {
		name, webhookID, secret string
	}{
		{"wrong record uuid", otherUUID, testSecret},
		{"wrong secret", testUUID, "guess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(Config{}, []string{tt.secret}, WithWebhookID(tt.webhookID))
			require.NoError(t, err)
			err = v.Verify(h, body)
			require.ErrorIs(t, err, ErrInvalidSignature)
			assert.Contains(t, err.Error(), `"<record uuid>:<body>"`)
			assert.Contains(t, err.Error(), tt.webhookID, "the uuid that was tried")
			assert.NotContains(t, err.Error(), tt.secret)
		})
	}
}
