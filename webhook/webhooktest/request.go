package webhooktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/outhook/outhook/trigger"
)

// Request is one webhook request: what a recorded delivery would send, or
// what a Server received.
type Request struct {
	// Method is POST, or GET for records that ask for it.
	Method string
	// URL is the absolute URL the request goes to.
	URL string
	// Header holds outhook's headers (Webhook-Delivery-Id, Webhook-Trigger,
	// Content-Type, User-Agent), the record's own and the signature headers.
	Header http.Header
	// Body is the encoded message.
	Body []byte
}

// fromHTTP copies what req sends. It reads req's body.
func fromHTTP(req *http.Request) (Request, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return Request{}, fmt.Errorf("webhooktest: read request body: %w", err)
		}
		body = b
	}
	return Request{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: body}, nil
}

// encode returns the body Dispatch sends for msg. It mirrors the
// Dispatcher's encoding, which is not exported: JSONSerialize's value
// encoded without HTML escaping, or a json.RawMessage as it is. The
// Recorder uses it only when it did not see the envelope itself (the
// application's own transport); the package's tests compare it with what a
// Server receives.
func encode(msg trigger.Message) (body []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			body, err = nil, fmt.Errorf("webhooktest: JSONSerialize panicked: %v", r)
		}
	}()
	v := msg.JSONSerialize()
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) > 0 && !json.Valid(raw) {
			return nil, errors.New("webhooktest: json.RawMessage is not valid JSON")
		}
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
