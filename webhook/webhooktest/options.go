package webhooktest

import (
	"context"
	"time"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// ServerOption configures NewServer. WithStore, WithStatuses, WithAnswers,
// WithDelay, WithRetryAfter, WithReset and WithClock return one.
type ServerOption interface {
	applyServer(*serverConfig)
}

type serverOption func(*serverConfig)

func (o serverOption) applyServer(c *serverConfig) { o(c) }

// serverConfig is what a Server is built from.
type serverConfig struct {
	records Records
	script  []Answer // per delivery, in turn
	every   Answer   // what every answer adds: delay, Retry-After, reset
	now     func() time.Time
}

// Records is where a Server finds the records it verifies requests with.
// Every webhook.Store is one.
type Records interface {
	// List returns a page of records; the Server asks for every tenant's.
	List(ctx context.Context, q webhook.ListQuery) (webhook.Page, error)
}

// WithStore makes the Server read the records it verifies with from s at
// each request, so that records created after the Server (their URL is the
// Server's) and rotated secrets apply at once.
func WithStore(s Records) ServerOption {
	return serverOption(func(c *serverConfig) { c.records = s })
}

// WithAnswers scripts the answers to each delivery: its first verified
// request (by Webhook-Delivery-Id) gets answers[0], its retry answers[1]
// and so on; after the script, 200 OK. A later WithAnswers or WithStatuses
// replaces the script.
func WithAnswers(answers ...Answer) ServerOption {
	return serverOption(func(c *serverConfig) { c.script = append([]Answer(nil), answers...) })
}

// WithStatuses scripts the status of the answers to each delivery, such as
// WithStatuses(503, 503, 200): the first attempt gets a 503, the first
// retry another, the second retry a 200 (see WithAnswers).
func WithStatuses(codes ...int) ServerOption {
	return serverOption(func(c *serverConfig) {
		c.script = make([]Answer, len(codes))
		for i, code := range codes {
			c.script[i].Status = code
		}
	})
}

// WithDelay makes every answer to a verified request wait d more before it
// is written (a slow receiver). The wait ends early when the client gives
// up or the test ends.
func WithDelay(d time.Duration) ServerOption {
	return serverOption(func(c *serverConfig) { c.every.Delay = d })
}

// WithRetryAfter sends a Retry-After header with value v (seconds, or an
// HTTP date) with every answer to a verified request that does not set
// its own.
func WithRetryAfter(v string) ServerOption {
	return serverOption(func(c *serverConfig) { c.every.RetryAfter = v })
}

// WithReset makes the Server reset the connection of every verified
// request instead of answering it (a receiver that crashes). Reset only
// some attempts with WithAnswers(Answer{Reset: true}, ...).
func WithReset() ServerOption {
	return serverOption(func(c *serverConfig) { c.every.Reset = true })
}

// ClockOption sets the clock of a Recorder or a Server: it is a
// RecorderOption and a ServerOption. Only WithClock makes a usable one.
type ClockOption struct {
	now func() time.Time
}

// WithClock sets the clock that a Recorder signs the requests of
// deliveries it did not see in its Transport with, or that a Server checks
// Standard Webhooks timestamps and secret rotations against (time.Now
// otherwise). Give it the Dispatcher's clock (webhook.WithClock) when that
// is not the real time.
func WithClock(now func() time.Time) ClockOption { return ClockOption{now: now} }

func (o ClockOption) applyRecorder(r *Recorder) {
	if o.now != nil {
		r.now = o.now
	}
}

func (o ClockOption) applyServer(c *serverConfig) {
	if o.now != nil {
		c.now = o.now
	}
}

// AllowLoopback returns the SenderOption that lets a Dispatcher or Sender
// reach a Server on 127.0.0.1, which the default network guard refuses:
// webhook.WithGuard(netguard.New(netguard.AllowLoopback())). It is a
// DispatcherOption too; for an Outbox, pass it to outbox.WithSenderOptions.
func AllowLoopback() webhook.SenderOption {
	return webhook.WithGuard(netguard.New(netguard.AllowLoopback()))
}
