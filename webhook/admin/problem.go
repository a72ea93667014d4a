package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/outhook/outhook/webhook"
)

// problem is an RFC 9457 problem details object. Field, an extension
// member, names the JSON field of the request at fault.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

func (p *problem) Error() string {
	if p.Field != "" {
		return p.Field + ": " + p.Detail
	}
	return p.Detail
}

// fail answers with p: problem+json for the API, an error page otherwise.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if !isAPI(r) {
		h.errorPage(w, r, p)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// failErr answers with the problem that err stands for. Errors that no
// request can cause are logged and answered 500 without their text.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, err error) {
	h.fail(w, r, h.problemOf(r.Context(), err))
}

func (h *Handler) problemOf(ctx context.Context, err error) *problem {
	var p *problem
	var ve *webhook.ValidationError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ve):
		return &problem{Status: http.StatusUnprocessableEntity, Field: ve.Field, Detail: ve.Reason}
	case errors.Is(err, webhook.ErrNotFound), errors.Is(err, webhook.ErrDeliveryNotFound):
		return notFound("no such record or delivery")
	case errors.Is(err, webhook.ErrConflict):
		return &problem{Status: http.StatusConflict, Field: "version",
			Detail: "the record changed since it was read: read it again and repeat the change"}
	case errors.Is(err, webhook.ErrTenantFull):
		return &problem{Status: http.StatusConflict, Field: "tenant", Detail: "the tenant has the most records allowed"}
	case errors.Is(err, webhook.ErrInvalidCursor):
		return &problem{Status: http.StatusBadRequest, Detail: "invalid cursor: use the next value of the previous page"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &problem{Status: http.StatusServiceUnavailable, Detail: "the request was cancelled or timed out"}
	}
	h.cfg.logger.ErrorContext(ctx, "admin: internal error", "err", err)
	return &problem{Status: http.StatusInternalServerError, Detail: "internal error; the server's log has the details"}
}

func notFound(detail string) *problem { return &problem{Status: http.StatusNotFound, Detail: detail} }

func badRequest(field, detail string) *problem {
	return &problem{Status: http.StatusBadRequest, Field: field, Detail: detail}
}

func invalid(field, detail string) *problem {
	return &problem{Status: http.StatusUnprocessableEntity, Field: field, Detail: detail}
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads r's JSON body, at most the handler's cap, into v: one
// object, no unknown fields, nothing after it. An empty body leaves v as it
// is when optional.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &problem{Status: http.StatusUnsupportedMediaType, Detail: "send application/json"}
		}
	}
	body := http.MaxBytesReader(w, r.Body, h.cfg.maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) && optional {
		return nil
	}
	if err != nil {
		return decodeProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "the body must hold one JSON value and nothing after it")
	}
	return nil
}

// decodeProblem turns a JSON decoding error into a 4xx problem.
func decodeProblem(err error) error {
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return &problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body is larger than %d bytes", big.Limit)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the body must be a JSON object")
	case errors.As(err, &syn):
		return badRequest("", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		return badRequest(typ.Field, fmt.Sprintf("must be %s, not %s", kindName(typ.Type.Kind().String()), typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "unknown field")
	}
	return badRequest("", "the body is not valid JSON for this request")
}

func kindName(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "bool":
		return "true or false"
	}
	return "a " + k
}

func sortStrings(s []string) []string { sort.Strings(s); return s }
