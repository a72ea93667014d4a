package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// attemptView is one logged attempt as the API shows it.
type attemptView struct {
	webhook.AttemptRecord
	// DurationMS is Duration in milliseconds, for people and JavaScript.
	DurationMS float64 `json:"duration_ms"`
}

func viewAttempts(as []webhook.AttemptRecord) []attemptView {
	out := make([]attemptView, len(as))
	for i, a := range as {
		out[i] = attemptView{AttemptRecord: a, DurationMS: float64(a.Duration.Microseconds()) / 1000}
	}
	return out
}

// outcomes are the values of the status filter.
var outcomes = map[string]bool{"success": true, "retry": true, "permanent": true}

// attempts returns a page of the record's attempts: ?status= filters by
// outcome, ?before= continues from a previous page's next.
func (h *Handler) attempts(r *http.Request, w *webhook.Webhook) (webhook.AttemptPage, error) {
	if h.cfg.log == nil {
		return webhook.AttemptPage{}, notFound("this server keeps no delivery log")
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !outcomes[status] {
		return webhook.AttemptPage{}, badRequest("status", "must be success, retry or permanent")
	}
	n, err := limit(r)
	if err != nil {
		return webhook.AttemptPage{}, err
	}
	page, err := h.cfg.log.Attempts(r.Context(), webhook.AttemptQuery{Tenant: w.Tenant, WebhookID: w.ID,
		Outcome: status, Before: q.Get("before"), Limit: n})
	if errors.Is(err, webhook.ErrInvalidCursor) {
		return page, badRequest("before", "invalid cursor: use the next value of the previous page")
	}
	return page, err
}

// delivery returns the attempts of one of the record's deliveries, newest
// first; a delivery of another record is not found.
func (h *Handler) delivery(ctx context.Context, w *webhook.Webhook, id string) (uuid.UUID, []webhook.AttemptRecord, error) {
	if h.cfg.log == nil {
		return uuid.Nil, nil, notFound("this server keeps no delivery log")
	}
	did, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, nil, notFound("no such delivery")
	}
	page, err := h.cfg.log.Attempts(ctx, webhook.AttemptQuery{Tenant: w.Tenant, WebhookID: w.ID, DeliveryID: did,
		Limit: webhook.MaxPageSize})
	if err != nil {
		return did, nil, err
	}
	if len(page.Attempts) == 0 {
		return did, nil, notFound("no such delivery")
	}
	return did, page.Attempts, nil
}

// resendResult is the answer to a resend.
type resendResult struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	// Status is "resent", or "failed" when the Resender made the attempts
	// at once (Sync) and they failed; Error says why.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// resend sends one of the record's deliveries again.
func (h *Handler) resend(ctx context.Context, w *webhook.Webhook, id string) (resendResult, error) {
	if h.cfg.resender == nil {
		return resendResult{}, notFound("this server cannot resend deliveries")
	}
	did, _, err := h.delivery(ctx, w, id)
	if err != nil {
		return resendResult{}, err
	}
	res := resendResult{DeliveryID: did, Status: "resent"}
	err = h.cfg.resender.Resend(ctx, did)
	var de *webhook.DeliveryError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &de):
		res.Status, res.Error = "failed", de.Error()
		return res, nil
	case errors.Is(err, webhook.ErrDeliveryNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return res, err
	case errors.Is(err, transport.ErrQueueFull):
		return res, &problem{Status: http.StatusServiceUnavailable, Detail: "the delivery queue is full: try again later"}
	case errors.Is(err, webhook.ErrDeliveryInProgress):
		return res, &problem{Status: http.StatusConflict,
			Detail: "the delivery is still in progress (queued, retrying or being sent): resend it once it has ended"}
	}
	return res, err
}

// testResult is the answer to a test delivery.
type testResult struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	Trigger    string    `json:"trigger"`
	Outcome    string    `json:"outcome"`
	StatusCode int       `json:"status_code"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Excerpt    string    `json:"excerpt,omitempty"`
}

// testInput is the optional body of a test request.
type testInput struct {
	Trigger string `json:"trigger"`
}

// sendTest makes one attempt to the record with the example payload of
// trigger (the record's first when ""), or {} for a type without one.
func (h *Handler) sendTest(ctx context.Context, w *webhook.Webhook, trg string) (testResult, error) {
	if h.cfg.tester == nil {
		return testResult{}, notFound("this server cannot send test deliveries")
	}
	if trg == "" {
		trg = w.Triggers[0]
	}
	if !w.Subscribes(trg) {
		return testResult{}, invalid("trigger", "the record does not subscribe to "+trg)
	}
	body := json.RawMessage(`{}`)
	if ev, err := h.event(trg); err == nil && len(ev.Example) > 0 {
		body = ev.Example
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return testResult{}, err
	}
	env := transport.Envelope{DeliveryID: id, WebhookID: w.ID, Tenant: w.Tenant, Trigger: trg, Body: body,
		CreatedAt: h.cfg.now()}
	at := h.cfg.tester.Attempt(ctx, env, 1)
	res := testResult{DeliveryID: id, Trigger: trg, Outcome: at.Outcome.String(), StatusCode: at.StatusCode,
		DurationMS: float64(at.Duration.Microseconds()) / 1000, Excerpt: at.Excerpt}
	if at.Err != nil {
		res.Error = at.Err.Error()
	}
	return res, nil
}

// healthView is a record's health.
type healthView struct {
	WebhookID      uuid.UUID  `json:"webhook_id"`
	Status         string     `json:"status"`
	Disabled       bool       `json:"disabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	// From the health monitor (WithHealth).
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	LastFailure         *time.Time `json:"last_failure,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	Breaker             string     `json:"breaker,omitempty"`
	// From the delivery log (WithDeliveryLog).
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastOutcome string     `json:"last_outcome,omitempty"`
}

// health reports the record's health from the record, the monitor and the
// log, as far as the handler has them.
func (h *Handler) health(ctx context.Context, w *webhook.Webhook) healthView {
	v := healthView{WebhookID: w.ID, Disabled: w.Disabled, DisabledReason: w.DisabledReason, DisabledAt: timePtr(w.DisabledAt)}
	if h.cfg.health != nil {
		st := h.cfg.health.State(w.ID)
		v.ConsecutiveFailures, v.LastError, v.Breaker = st.ConsecutiveFailures, st.LastError, st.Breaker.String()
		v.FailingSince, v.LastFailure = timePtr(st.FirstFailure), timePtr(st.LastFailure)
	}
	if h.cfg.log != nil {
		if last := h.lastAttempt(ctx, w, ""); last != nil {
			v.LastAttempt, v.LastOutcome = timePtr(last.Start), last.Outcome
		}
		if ok := h.lastAttempt(ctx, w, "success"); ok != nil {
			v.LastSuccess = timePtr(ok.Start)
		}
	}
	v.Status = v.status()
	return v
}

// status sums the health up in a word: disabled, failing, healthy or new.
func (v healthView) status() string {
	switch {
	case v.Disabled:
		return "disabled"
	case v.ConsecutiveFailures > 0 || v.LastOutcome == "retry" || v.LastOutcome == "permanent":
		return "failing"
	case v.LastOutcome == "success":
		return "healthy"
	}
	return "new"
}

// lastAttempt returns the record's newest attempt with outcome ("" any).
func (h *Handler) lastAttempt(ctx context.Context, w *webhook.Webhook, outcome string) *webhook.AttemptRecord {
	page, err := h.cfg.log.Attempts(ctx, webhook.AttemptQuery{Tenant: w.Tenant, WebhookID: w.ID, Outcome: outcome, Limit: 1})
	if err != nil {
		h.cfg.logger.WarnContext(ctx, "admin: reading the delivery log", "webhook_id", w.ID.String(), "err", err)
		return nil
	}
	if len(page.Attempts) == 0 {
		return nil
	}
	return &page.Attempts[0]
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
