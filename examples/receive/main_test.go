package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
)

const (
	uuid   = "c9b4f4a1-3f0e-4b8e-9d6a-2f1c0e7b5a11"
	secret = "my-webhook-secret"
)

// start runs the receiver on a free 127.0.0.1 port and returns its URL and
// its output, line by line.
func start(t *testing.T, args ...string) (string, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw)
		pw.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("receiver did not stop")
		}
	})
	for line := range lines {
		if url, ok := strings.CutPrefix(line, "listening on "); ok {
			return url, lines
		}
	}
	t.Fatal("receiver did not start")
	return "", nil
}

func next(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no output")
		return ""
	}
}

func post(t *testing.T, url string, cfg signer.Config, secrets []string, body string) int {
	t.Helper()
	s, err := signer.New(cfg)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"hooks", strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, s.Sign(req.Header, secrets, signer.Input{WebhookID: uuid, MessageID: "msg_1", Timestamp: time.Now(), Body: []byte(body)}))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunFlags(t *testing.T) {
	url, lines := start(t, "-scheme", "typo3", "-id", uuid, "-secret", secret)

	assert.Equal(t, http.StatusOK, post(t, url, signer.Config{}, []string{secret}, `{"a":1}`))
	assert.Contains(t, next(t, lines), `verified by "typo3": POST /hooks`)
	var rest []string
	for l := next(t, lines); l != `  {"a":1}`; l = next(t, lines) {
		rest = append(rest, l)
	}
	assert.Contains(t, rest, "  Webhook-Signature-Algo: sha256")

	assert.Equal(t, http.StatusUnauthorized, post(t, url, signer.Config{}, []string{"guess"}, `{"a":2}`))
	l := next(t, lines)
	assert.Contains(t, l, "refused POST /hooks")
	assert.Contains(t, l, "invalid signature")
}

func TestRunHandlersFile(t *testing.T) {
	whsec, err := signer.GenerateSecret(signer.SchemeStandardWebhooks)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "handlers.json")
	require.NoError(t, os.WriteFile(file, []byte(`[
		{"name": "github", "config": {"scheme": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256="}, "secrets": ["`+secret+`"]},
		{"name": "sw", "config": {"scheme": "standard-webhooks"}, "secrets": ["`+whsec+`"]}
	]`), 0o600))
	url, lines := start(t, "-handlers", file)

	assert.Equal(t, http.StatusOK, post(t, url, signer.Config{Scheme: signer.SchemeStandardWebhooks}, []string{whsec}, `{}`))
	assert.Contains(t, next(t, lines), `verified by "sw"`)
}

func TestRunGeneratesSecret(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-scheme", "hmac"}, pw); pw.Close() }()
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan())
	assert.Contains(t, sc.Text(), "accepting the new secret ")
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	assert.NoError(t, <-done)
}

func TestNewServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), signer.DefaultBodyReadTimeout)
	assert.Positive(t, srv.ReadHeaderTimeout)
	assert.Greater(t, srv.ReadTimeout, signer.DefaultBodyReadTimeout, "the body has its time after the headers")
	assert.Greater(t, srv.WriteTimeout, srv.ReadTimeout, "the handler has time to answer")
	assert.Positive(t, srv.IdleTimeout)
}

// TestRunSlowBody sends a body a byte at a time: the receiver answers 408
// after -body-timeout instead of waiting for it.
func TestRunSlowBody(t *testing.T) {
	url, lines := start(t, "-scheme", "hmac", "-secret", secret, "-body-timeout", "200ms")
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprint(conn, "POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\nX-Webhook-Signature: 00\r\n\r\n")
	require.NoError(t, err)
	stop := make(chan struct{})
	trickled := make(chan struct{})
	defer func() { close(stop); <-trickled }()
	go func() {
		defer close(trickled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	// A bound on a hang, not a measure of speed: 1000 bytes take 20s.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the receiver answers instead of waiting for the body")
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	l := next(t, lines)
	assert.Contains(t, l, "refused POST /hooks")
	assert.Contains(t, l, "body read timed out")
}

func TestRunReplayGuard(t *testing.T) {
	whsec, err := signer.GenerateSecret(signer.SchemeStandardWebhooks)
	require.NoError(t, err)
	url, lines := start(t, "-scheme", "standard-webhooks", "-secret", whsec, "-replay-guard")
	sw := signer.Config{Scheme: signer.SchemeStandardWebhooks}
	assert.Equal(t, http.StatusOK, post(t, url, sw, []string{whsec}, `{}`))
	assert.Contains(t, next(t, lines), "verified by")
	for next(t, lines) != "  {}" { // the headers, then the body
	}
	assert.Equal(t, http.StatusConflict, post(t, url, sw, []string{whsec}, `{}`), "the same webhook-id again")
	assert.Contains(t, next(t, lines), "replayed request")
}

func TestRunAllowUnsigned(t *testing.T) {
	file := filepath.Join(t.TempDir(), "handlers.json")
	require.NoError(t, os.WriteFile(file, []byte(`[
		{"name": "github", "config": {"scheme": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256="}, "secrets": ["`+secret+`"]},
		{"name": "open", "config": {"scheme": "none"}}
	]`), 0o600))
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-handlers", file}, io.Discard)
	require.ErrorIs(t, err, signer.ErrUnsignedHandler)

	url, lines := start(t, "-handlers", file, "-allow-unsigned")
	assert.Equal(t, http.StatusOK, post(t, url, signer.Config{Scheme: signer.SchemeNone}, nil, `{}`))
	assert.Contains(t, next(t, lines), `verified by "open"`)
}

func TestRunGenerateSecretFlag(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-scheme", "standard-webhooks", "-generate-secret"}, &out))
	secret := strings.TrimSuffix(out.String(), "\n")
	assert.NotContains(t, secret, "\n", "only the secret, for scripts")
	assert.NoError(t, signer.ValidateSecret(signer.Config{Scheme: signer.SchemeStandardWebhooks}, secret))
	assert.True(t, strings.HasPrefix(secret, "whsec_"))
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"typo3 without id", []string{"-secret", "x"}, "webhook id"},
		{"bad scheme", []string{"-scheme", "rot13", "-secret", "x"}, "unknown scheme"},
		{"bad whsec", []string{"-scheme", "standard-webhooks", "-secret", "whsec_x"}, "invalid secret"},
		{"missing handlers file", []string{"-handlers", "/nonexistent/handlers.json"}, "no such file"},
		{"bad address", []string{"-addr", "256.0.0.1:0", "-scheme", "none"}, "256.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
