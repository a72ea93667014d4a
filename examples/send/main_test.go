package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
)

const (
	deliveryID = "0193a4f0-7b1c-7cc0-9d2e-4b0f5a6c7d8e"
	recordID   = "c9b4f4a1-3f0e-4b8e-9d6a-2f1c0e7b5a11"
	secret     = "my-webhook-secret"
	whsec      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// receiver is a local httptest server that verifies with signer's Receiver
// and records the handler and the body it was given, and the headers.
func receiver(t *testing.T) (*httptest.Server, chan string, chan http.Header) {
	t.Helper()
	rc, err := signer.NewReceiver([]signer.Handler{
		{Name: "typo3", Config: signer.Config{}, Secrets: []string{secret}, WebhookID: recordID},
		{Name: "github", Config: signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Hub-Signature-256", Prefix: "sha256="}, Secrets: []string{secret}},
		{Name: "sw", Config: signer.Config{Scheme: signer.SchemeStandardWebhooks}, Secrets: []string{whsec}},
		{Name: "spika", Config: signer.Config{Scheme: signer.SchemeToken}, Secrets: []string{secret}},
	})
	require.NoError(t, err)
	got := make(chan string, 1)
	headers := make(chan http.Header, 1)
	srv := httptest.NewServer(rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := signer.MatchedHandler(r.Context())
		body, _ := io.ReadAll(r.Body)
		got <- name + " " + string(body)
		headers <- r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
	})))
	t.Cleanup(srv.Close)
	return srv, got, headers
}

func TestRun(t *testing.T) {
	srv, got, headers := receiver(t)
	tests := []struct {
		name     string
		args     []string
		wantGot  string
		wantOut  []string
		wantFail bool
	}{
		{"typo3", []string{"-scheme", "typo3", "-id", recordID, "-secret", secret, "-data", `{"a":1}`},
			`typo3 {"a":1}`, []string{"> Webhook-Signature: ", "> Webhook-Signature-Algo: sha256", `{"a":1}`, "< HTTP/1.1 202 Accepted"}, false},
		{"github", []string{"-scheme", "hmac", "-header", "X-Hub-Signature-256", "-prefix", "sha256=", "-secret", secret, "-data", `{"b":2}`},
			`github {"b":2}`, []string{"> X-Hub-Signature-256: sha256="}, false},
		{"standard webhooks with rotation", []string{"-scheme", "standard-webhooks", "-secret", whsec, "-secret", "whsec_vBsxVAFSIwE10r7PdNnkefoMmEoSSzDd", "-delivery-id", deliveryID},
			`sw {}`, []string{"> Webhook-Id: " + deliveryID, "> Webhook-Delivery-Id: " + deliveryID, "> Webhook-Signature: v1,"}, false},
		{"token", []string{"-scheme", "token", "-secret", secret},
			`spika {}`, []string{"> Verification-Signature: " + secret}, false},
		{"wrong secret", []string{"-scheme", "typo3", "-id", recordID, "-secret", "guess"},
			"", []string{"< HTTP/1.1 401 Unauthorized", "invalid signature"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"-url", srv.URL}, tt.args...), &out)
			if tt.wantFail {
				assert.ErrorContains(t, err, "401")
			} else {
				require.NoError(t, err, out.String())
				select {
				case g := <-got:
					assert.Equal(t, tt.wantGot, g)
					wireFormat(t, <-headers, out.String())
				case <-time.After(5 * time.Second):
					t.Fatal("receiver got nothing")
				}
			}
			for _, w := range tt.wantOut {
				assert.Contains(t, out.String(), w)
			}
		})
	}
}

// wireFormat checks that the receiver got the headers the README documents,
// as the library's Sender sets them, and that send printed them.
func wireFormat(t *testing.T, h http.Header, out string) {
	t.Helper()
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	assert.Regexp(t, `^outhook/\S+ \(\+https://github\.com/outhook/outhook\)$`, h.Get("User-Agent"))
	assert.Equal(t, "outhook/send", h.Get("Webhook-Trigger"))
	id, err := uuid.Parse(h.Get("Webhook-Delivery-Id"))
	require.NoError(t, err, "Webhook-Delivery-Id is a UUID")
	if h.Get("Webhook-Id") != "" {
		assert.Equal(t, id.String(), h.Get("Webhook-Id"), "standard-webhooks' webhook-id is the delivery ID")
	}
	for _, k := range []string{"Content-Type", "User-Agent", "Webhook-Trigger", "Webhook-Delivery-Id"} {
		assert.Contains(t, out, "> "+k+": "+h.Get(k))
	}
}

func TestRunDefaults(t *testing.T) {
	srv, got, headers := receiver(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-id", recordID, "-secret", secret}, &out), out.String())
	assert.Equal(t, `typo3 {}`, <-got)
	h := <-headers
	wireFormat(t, h, out.String())
	_, err := uuid.Parse(h.Get("Webhook-Delivery-Id"))
	assert.NoError(t, err, "a random delivery ID")
	assert.NotContains(t, out.String(), "# warning")
}

func TestRunExtraHeadersAndTrigger(t *testing.T) {
	srv, got, headers := receiver(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-scheme", "token", "-secret", secret,
		"-trigger", "shop/order-paid", "-H", "X-Tenant: 42", "-H", "Authorization: Bearer abc"}, &out), out.String())
	<-got
	h := <-headers
	assert.Equal(t, "shop/order-paid", h.Get("Webhook-Trigger"))
	assert.Equal(t, "42", h.Get("X-Tenant"))
	assert.Equal(t, "Bearer abc", h.Get("Authorization"))
}

func TestRunShortSecretWarns(t *testing.T) {
	srv, got, _ := receiver(t)
	var out bytes.Buffer
	// The receiver does not know this secret: the request is refused, but sent.
	err := run(context.Background(), []string{"-url", srv.URL, "-scheme", "typo3", "-id", recordID, "-secret", "s3cret"}, &out)
	assert.ErrorContains(t, err, "401")
	assert.Contains(t, out.String(), "# warning: a 6-byte secret")
	assert.Empty(t, got)
}

func TestRunGenerateSecret(t *testing.T) {
	for _, scheme := range []string{"typo3", "hmac", "standard-webhooks", "token"} {
		t.Run(scheme, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(context.Background(), []string{"-scheme", scheme, "-generate-secret"}, &out))
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			require.Len(t, lines, 1, "only the secret, for scripts")
			assert.NoError(t, signer.ValidateSecret(signer.Config{Scheme: scheme}, lines[0]))
			if scheme == "standard-webhooks" {
				assert.True(t, strings.HasPrefix(lines[0], "whsec_"))
			}
		})
	}
	var out bytes.Buffer
	assert.ErrorContains(t, run(context.Background(), []string{"-scheme", "rot13", "-generate-secret"}, &out), "unknown scheme")
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"-secret", "x"}, "-url is required"},
		{"unknown scheme", []string{"-url", "http://127.0.0.1:1/", "-scheme", "rot13", "-secret", "x"}, "unknown scheme"},
		{"bad whsec", []string{"-url", "http://127.0.0.1:1/", "-scheme", "standard-webhooks", "-secret", "x"}, "invalid secret"},
		{"bad encoding", []string{"-url", "http://127.0.0.1:1/", "-scheme", "hmac", "-encoding", "b32", "-secret", "x"}, "encoding"},
		{"bad extra header", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-H", "nocolon"}, "Name: value"},
		{"reserved extra header", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-H", "Webhook-Delivery-Id: 1"}, "cannot be overridden"},
		{"three secrets", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-secret", "y", "-secret", "z"}, "more than twice"},
		{"bad record id", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-id", "record-1"}, "not a UUID"},
		{"bad delivery id", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-delivery-id", "msg_1"}, "not a UUID"},
		{"bad trigger", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-trigger", "a//b"}, "triggers"},
		{"bad method", []string{"-url", "http://127.0.0.1:1/", "-secret", "x", "-method", "PUT"}, "method"},
		{"nothing listens", []string{"-url", "http://127.0.0.1:1/", "-secret", "x"}, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRunGeneratesSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-scheme", "standard-webhooks"}, &out))
	assert.Contains(t, out.String(), "signing with the new secret whsec_")

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-scheme", "none"}, &out))
	assert.NotContains(t, out.String(), "new secret", "none takes no secret")
}
