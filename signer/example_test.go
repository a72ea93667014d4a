package signer_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/outhook/outhook/signer"
)

// A sender signs each request with the record's scheme and secret.
func ExampleNew() {
	s, err := signer.New(signer.Config{}) // TYPO3, sha256
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "https://example.org/hook", nil)
	body := []byte(`{"storage":1,"identifier":"/user_upload/new/","url":"https://example.org/fileadmin/user_upload/new/"}`)
	err = s.Sign(req.Header, []string{"my-webhook-secret"}, signer.Input{
		WebhookID: "c9b4f4a1-3f0e-4b8e-9d6a-2f1c0e7b5a11",
		Body:      body,
	})
	if err != nil {
		panic(err)
	}
	for _, h := range s.Headers() {
		fmt.Printf("%s: %s\n", h, req.Header.Get(h))
	}
	// Output:
	// Webhook-Signature: 37eb91b6705d9bf11e9c1ff1217202c2723b01e57129c53e2a0e42d491ce1d54
	// Webhook-Signature-Algo: sha256
}

// Standard Webhooks signs the message ID and the timestamp with the body.
// Given the current and the previous secret, it sends both signatures.
func ExampleNew_standardWebhooks() {
	s, err := signer.New(signer.Config{Scheme: signer.SchemeStandardWebhooks})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	err = s.Sign(h, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, signer.Input{
		MessageID: "msg_p5jXN8AQM9LWM0D4loKWxJek",
		Timestamp: time.Unix(1614265330, 0),
		Body:      []byte(`{"test": 2432232314}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("webhook-id:", h.Get("webhook-id"))
	fmt.Println("webhook-timestamp:", h.Get("webhook-timestamp"))
	fmt.Println("webhook-signature:", h.Get("webhook-signature"))
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// GitHub-style: an HMAC of the body in X-Hub-Signature-256, with a prefix.
func ExampleNewVerifier() {
	cfg := signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Hub-Signature-256", Prefix: "sha256="}
	v, err := signer.NewVerifier(cfg, []string{"my-webhook-secret"})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=f27e6527d6b8408430a666b746070c307f542bb54ee7e6dcb303f3e52c0b09fb")
	fmt.Println(errors.Is(v.Verify(h, nil), signer.ErrInvalidSignature)) // signed with secret "x"

	v, _ = signer.NewVerifier(cfg, []string{"my-webhook-secret", "x"}) // "x" is the previous secret
	fmt.Println(v.Verify(h, nil))
	// Output:
	// true
	// <nil>
}

// WithClock and WithTolerance are accepted by NewVerifier, NewReceiver and
// NewStandardWebhooks. Here a request signed ten minutes before the
// (injected) clock is a replay under the default tolerance of five minutes,
// and accepted under fifteen.
func ExampleWithTolerance() {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	cfg := signer.Config{Scheme: signer.SchemeStandardWebhooks}
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	tenMinutesLater := signer.WithClock(func() time.Time { return time.Unix(1614265330, 0).Add(10 * time.Minute) })

	v, err := signer.NewVerifier(cfg, secrets, tenMinutesLater)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Verify(h, body))

	v, err = signer.NewVerifier(cfg, secrets, tenMinutesLater, signer.WithTolerance(15*time.Minute))
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Verify(h, body))
	// Output:
	// signer: timestamp out of range: Webhook-Timestamp is 1614265330, 10m0s from now (tolerance 5m0s)
	// <nil>
}

// A Receiver guards an http.Handler: only requests that one of its handlers
// verifies get through, with the verified body and the handler's name.
func ExampleReceiver_Middleware() {
	rc, err := signer.NewReceiver([]signer.Handler{
		{Name: "typo3-site", Config: signer.Config{}, Secrets: []string{"my-webhook-secret"},
			WebhookID: "c9b4f4a1-3f0e-4b8e-9d6a-2f1c0e7b5a11"},
		{Name: "tikkl", Config: signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Tikkl-Signature"},
			Secrets: []string{"tikkl-secret"}},
	})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := signer.MatchedHandler(r.Context())
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("app got %s from %s\n", body, name)
	})
	srv := httptest.NewServer(rc.Middleware(app))
	defer srv.Close()

	send := func(cfg signer.Config, secret, body string) {
		s, _ := signer.New(cfg)
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		_ = s.Sign(req.Header, []string{secret}, signer.Input{Body: []byte(body)})
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		reason, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", string(reason))))
	}
	send(signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Tikkl-Signature"}, "tikkl-secret", `{"ticketId":1}`)
	send(signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Tikkl-Signature"}, "guessed", `{"ticketId":2}`)
	// Output:
	// app got {"ticketId":1} from tikkl
	// 200
	// 401 invalid signature
}

func ExampleGenerateSecret() {
	secret, err := signer.GenerateSecret(signer.SchemeStandardWebhooks)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(secret, "whsec_"), signer.ValidateSecret(signer.Config{Scheme: signer.SchemeStandardWebhooks}, secret))

	err = signer.ValidateSecret(signer.Config{Scheme: signer.SchemeStandardWebhooks}, "hunter2")
	fmt.Println(errors.Is(err, signer.ErrInvalidSecret), err)
	// Output:
	// true <nil>
	// true signer: invalid secret: standard-webhooks secret is not base64 (with or without "whsec_")
}

// A ReplayGuard remembers the IDs of accepted requests: the same signed
// request sent again is refused, here a Standard Webhooks request whose
// webhook-id is signed.
func ExampleWithReplayGuard() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	guard, err := signer.NewMemoryReplayGuard(100_000)
	if err != nil {
		panic(err)
	}
	rc, err := signer.NewReceiver([]signer.Handler{
		{Config: signer.Config{Scheme: signer.SchemeStandardWebhooks}, Secrets: []string{secret}},
	}, signer.WithReplayGuard(guard))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "processed")
	})))
	defer srv.Close()

	s, _ := signer.New(signer.Config{Scheme: signer.SchemeStandardWebhooks})
	body := `{"ticketId":1}`
	h := http.Header{}
	_ = s.Sign(h, []string{secret}, signer.Input{MessageID: "msg_1", Timestamp: time.Now(), Body: []byte(body)})
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header = h.Clone()
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(text)))
	}
	// Output:
	// 200 processed
	// 409 replayed request
}
