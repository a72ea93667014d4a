package transport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
)

// receiver stands in for the webhook package's Sender. It answers the first
// failFirst attempts of a delivery with HTTP 503 and later ones with 200,
// except for the trigger "account.deleted", which always gets 410 Gone.
type receiver struct{ failFirst int }

func (r receiver) Attempt(_ context.Context, env transport.Envelope, n int) transport.Attempt {
	code := 200
	switch {
	case env.Trigger == "account.deleted":
		code = 410
	case n <= r.failFirst:
		code = 503
	}
	at := transport.Attempt{Number: n, StatusCode: code, Outcome: transport.Classify(code)}
	if at.Outcome != transport.Success {
		at.Err = &transport.StatusError{StatusCode: code}
	}
	return at
}

// NewBackOff retries up to four times, a second apart.
func (receiver) NewBackOff() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Second), 4)
}

func envelopes(triggers ...string) []transport.Envelope {
	envs := make([]transport.Envelope, len(triggers))
	for i, tr := range triggers {
		envs[i] = transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Trigger: tr, Body: []byte(`{}`)}
	}
	return envs
}

func ExampleMemory() {
	var (
		mu    sync.Mutex
		lines []string
	)
	m := transport.NewMemory(
		transport.WithWorkers(2),
		transport.WithOnDone(func(env transport.Envelope, r transport.Result) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, fmt.Sprintf("%s: %s after %d attempt(s)", env.Trigger, r.Status, r.Attempts))
		}),
	)

	res, err := m.Send(context.Background(), receiver{}, envelopes("order.created", "account.deleted"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Send:", res[0].Status, res[1].Status)

	// Close waits for what is in flight or due, so every result is in.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	left, err := m.Close(ctx)
	fmt.Println("undelivered:", len(left), err)

	slices.Sort(lines) // workers finish in any order
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// Send: queued queued
	// undelivered: 0 <nil>
	// account.deleted: failed after 1 attempt(s)
	// order.created: delivered after 1 attempt(s)
}

// printingClock is a Clock whose timers fire at once, after printing how long
// they were asked to wait, so the example neither sleeps nor hides its waits.
type printingClock struct{}

func (printingClock) Now() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

func (c printingClock) NewTimer(d time.Duration) transport.Timer {
	fmt.Println("waiting", d)
	t := firedTimer(make(chan time.Time, 1))
	t <- c.Now()
	return t
}

type firedTimer chan time.Time

func (t firedTimer) C() <-chan time.Time { return t }
func (firedTimer) Stop() bool            { return false }

func ExampleNewSync() {
	s := transport.NewSync(
		transport.WithMaxDefer(5*time.Minute), // how long a circuit breaker or rate limit may hold a delivery
		transport.WithClock(printingClock{}),  // omit for real waits
	)
	res, _ := s.Send(context.Background(), receiver{failFirst: 2}, envelopes("order.created"))
	fmt.Println(res[0].Status, "after", res[0].Attempts, "attempts")

	res, _ = s.Send(context.Background(), receiver{failFirst: 10}, envelopes("order.created"))
	var de *transport.DeliveryError
	if errors.As(res[0].Err, &de) {
		fmt.Printf("%s after %d attempts (retryable: %t): %v\n", res[0].Status, de.Attempts, de.Retryable, de.Err)
	}
	// Output:
	// waiting 1s
	// waiting 1s
	// delivered after 3 attempts
	// waiting 1s
	// waiting 1s
	// waiting 1s
	// waiting 1s
	// failed after 5 attempts (retryable: true): receiver answered HTTP 503
}
