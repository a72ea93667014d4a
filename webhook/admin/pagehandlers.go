package admin

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

func (h *Handler) pageList(w http.ResponseWriter, r *http.Request) {
	q, err := listQuery(r, scopeOf(r))
	var pg webhook.Page
	if err == nil {
		pg, err = h.store.List(r.Context(), q)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	rows := make([]listRow, len(pg.Records))
	for i, rec := range pg.Records {
		rows[i] = listRow{Webhook: rec, Health: h.health(r.Context(), rec)}
	}
	h.render(w, r, http.StatusOK, "list", page{Records: rows, Next: pg.Next})
}

func (h *Handler) pageCatalog(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "catalog", page{Title: "Event catalog", Events: h.events()})
}

func (h *Handler) pageNew(w http.ResponseWriter, r *http.Request) {
	s := scopeOf(r)
	f := &form{Method: http.MethodPost, Triggers: map[string]bool{}, ShowTenant: s.AllTenants, Tenant: s.Tenant}
	h.showForm(w, r, http.StatusOK, f)
}

func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, status int, f *form) {
	f.Events = h.events()
	title := "New webhook"
	if f.Edit {
		title = "Edit " + f.Name
	}
	h.render(w, r, status, "form", page{Title: title, Form: f})
}

func (h *Handler) pageCreate(w http.ResponseWriter, r *http.Request) {
	if err := h.parseForm(w, r); err != nil {
		h.failErr(w, r, err)
		return
	}
	s := scopeOf(r)
	f := formFrom(r.PostForm)
	f.ShowTenant = s.AllTenants
	in, err := f.input(s)
	var rec *webhook.Webhook
	if err == nil {
		rec, err = h.create(r.Context(), s, in)
	}
	if err != nil {
		h.showForm(w, r, f.failed(h, r, err), f)
		return
	}
	h.render(w, r, http.StatusCreated, "secret", page{Title: "Webhook created", Record: rec, Secret: rec.Secret.Reveal(),
		Warnings: h.view(rec, false).Warnings})
}

func (h *Handler) pageRecord(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.showRecord(w, r, rec, nil)
}

// showRecord renders the record page, with the result of a test delivery
// when there is one.
func (h *Handler) showRecord(w http.ResponseWriter, r *http.Request, rec *webhook.Webhook, test *testResult) {
	p := page{Title: rec.Name, Record: rec, Warnings: h.view(rec, false).Warnings, Health: h.health(r.Context(), rec),
		Status: r.URL.Query().Get("status"), HasLog: h.cfg.log != nil, CanResend: h.cfg.resender != nil,
		CanTest: h.cfg.tester != nil, Test: test}
	if p.HasLog {
		pg, err := h.attempts(r, rec)
		if err != nil {
			h.failErr(w, r, err)
			return
		}
		p.Deliveries, p.Next = group(pg.Attempts), pg.Next
	}
	h.render(w, r, http.StatusOK, "record", p)
}

// group gathers attempts by delivery, in the order of each delivery's
// newest attempt.
func group(as []webhook.AttemptRecord) []deliveryRow {
	var rows []deliveryRow
	at := map[uuid.UUID]int{}
	for _, a := range as {
		i, ok := at[a.DeliveryID]
		if !ok {
			i = len(rows)
			at[a.DeliveryID] = i
			rows = append(rows, deliveryRow{ID: a.DeliveryID, Trigger: a.Trigger, Last: a})
		}
		rows[i].Attempts = append(rows[i].Attempts, a)
	}
	return rows
}

func (h *Handler) pageEdit(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.showForm(w, r, http.StatusOK, formOf(rec))
}

func (h *Handler) pageUpdate(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err == nil {
		err = h.parseForm(w, r)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	f := formFrom(r.PostForm)
	f.Edit, f.ID, f.Tenant = true, rec.ID, rec.Tenant
	p, err := f.patch()
	if err == nil {
		_, err = h.update(r.Context(), rec.ID, p)
	}
	if err != nil {
		h.showForm(w, r, f.failed(h, r, err), f)
		return
	}
	redirect(w, r, "/records/"+rec.ID.String(), "updated")
}

// pageAction serves a form's POST that changes a record, then goes back
// to it.
func (h *Handler) pageAction(act action, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec, err := h.record(r, r.PathValue("id"))
		if err == nil {
			rec, err = act(r, rec)
		}
		if err != nil {
			h.failErr(w, r, err)
			return
		}
		redirect(w, r, "/records/"+rec.ID.String(), done)
	}
}

func (h *Handler) pageRotate(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err == nil {
		rec, err = h.rotate(r.Context(), rec.ID, h.cfg.overlap)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "secret", page{Title: "New secret for " + rec.Name, Record: rec,
		Secret: rec.Secret.Reveal()})
}

func (h *Handler) pageTest(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err == nil {
		err = h.parseForm(w, r)
	}
	var res testResult
	if err == nil {
		res, err = h.sendTest(r.Context(), rec, r.PostForm.Get("trigger"))
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.showRecord(w, r, rec, &res)
}

func (h *Handler) pageDelete(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	if err == nil {
		err = h.store.Delete(r.Context(), rec.ID)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	redirect(w, r, "/", "deleted")
}

func (h *Handler) pageResend(w http.ResponseWriter, r *http.Request) {
	rec, err := h.record(r, r.PathValue("id"))
	var res resendResult
	if err == nil {
		res, err = h.resend(r.Context(), rec, r.PathValue("delivery"))
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	done := "resent"
	if res.Status == "failed" {
		done = "resend-failed"
	}
	redirect(w, r, "/records/"+rec.ID.String(), done)
}
