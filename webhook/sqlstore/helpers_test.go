package sqlstore_test

import (
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
)

func envelope(del, hook uuid.UUID) transport.Envelope {
	return transport.Envelope{DeliveryID: del, WebhookID: hook, Trigger: "t/x", Body: []byte(`{}`)}
}

func transportAttempt(n int, start time.Time) transport.Attempt {
	return transport.Attempt{Number: n, Start: start, Duration: 1500 * time.Millisecond, StatusCode: 503,
		Excerpt: "bad\xff\x00 gateway", Outcome: transport.Retry, Err: fmt.Errorf("attempt %d failed", n)}
}

func exampleDir() string {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		panic(err)
	}
	return dir
}
