// Package signer signs outgoing webhook requests and verifies incoming ones.
//
// A scheme decides which headers carry the signature and what is signed. The
// default is TYPO3's: Webhook-Signature is the lowercase hex HMAC-SHA256, keyed
// with the record's secret, of "<record uuid>:<body>", sent beside
// Webhook-Signature-Algo. A Config names a scheme and its parameters and is
// stored with each webhook record; New turns it into a Signer:
//
//	s, err := signer.New(signer.Config{}) // TYPO3, sha256
//	err = s.Sign(req.Header, []string{secret}, signer.Input{WebhookID: id, Body: body})
package signer
