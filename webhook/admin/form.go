package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
)

// form is the create and edit form: the record's fields as text, and the
// field a failed save names.
type form struct {
	Edit       bool
	ID         uuid.UUID
	Version    int64
	ShowTenant bool

	Name, Description, Tenant, URL, Method, Channels, Headers string
	Scheme, SigHeader, SigPrefix, SigAlgorithm, SigEncoding   string
	Triggers                                                  map[string]bool
	InsecureSkipVerify, PropagateTrace                        bool

	Events       []Event
	Field, Error string
}

// Schemes are the signing schemes the form offers.
func (f *form) Schemes() []string {
	return []string{signer.SchemeTYPO3, signer.SchemeHMAC, signer.SchemeStandardWebhooks, signer.SchemeToken, signer.SchemeNone}
}

// formOf fills a form from a record.
func formOf(w *webhook.Webhook) *form {
	f := &form{Edit: true, ID: w.ID, Version: w.Version, Name: w.Name, Description: w.Description, Tenant: w.Tenant,
		URL: w.URL, Method: w.Method, Channels: strings.Join(w.Channels, " "), Scheme: w.Signing.Scheme,
		SigHeader: w.Signing.Header, SigPrefix: w.Signing.Prefix, SigAlgorithm: w.Signing.Algorithm,
		SigEncoding: w.Signing.Encoding, Triggers: map[string]bool{},
		InsecureSkipVerify: w.InsecureSkipVerify, PropagateTrace: w.PropagateTrace}
	for _, t := range w.Triggers {
		f.Triggers[t] = true
	}
	names := make([]string, 0, len(w.Headers))
	for k := range w.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f.Headers += k + ": " + w.Headers[k] + "\n"
	}
	return f
}

// formFrom reads a posted form.
func formFrom(v url.Values) *form {
	f := &form{Name: v.Get("name"), Description: v.Get("description"), Tenant: v.Get("tenant"),
		URL: strings.TrimSpace(v.Get("url")), Method: v.Get("method"), Channels: v.Get("channels"),
		Headers: v.Get("headers"), Scheme: v.Get("scheme"), SigHeader: v.Get("signing_header"),
		SigPrefix: v.Get("signing_prefix"), SigAlgorithm: v.Get("signing_algorithm"),
		SigEncoding: v.Get("signing_encoding"), Triggers: map[string]bool{},
		InsecureSkipVerify: v.Get("insecure_skip_verify") != "", PropagateTrace: v.Get("propagate_trace") != ""}
	for _, t := range v["triggers"] {
		f.Triggers[t] = true
	}
	f.Version, _ = strconv.ParseInt(v.Get("version"), 10, 64)
	return f
}

// triggers lists the checked triggers, sorted.
func (f *form) triggers() []string {
	out := make([]string, 0, len(f.Triggers))
	for t, on := range f.Triggers {
		if on {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// channels splits the channels field on spaces and commas.
func (f *form) channels() []string {
	return strings.FieldsFunc(f.Channels, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// headers parses "Name: value" lines.
func (f *form) headers() (map[string]string, error) {
	var out map[string]string
	for i, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, invalid("headers", fmt.Sprintf("line %d: write one header a line as Name: value", i+1))
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func (f *form) signing() signer.Config {
	return signer.Config{Scheme: f.Scheme, Header: strings.TrimSpace(f.SigHeader), Prefix: f.SigPrefix,
		Algorithm: f.SigAlgorithm, Encoding: f.SigEncoding}
}

// input is the create request the form stands for.
func (f *form) input(s Scope) (recordInput, error) {
	hdrs, err := f.headers()
	in := recordInput{Name: f.Name, Description: f.Description, Channels: f.channels(), Triggers: f.triggers(),
		URL: f.URL, Method: f.Method, Headers: hdrs, Signing: f.signing(),
		InsecureSkipVerify: f.InsecureSkipVerify, PropagateTrace: f.PropagateTrace}
	if s.AllTenants {
		in.Tenant = &f.Tenant
	}
	return in, err
}

// patch is the update request the form stands for: every field.
func (f *form) patch() (recordPatch, error) {
	hdrs, err := f.headers()
	ch, trg, sig := f.channels(), f.triggers(), f.signing()
	return recordPatch{Version: &f.Version, Name: &f.Name, Description: &f.Description, Channels: &ch,
		Triggers: &trg, URL: &f.URL, Method: &f.Method, Headers: &hdrs, Signing: &sig,
		InsecureSkipVerify: &f.InsecureSkipVerify, PropagateTrace: &f.PropagateTrace}, err
}

// failed records on the form why saving it failed, and the status to show
// it with.
func (f *form) failed(h *Handler, r *http.Request, err error) int {
	p := h.problemOf(r.Context(), err)
	f.Field, f.Error = p.Field, p.Detail
	if p.Field == "version" {
		f.Error = "Someone else changed this record since you opened it. Reload the page and make your change again."
	}
	return p.Status
}
