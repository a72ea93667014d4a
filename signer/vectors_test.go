package signer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testVector is one entry of testdata/signatures.json, a copy of
// shared/vectors/signatures.json, computed independently of outhook.
type testVector struct {
	Scheme    string            `json:"scheme"`
	Algo      string            `json:"algo"`
	Header    string            `json:"header"`
	Prefix    string            `json:"prefix"`
	ID        string            `json:"id"`
	Timestamp int64             `json:"timestamp"`
	Secret    string            `json:"secret"`
	Body      string            `json:"body"`
	Headers   map[string]string `json:"headers"`
}

func loadVectors(tb testing.TB) []testVector {
	tb.Helper()
	b, err := os.ReadFile("testdata/signatures.json")
	require.NoError(tb, err)
	var f struct {
		Vectors []testVector `json:"vectors"`
	}
	require.NoError(tb, json.Unmarshal(b, &f))
	require.NotEmpty(tb, f.Vectors)
	return f.Vectors
}

func (v testVector) name(i int) string {
	return fmt.Sprintf("%02d-%s-%s", i, v.Scheme, v.Header)
}

// config maps the vector's descriptive scheme name to a canonical Config.
func (v testVector) config(tb testing.TB) Config {
	switch v.Scheme {
	case "typo3":
		return Config{Scheme: SchemeTYPO3, Algorithm: v.Algo}
	case "hmac-hex-body":
		return Config{Scheme: SchemeHMAC, Algorithm: v.Algo, Header: v.Header, Encoding: EncodingHex, Prefix: v.Prefix}
	case "hmac-base64-body":
		return Config{Scheme: SchemeHMAC, Algorithm: v.Algo, Header: v.Header, Encoding: EncodingBase64, Prefix: v.Prefix}
	case "static-token":
		return Config{Scheme: SchemeToken, Header: v.Header}
	case "standard-webhooks":
		return Config{Scheme: SchemeStandardWebhooks}
	}
	tb.Fatalf("vector scheme %q not mapped", v.Scheme)
	return Config{}
}

// aliasConfig is the vector's parameters under its own scheme name.
func (v testVector) aliasConfig() Config {
	return Config{Scheme: v.Scheme, Algorithm: v.Algo, Header: v.Header, Prefix: v.Prefix}
}

func (v testVector) input() Input {
	in := Input{Body: []byte(v.Body)}
	switch v.Scheme {
	case "typo3":
		in.WebhookID = v.ID
	case "standard-webhooks":
		in.MessageID = v.ID
		in.Timestamp = time.Unix(v.Timestamp, 0)
	}
	return in
}

func (v testVector) header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// opts returns the verifier options the vector needs: its record UUID and a
// clock at its timestamp.
func (v testVector) opts() []VerifierOption {
	opts := []VerifierOption{WithClock(func() time.Time { return time.Unix(v.Timestamp, 0) })}
	if v.Scheme == "typo3" {
		opts = append(opts, WithWebhookID(v.ID))
	}
	return opts
}

func TestVectorsSign(t *testing.T) {
	for i, v := range loadVectors(t) {
		t.Run(v.name(i), func(t *testing.T) {
			for _, cfg := range []Config{v.config(t), v.aliasConfig()} {
				s, err := New(cfg)
				require.NoError(t, err, "config %+v", cfg)
				h := http.Header{}
				require.NoError(t, s.Sign(h, []string{v.Secret}, v.input()))
				assert.Len(t, h, len(v.Headers), "headers set: %v", h)
				for k, want := range v.Headers {
					assert.Equal(t, want, h.Get(k), "header %s", k)
				}
				for _, k := range s.Headers() {
					assert.Equal(t, http.CanonicalHeaderKey(k), k, "Headers() must be canonical")
					assert.NotEmpty(t, h.Get(k), "Headers() lists %s but Sign did not set it", k)
				}
			}
		})
	}
}

func TestVectorsVerify(t *testing.T) {
	for i, v := range loadVectors(t) {
		t.Run(v.name(i), func(t *testing.T) {
			for _, cfg := range []Config{v.config(t), v.aliasConfig()} {
				vf, err := NewVerifier(cfg, []string{v.Secret}, v.opts()...)
				require.NoError(t, err, "config %+v", cfg)
				assert.NoError(t, vf.Verify(v.header(), []byte(v.Body)))

				// Lowercase header names, as the vectors and the spec write
				// them, must work when set directly in the map too.
				raw := http.Header{}
				for k, val := range v.Headers {
					raw[http.CanonicalHeaderKey(strings.ToLower(k))] = []string{val}
				}
				assert.NoError(t, vf.Verify(raw, []byte(v.Body)))

				// The secret is accepted in any position of a rotation list.
				other := v.Secret + "-other"
				if v.Scheme == "standard-webhooks" {
					other = mustSecret(t, SchemeStandardWebhooks)
				}
				vf, err = NewVerifier(cfg, []string{other, v.Secret}, v.opts()...)
				require.NoError(t, err)
				assert.NoError(t, vf.Verify(v.header(), []byte(v.Body)))
			}
		})
	}
}

func mustSecret(tb testing.TB, scheme string) string {
	tb.Helper()
	s, err := GenerateSecret(scheme)
	require.NoError(tb, err)
	return s
}
