package admin

import (
	"net/http"
	"time"

	"github.com/outhook/outhook/webhook"
)

// routeAPI registers the JSON API.
func (h *Handler) routeAPI() {
	h.route("/api/triggers", map[string]http.HandlerFunc{http.MethodGet: h.apiTriggers})
	h.route("/api/records", map[string]http.HandlerFunc{http.MethodGet: h.apiList, http.MethodPost: h.apiCreate})
	h.route("/api/records/{id}", map[string]http.HandlerFunc{
		http.MethodGet: h.apiGet, http.MethodPatch: h.apiUpdate, http.MethodDelete: h.apiDelete})
	h.route("/api/records/{id}/enable", map[string]http.HandlerFunc{http.MethodPost: h.apiAction(h.enableAction)})
	h.route("/api/records/{id}/disable", map[string]http.HandlerFunc{http.MethodPost: h.apiAction(h.disableAction)})
	h.route("/api/records/{id}/rotate", map[string]http.HandlerFunc{http.MethodPost: h.apiRotate})
	h.route("/api/records/{id}/test", map[string]http.HandlerFunc{http.MethodPost: h.apiTest})
	h.route("/api/records/{id}/health", map[string]http.HandlerFunc{http.MethodGet: h.apiHealth})
	h.route("/api/records/{id}/deliveries", map[string]http.HandlerFunc{http.MethodGet: h.apiDeliveries})
	h.route("/api/records/{id}/deliveries/{delivery}", map[string]http.HandlerFunc{http.MethodGet: h.apiDelivery})
	h.route("/api/records/{id}/deliveries/{delivery}/resend", map[string]http.HandlerFunc{http.MethodPost: h.apiResend})
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, notFound("no such API route"))
	})
}

func (h *Handler) apiTriggers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"triggers": h.events()})
}

func (h *Handler) apiList(w http.ResponseWriter, r *http.Request) {
	q, err := listQuery(r, scopeOf(r))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	page, err := h.store.List(r.Context(), q)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	views := make([]recordView, len(page.Records))
	for i, rec := range page.Records {
		views[i] = h.view(rec, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": views, "next": page.Next})
}

func (h *Handler) apiCreate(w http.ResponseWriter, r *http.Request) {
	var in recordInput
	if err := h.decode(w, r, &in, false); err != nil {
		h.failErr(w, r, err)
		return
	}
	rec, err := h.create(r.Context(), scopeOf(r), in)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	w.Header().Set("Location", base(r)+"/api/records/"+rec.ID.String())
	writeJSON(w, http.StatusCreated, h.view(rec, true))
}

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.view(rec, false))
}

func (h *Handler) apiUpdate(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	var p recordPatch
	if err := h.decode(w, r, &p, false); err != nil {
		h.failErr(w, r, err)
		return
	}
	if rec, err = h.update(r.Context(), rec.ID, p); err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.view(rec, false))
}

func (h *Handler) apiDelete(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err == nil {
		err = h.store.Delete(r.Context(), rec.ID)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// action changes a record the scope covers and returns it.
type action func(r *http.Request, rec *webhook.Webhook) (*webhook.Webhook, error)

func (h *Handler) enableAction(r *http.Request, rec *webhook.Webhook) (*webhook.Webhook, error) {
	return h.enable(r.Context(), rec.ID)
}

func (h *Handler) disableAction(r *http.Request, rec *webhook.Webhook) (*webhook.Webhook, error) {
	return h.disable(r.Context(), rec.ID, scopeOf(r))
}

// apiAction serves a body-less action on a record.
func (h *Handler) apiAction(act action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec, err := h.record(r, r.PathValue("id"))
		if err == nil {
			err = h.decode(w, r, &struct{}{}, true)
		}
		if err == nil {
			rec, err = act(r, rec)
		}
		if err != nil {
			h.failErr(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, h.view(rec, false))
	}
}

// rotateInput is the optional body of a rotate request.
type rotateInput struct {
	// Overlap is how long the old secret stays valid, as a Go duration
	// ("24h", "0s").
	Overlap *string `json:"overlap"`
}

func (h *Handler) apiRotate(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	var in rotateInput
	if err == nil {
		err = h.decode(w, r, &in, true)
	}
	overlap := h.cfg.overlap
	if err == nil && in.Overlap != nil {
		overlap, err = parseOverlap(*in.Overlap)
	}
	if err == nil {
		rec, err = h.rotate(r.Context(), rec.ID, overlap)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.view(rec, true))
}

func parseOverlap(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxRotationOverlap {
		return 0, badRequest("overlap", "must be a duration such as 24h, from 0s to 720h")
	}
	return d, nil
}

func (h *Handler) apiTest(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	var in testInput
	if err == nil {
		err = h.decode(w, r, &in, true)
	}
	var res testResult
	if err == nil {
		res, err = h.sendTest(r.Context(), rec, in.Trigger)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) apiHealth(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.health(r.Context(), rec))
}

func (h *Handler) apiDeliveries(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	var page webhook.AttemptPage
	if err == nil {
		page, err = h.attempts(r, rec)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": viewAttempts(page.Attempts), "next": page.Next})
}

func (h *Handler) apiDelivery(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	var as []webhook.AttemptRecord
	if err == nil {
		_, as, err = h.delivery(r.Context(), rec, r.PathValue("delivery"))
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": viewAttempts(as)})
}

func (h *Handler) apiResend(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err == nil {
		err = h.decode(w, r, &struct{}{}, true)
	}
	var res resendResult
	if err == nil {
		res, err = h.resend(r.Context(), rec, r.PathValue("delivery"))
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
