package signer

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionTypes pins which constructor takes which option. The compiler
// refuses the others; this table says so where a reader looks.
func TestOptionTypes(t *testing.T) {
	tests := []struct {
		name                              string
		opt                               any
		verifier, receiver, standardHooks bool
	}{
		{"WithTolerance", WithTolerance(time.Minute), true, true, true},
		{"WithClock", WithClock(time.Now), true, true, true},
		{"WithWebhookID", WithWebhookID(testUUID), true, false, false},
		{"WithMaxBodyBytes", WithMaxBodyBytes(1), false, true, false},
		{"WithOnReject", WithOnReject(nil), false, true, false},
		{"WithAllowUnsigned", WithAllowUnsigned(), false, true, false},
		{"WithBodyReadTimeout", WithBodyReadTimeout(time.Second), false, true, false},
		{"WithReplayGuard", WithReplayGuard(failingGuard{}), false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, v := tt.opt.(VerifierOption)
			_, r := tt.opt.(ReceiverOption)
			_, s := tt.opt.(StandardWebhooksOption)
			assert.Equal(t, tt.verifier, v, "VerifierOption")
			assert.Equal(t, tt.receiver, r, "ReceiverOption")
			assert.Equal(t, tt.standardHooks, s, "StandardWebhooksOption")
		})
	}
}

// timestampCheck builds, with one of the constructors that take a
// TimestampOption, a check of a Standard Webhooks request signed with secret.
type timestampCheck func(secret string, opts []TimestampOption) (func(h http.Header, body []byte) error, error)

var timestampChecks = map[string]timestampCheck{
	"NewVerifier": func(secret string, opts []TimestampOption) (func(http.Header, []byte) error, error) {
		v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{secret}, as[VerifierOption](opts)...)
		if err != nil {
			return nil, err
		}
		return v.Verify, nil
	},
	"NewReceiver": func(secret string, opts []TimestampOption) (func(http.Header, []byte) error, error) {
		rc, err := NewReceiver([]Handler{{Config: Config{Scheme: SchemeStandardWebhooks}, Secrets: []string{secret}}},
			as[ReceiverOption](opts)...)
		if err != nil {
			return nil, err
		}
		return func(h http.Header, body []byte) error {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header = h
			_, _, err := rc.Verify(r)
			return err
		}, nil
	},
	"NewStandardWebhooks": func(secret string, opts []TimestampOption) (func(http.Header, []byte) error, error) {
		sw, err := NewStandardWebhooks(as[StandardWebhooksOption](opts)...)
		if err != nil {
			return nil, err
		}
		return func(h http.Header, body []byte) error {
			return sw.Verify(h, []string{secret}, Input{Body: body})
		}, nil
	},
}

// as converts TimestampOptions to one constructor's option type.
func as[O any](opts []TimestampOption) []O {
	out := make([]O, len(opts))
	for i, o := range opts {
		out[i] = any(o).(O)
	}
	return out
}

// TestTimestampOptions checks that WithTolerance and WithClock take effect,
// and refuse invalid values, on every constructor that accepts them.
func TestTimestampOptions(t *testing.T) {
	secret := mustSecret(t, SchemeStandardWebhooks)
	s, err := NewStandardWebhooks()
	require.NoError(t, err)
	body := []byte(`{"a":1}`)
	signed := http.Header{}
	require.NoError(t, s.Sign(signed, []string{secret}, Input{MessageID: "msg_1", Timestamp: testNow, Body: body}))

	clockAt := func(d time.Duration) TimestampOption {
		return WithClock(func() time.Time { return testNow.Add(d) })
	}
	tests := []struct {
		name       string
		opts       []TimestampOption
		wantNew    error
		wantVerify error
	}{
		{"the wall clock by default", nil, nil, ErrTimestampOutOfRange}, // signed in 2023
		{"WithClock at the signing time", []TimestampOption{clockAt(0)}, nil, nil},
		{"default tolerance, 5m late", []TimestampOption{clockAt(5 * time.Minute)}, nil, nil},
		{"default tolerance, 5m1s late", []TimestampOption{clockAt(5*time.Minute + time.Second)}, nil, ErrTimestampOutOfRange},
		{"default tolerance, 5m1s early", []TimestampOption{clockAt(-5*time.Minute - time.Second)}, nil, ErrTimestampOutOfRange},
		{"WithTolerance widens", []TimestampOption{clockAt(30 * time.Minute), WithTolerance(time.Hour)}, nil, nil},
		{"WithTolerance narrows", []TimestampOption{WithTolerance(30 * time.Second), clockAt(31 * time.Second)}, nil, ErrTimestampOutOfRange},
		{"the later tolerance wins", []TimestampOption{clockAt(30 * time.Minute), WithTolerance(time.Second), WithTolerance(time.Hour)}, nil, nil},
		{"the later clock wins", []TimestampOption{clockAt(time.Hour), clockAt(0)}, nil, nil},
		{"zero tolerance", []TimestampOption{WithTolerance(0)}, ErrInvalidConfig, nil},
		{"negative tolerance", []TimestampOption{WithTolerance(-time.Second)}, ErrInvalidConfig, nil},
		{"nil clock", []TimestampOption{WithClock(nil)}, ErrInvalidConfig, nil},
		{"zero TimestampOption", []TimestampOption{{}}, ErrInvalidConfig, nil},
	}
	for ctor, build := range timestampChecks {
		for _, tt := range tests {
			t.Run(ctor+"/"+tt.name, func(t *testing.T) {
				check, err := build(secret, tt.opts)
				if tt.wantNew != nil {
					assert.ErrorIs(t, err, tt.wantNew)
					assert.Nil(t, check)
					return
				}
				require.NoError(t, err)
				err = check(signed.Clone(), body)
				if tt.wantVerify == nil {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, tt.wantVerify)
				}
			})
		}
	}
}

func TestWithWebhookID(t *testing.T) {
	otherUUID := "11111111-1111-4111-8111-111111111111"
	s, err := New(Config{})
	require.NoError(t, err)
	body := []byte(`{"a":1}`)
	h := http.Header{}
	require.NoError(t, s.Sign(h, []string{testSecret}, Input{WebhookID: testUUID, Body: body}))

	tests := []struct {
		name       string
		cfg        Config
		opts       []VerifierOption
		wantNew    error
		wantVerify error
	}{
		{"the sender's id", Config{}, []VerifierOption{WithWebhookID(testUUID)}, nil, nil},
		{"another record's id", Config{}, []VerifierOption{WithWebhookID(otherUUID)}, nil, ErrInvalidSignature},
		{"the later id wins", Config{}, []VerifierOption{WithWebhookID(otherUUID), WithWebhookID(testUUID)}, nil, nil},
		{"typo3 without it", Config{}, nil, ErrInvalidConfig, nil},
		{"typo3 with an empty id", Config{}, []VerifierOption{WithWebhookID("")}, ErrInvalidConfig, nil},
		{"hmac does not sign it", githubCfg, []VerifierOption{WithWebhookID(testUUID)}, ErrInvalidConfig, nil},
		{"token does not sign it", Config{Scheme: SchemeToken}, []VerifierOption{WithWebhookID(testUUID)}, ErrInvalidConfig, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg, []string{testSecret}, tt.opts...)
			if tt.wantNew != nil {
				assert.ErrorIs(t, err, tt.wantNew)
				assert.Nil(t, v)
				return
			}
			require.NoError(t, err)
			err = v.Verify(h, body)
			if tt.wantVerify == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.wantVerify)
			}
		})
	}
}

func TestWithMaxBodyBytes(t *testing.T) {
	tests := []struct {
		name    string
		opts    []ReceiverOption
		size    int
		wantErr error
	}{
		{"at the limit", []ReceiverOption{WithMaxBodyBytes(10)}, 10, nil},
		{"over the limit", []ReceiverOption{WithMaxBodyBytes(10)}, 11, ErrBodyTooLarge},
		{"the later limit wins", []ReceiverOption{WithMaxBodyBytes(10), WithMaxBodyBytes(20)}, 20, nil},
		{"at the default", nil, DefaultMaxBodyBytes, nil},
		{"over the default", nil, DefaultMaxBodyBytes + 1, ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := NewReceiver([]Handler{{Name: "github", Config: githubCfg, Secrets: []string{testSecret}}}, tt.opts...)
			require.NoError(t, err)
			req := signedRequest(t, "http://127.0.0.1/", githubCfg, []string{testSecret}, strings.Repeat("x", tt.size))
			name, body, err := rc.Verify(req)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "github", name)
			assert.Len(t, body, tt.size)
		})
	}
}

func TestWithOnReject(t *testing.T) {
	tests := []struct {
		name       string
		secret     string
		wantStatus int
		wantCalls  int
	}{
		{"refused", "guessed", http.StatusUnauthorized, 1},
		{"accepted", testSecret, http.StatusNoContent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls int
			var got error
			rc, err := NewReceiver([]Handler{{Config: githubCfg, Secrets: []string{testSecret}}},
				WithOnReject(func(_ *http.Request, err error) { calls++; got = err }))
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			rc.Middleware(&seen{}).ServeHTTP(rec, signedRequest(t, "http://127.0.0.1/", githubCfg, []string{tt.secret}, `{}`))
			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Equal(t, tt.wantCalls, calls)
			if tt.wantCalls > 0 {
				assert.ErrorIs(t, got, ErrInvalidSignature)
			}
		})
	}

	t.Run("nil calls nothing", func(t *testing.T) {
		rc, err := NewReceiver([]Handler{{Config: githubCfg, Secrets: []string{testSecret}}}, WithOnReject(nil))
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		rc.Middleware(&seen{}).ServeHTTP(rec, signedRequest(t, "http://127.0.0.1/", githubCfg, []string{"guessed"}, `{}`))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
	})
}

func TestNilOption(t *testing.T) {
	tests := []struct {
		name string
		new  func() error
	}{
		{"NewVerifier", func() error {
			_, err := NewVerifier(githubCfg, []string{testSecret}, WithTolerance(time.Minute), nil)
			return err
		}},
		{"NewReceiver", func() error {
			_, err := NewReceiver([]Handler{{Config: githubCfg, Secrets: []string{testSecret}}}, nil)
			return err
		}},
		{"NewStandardWebhooks", func() error {
			_, err := NewStandardWebhooks(nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.new()
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, "is nil")
		})
	}
}

// TestConfigRejectsUnusedFields checks, for every scheme and alias, that a
// Config field the scheme does not use is refused rather than ignored, by
// every entry point that takes a Config.
func TestConfigRejectsUnusedFields(t *testing.T) {
	fields := map[string]func(*Config){
		"algorithm": func(c *Config) { c.Algorithm = "sha512" },
		"header":    func(c *Config) { c.Header = "X-Sig" },
		"encoding":  func(c *Config) { c.Encoding = EncodingBase64 },
		"prefix":    func(c *Config) { c.Prefix = "v=" },
	}
	unused := map[string][]string{
		SchemeTYPO3:            {"header", "encoding", "prefix"},
		SchemeHMAC:             nil,
		"hmac-hex-body":        nil,
		"hmac-base64-body":     nil,
		SchemeStandardWebhooks: {"algorithm", "header", "encoding", "prefix"}, // its algorithm is sha256 only
		SchemeToken:            {"algorithm", "encoding"},
		"static-token":         {"algorithm", "encoding"},
		SchemeNone:             {"algorithm", "header", "encoding", "prefix"},
	}
	for scheme, names := range unused {
		for field, set := range fields {
			if scheme == "hmac-hex-body" && field == "encoding" {
				continue // contradicts the alias: refused for that reason, tested in TestNewConfigErrors
			}
			cfg := Config{Scheme: scheme}
			set(&cfg)
			secret, err := GenerateSecret(scheme)
			require.NoError(t, err)
			var secrets []string
			if secret != "" {
				secrets = []string{secret}
			}
			var opts []VerifierOption
			var webhookID string
			if cfg.Scheme == SchemeTYPO3 {
				opts, webhookID = []VerifierOption{WithWebhookID(testUUID)}, testUUID
			}
			t.Run(scheme+"/"+field, func(t *testing.T) {
				_, errNew := New(cfg)
				_, errVerifier := NewVerifier(cfg, secrets, opts...)
				_, errReceiver := NewReceiver([]Handler{{Config: cfg, Secrets: secrets, WebhookID: webhookID}})
				errs := map[string]error{"New": errNew, "Validate": cfg.Validate(), "NewVerifier": errVerifier,
					"NewReceiver": errReceiver, "ValidateSecret": ValidateSecret(cfg, secret)}
				for entry, err := range errs {
					if !slices.Contains(names, field) {
						assert.NoError(t, err, entry)
						continue
					}
					assert.ErrorIs(t, err, ErrInvalidConfig, entry)
					assert.ErrorContains(t, err, field, entry)
				}
			})
		}
	}
}
