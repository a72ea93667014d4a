package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/outhook/outhook/transport"
)

// recordTimeout bounds one RecordAttempt of LogAttempts.
const recordTimeout = 10 * time.Second

// LogAttemptsOption configures LogAttempts.
type LogAttemptsOption interface{ applyLogAttempts(*logAttempts) }

type logAttemptsOption func(*logAttempts)

func (o logAttemptsOption) applyLogAttempts(c *logAttempts) { o(c) }

// WithErrorLog sets the logger for attempts the delivery log failed to
// record (slog.Default() otherwise).
func WithErrorLog(l *slog.Logger) LogAttemptsOption {
	return logAttemptsOption(func(c *logAttempts) { c.log = l })
}

type logAttempts struct {
	dl  DeliveryLog
	log *slog.Logger
}

// LogAttempts returns attempt middleware that records every attempt in dl,
// after it was made: each one that sent a request or tried to (success,
// retry, permanent), not a transport.Defer, which made none. Give it to
// WithMiddleware, first, so that it sees what the other middleware decided:
//
//	d := webhook.NewDispatcher(store, reg, webhook.WithMiddleware(webhook.LogAttempts(log), m.Middleware()))
//
// It works under every transport, since it wraps the Sender. Attempt
// numbers are the transport's: from 1, or on from Envelope.AttemptOffset
// for a resend. Recording runs in the attempt's goroutine, with a context
// that outlives the attempt's by at most 10 seconds; a failure (or a panic)
// of dl is logged and never changes the attempt.
//
// The River outbox does not need it: its worker records attempts in the
// outbox's log itself (durable.WithAttemptLog), which also marks the
// attempts a stopping process interrupted and numbers them. Do not add
// LogAttempts with that log to the outbox's sender options, or every
// attempt is recorded twice; use it there only with another log.
func LogAttempts(dl DeliveryLog, opts ...LogAttemptsOption) transport.Middleware {
	c := &logAttempts{dl: dl}
	for _, o := range opts {
		o.applyLogAttempts(c)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return func(next transport.AttemptFunc) transport.AttemptFunc {
		return func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
			at := next(ctx, env, n)
			if at.Outcome != transport.Defer {
				c.record(ctx, env, at, n)
			}
			return at
		}
	}
}

// record writes at, attempt n of env, to the log; it reports a failure
// rather than returning it.
func (c *logAttempts) record(ctx context.Context, env transport.Envelope, at transport.Attempt, n int) {
	if at.Number == 0 {
		at.Number = n
	}
	// The attempt happened even if its context ended meanwhile.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("delivery log panicked: %v", p)
			}
		}()
		err = c.dl.RecordAttempt(rctx, env, at)
	}()
	if err != nil {
		c.log.ErrorContext(ctx, "webhook attempt not logged",
			slog.String("delivery_id", env.DeliveryID.String()), slog.String("webhook_id", env.WebhookID.String()),
			slog.String("tenant", env.Tenant), slog.Int("attempt", at.Number), slog.String("error", err.Error()))
	}
}
