// Package signer signs outgoing webhook requests and verifies incoming ones.
//
// A scheme decides which headers carry the signature and what is signed:
//
//   - typo3 (the default, TYPO3): Webhook-Signature is the hex HMAC of
//     "<record uuid>:<body>", beside Webhook-Signature-Algo.
//   - hmac (HMAC): an HMAC of the body alone, with header, hash, hex or base64
//     and prefix configurable: GitHub, Tikkl, Shopify, Tiki.
//   - standard-webhooks (StandardWebhooks): the Standard Webhooks
//     specification, with "whsec_" secrets, timestamps and rotation.
//   - token (Token): the secret itself in a header, as Spika sends it.
//   - none (None): nothing, an explicit opt-out.
//
// A Config names a scheme and its parameters and is stored with each webhook
// record; New turns it into a Signer, and GenerateSecret and ValidateSecret
// make and check secrets in the scheme's format:
//
//	s, err := signer.New(signer.Config{}) // TYPO3, sha256
//	err = s.Sign(req.Header, []string{secret}, signer.Input{WebhookID: id, Body: body})
//
// On the receiving side, NewVerifier checks one scheme, and a Receiver tries a
// list of Handlers in order, the first that verifies winning; its Middleware
// guards an http.Handler and tells it which handler matched:
//
//	rc, err := signer.NewReceiver([]signer.Handler{{Name: "github",
//		Config:  signer.Config{Scheme: signer.SchemeHMAC, Header: "X-Hub-Signature-256", Prefix: "sha256="},
//		Secrets: []string{secret}}})
//	http.Handle("/hooks", rc.Middleware(app))
//
// The middleware reads the body under a deadline (WithBodyReadTimeout), and
// with WithReplayGuard refuses a request whose ID it accepted before. A
// handler of scheme none, which accepts everything, is refused beside signed
// handlers unless WithAllowUnsigned says it is meant.
package signer
