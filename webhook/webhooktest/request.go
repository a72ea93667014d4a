package webhooktest

import (
	"fmt"
	"io"
	"net/http"
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
