package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
)

// recordView is a record as the API shows it: webhook.Webhook's JSON, whose
// secrets are "[redacted]", plus the warnings about its URL. Secret is set
// only in the answers to create and rotate, the one time the secret is
// shown.
type recordView struct {
	*webhook.Webhook
	Secret string `json:"secret"`
	// The record's times, left out when zero (they shadow the record's).
	DisabledAt              *time.Time `json:"disabled_at,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	Warnings                []string   `json:"warnings,omitempty"`
}

// recordInput is the body of a create request.
type recordInput struct {
	Name               string            `json:"name"`
	Description        string            `json:"description"`
	Tenant             *string           `json:"tenant"`
	Channels           []string          `json:"channels"`
	Triggers           []string          `json:"triggers"`
	URL                string            `json:"url"`
	Method             string            `json:"method"`
	Headers            map[string]string `json:"headers"`
	Signing            signer.Config     `json:"signing"`
	Secret             webhook.Secret    `json:"secret"`
	Disabled           bool              `json:"disabled"`
	InsecureSkipVerify bool              `json:"insecure_skip_verify"`
	PropagateTrace     bool              `json:"propagate_trace"`
}

// recordPatch is the body of an update request: fields present replace the
// record's; Version, when present, must be the stored record's.
type recordPatch struct {
	Version            *int64             `json:"version"`
	Name               *string            `json:"name"`
	Description        *string            `json:"description"`
	Tenant             *string            `json:"tenant"`
	Channels           *[]string          `json:"channels"`
	Triggers           *[]string          `json:"triggers"`
	URL                *string            `json:"url"`
	Method             *string            `json:"method"`
	Headers            *map[string]string `json:"headers"`
	Signing            *signer.Config     `json:"signing"`
	InsecureSkipVerify *bool              `json:"insecure_skip_verify"`
	PropagateTrace     *bool              `json:"propagate_trace"`
}

// view returns w as the API shows it, with its URL's warnings.
func (h *Handler) view(w *webhook.Webhook, reveal bool) recordView {
	v := recordView{Webhook: w, Secret: "[redacted]", DisabledAt: timePtr(w.DisabledAt),
		PreviousSecretExpiresAt: timePtr(w.PreviousSecretExpiresAt)}
	if reveal {
		v.Secret = w.Secret.Reveal()
	}
	if err := w.CheckURL(h.cfg.guard); err != nil {
		var ve *webhook.ValidationError
		if errors.As(err, &ve) {
			v.Warnings = append(v.Warnings, ve.Reason)
		}
	}
	return v
}

// record returns the record id if the request's scope covers it. Records
// of other tenants are not found, so that their IDs reveal nothing.
func (h *Handler) record(r *http.Request, id string) (*webhook.Webhook, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, notFound("no such record")
	}
	w, err := h.store.Get(r.Context(), u)
	if errors.Is(err, webhook.ErrNotFound) || err == nil && !scopeOf(r).allows(w.Tenant) {
		return nil, notFound("no such record")
	}
	return w, err
}

// create stores a record from in, in the scope's tenant.
func (h *Handler) create(ctx context.Context, s Scope, in recordInput) (*webhook.Webhook, error) {
	tenant := s.Tenant
	if in.Tenant != nil {
		if !s.allows(*in.Tenant) {
			return nil, &problem{Status: http.StatusForbidden, Field: "tenant", Detail: "you may create records of your own tenant only"}
		}
		tenant = *in.Tenant
	}
	w := &webhook.Webhook{Name: in.Name, Description: in.Description, Tenant: tenant, Channels: in.Channels,
		Triggers: in.Triggers, URL: in.URL, Method: in.Method, Headers: in.Headers, Signing: in.Signing,
		Secret: in.Secret, Disabled: in.Disabled, InsecureSkipVerify: in.InsecureSkipVerify, PropagateTrace: in.PropagateTrace}
	if err := h.check(w); err != nil {
		return nil, err
	}
	if err := h.store.Create(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

// check validates w, and that its triggers are registered.
func (h *Handler) check(w *webhook.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	return w.CheckTriggers(h.reg)
}

// update applies p to the record id, which the scope covers.
func (h *Handler) update(ctx context.Context, id uuid.UUID, p recordPatch) (*webhook.Webhook, error) {
	return webhook.Modify(ctx, h.store, id, func(w *webhook.Webhook) error {
		if p.Version != nil && *p.Version != w.Version {
			return fmt.Errorf("version %d, stored %d: %w", *p.Version, w.Version, webhook.ErrConflict)
		}
		if p.Tenant != nil && *p.Tenant != w.Tenant {
			return invalid("tenant", "a record's tenant cannot change: create a record for the other tenant")
		}
		p.apply(w)
		return h.check(w)
	})
}

func (p recordPatch) apply(w *webhook.Webhook) {
	set(&w.Name, p.Name)
	set(&w.Description, p.Description)
	set(&w.Channels, p.Channels)
	set(&w.Triggers, p.Triggers)
	set(&w.URL, p.URL)
	set(&w.Method, p.Method)
	set(&w.Headers, p.Headers)
	set(&w.Signing, p.Signing)
	set(&w.InsecureSkipVerify, p.InsecureSkipVerify)
	set(&w.PropagateTrace, p.PropagateTrace)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// enable re-enables the record and resets its health.
func (h *Handler) enable(ctx context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	w, err := webhook.Modify(ctx, h.store, id, func(w *webhook.Webhook) error { w.Enable(); return nil })
	if err == nil && h.cfg.health != nil {
		h.cfg.health.Reset(id)
	}
	return w, err
}

// disable disables the record by hand.
func (h *Handler) disable(ctx context.Context, id uuid.UUID, s Scope) (*webhook.Webhook, error) {
	reason := "disabled by an administrator"
	if s.User != "" {
		reason = "disabled by " + s.User
	}
	if _, err := h.store.Disable(ctx, id, reason, h.cfg.now()); err != nil {
		return nil, err
	}
	return h.store.Get(ctx, id)
}

// rotate gives the record a new secret; the old one stays valid for overlap.
func (h *Handler) rotate(ctx context.Context, id uuid.UUID, overlap time.Duration) (*webhook.Webhook, error) {
	return webhook.Modify(ctx, h.store, id, func(w *webhook.Webhook) error {
		return w.RotateSecret("", overlap, h.cfg.now())
	})
}

// listQuery is the ListQuery of a list request in scope s: a portal sees
// its tenant; an operator every tenant, or the one ?tenant= names.
func listQuery(r *http.Request, s Scope) (webhook.ListQuery, error) {
	q := webhook.ListQuery{Tenant: s.Tenant, After: r.URL.Query().Get("after")}
	if s.AllTenants {
		if t, ok := r.URL.Query()["tenant"]; ok {
			q.Tenant = t[0]
		} else {
			q.AllTenants = true
		}
	}
	n, err := limit(r)
	q.Limit = n
	return q, err
}

// limit reads ?limit=, 1 to webhook.MaxPageSize; 0 when absent.
func limit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > webhook.MaxPageSize {
		return 0, badRequest("limit", fmt.Sprintf("must be a number from 1 to %d", webhook.MaxPageSize))
	}
	return n, nil
}
