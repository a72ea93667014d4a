package signer

import "net/http"

// None is the explicit opt-out: Sign adds nothing and Verify accepts every
// request. A Receiver that lists a None handler accepts unsigned requests,
// so NewReceiver takes one beside signed handlers only with
// WithAllowUnsigned, and only last.
type None struct{}

// Headers implements Signer; None sets no header.
func (None) Headers() []string { return nil }

// Sign implements Signer; it does nothing.
func (None) Sign(http.Header, []string, Input) error { return nil }

// Verify accepts every request.
func (None) Verify(http.Header, []string, Input) error { return nil }
