package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
)

const (
	recordID = "c9b4f4a1-3f0e-4b8e-9d6a-2f1c0e7b5a11"
	secret   = "my-webhook-secret"
	whsec    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// receiver is a local httptest server that verifies with signer's Receiver
// and records the body it was given.
func receiver(t *testing.T) (*httptest.Server, chan string) {
	t.Helper()
	rc, err := signer.NewReceiver([]signer.Handler{
		{Name: "typo3", Config: signer.Config{}, Secrets: []string{secret}, WebhookID: recordID},
		{Name: "github", Config: signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Hub-Signature-256", Prefix: "sha256="}, Secrets: []string{secret}},
		{Name: "sw", Config: signer.Config{Scheme: signer.SchemeStandardWebhooks}, Secrets: []string{whsec}},
		{Name: "spika", Config: signer.Config{Scheme: signer.SchemeToken}, Secrets: []string{secret}},
	})
	require.NoError(t, err)
	got := make(chan string, 1)
	srv := httptest.NewServer(rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := signer.MatchedHandler(r.Context())
		body, _ := io.ReadAll(r.Body)
		got <- name + " " + string(body)
		w.WriteHeader(http.StatusAccepted)
	})))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestRun(t *testing.T) {
	srv, got := receiver(t)
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
		{"standard webhooks with rotation", []string{"-scheme", "standard-webhooks", "-secret", whsec, "-secret", "whsec_vBsxVAFSIwE10r7PdNnkefoMmEoSSzDd", "-msg-id", "msg_1"},
			`sw {}`, []string{"> Webhook-Id: msg_1", "> Webhook-Signature: v1,"}, false},
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
}
