package admin_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
)

// The JSON API, mounted under /admin behind a bearer token: an operator
// creates a record (the answer shows its secret, once), reads it back
// (the secret is redacted) and sends an invalid one (a problem naming the
// field).
func ExampleNew() {
	reg := trigger.NewRegistry()
	_ = trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	store := webhook.NewMemoryStore()

	h, err := admin.New(store, reg, func(r *http.Request) (admin.Scope, error) {
		if r.Header.Get("Authorization") != "Bearer operator-token" {
			return admin.Scope{}, fmt.Errorf("unknown token")
		}
		return admin.Operator("ops"), nil
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer operator-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var v map[string]any
		_ = json.Unmarshal(raw, &v)
		return resp.StatusCode, v
	}

	status, rec := call("POST", "/admin/api/records",
		`{"name":"CRM sync","triggers":["myapp/page-updated"],"url":"https://crm.example/hooks"}`)
	fmt.Println(status, rec["name"], len(rec["secret"].(string)), "characters of secret")

	status, rec = call("GET", "/admin/api/records/"+rec["id"].(string), "")
	fmt.Println(status, rec["name"], rec["secret"])

	status, problem := call("POST", "/admin/api/records", `{"name":"x","triggers":["myapp/page-updated"],"url":"ftp://x"}`)
	fmt.Println(status, problem["field"], problem["detail"])
	// Output:
	// 201 CRM sync 64 characters of secret
	// 200 CRM sync [redacted]
	// 422 url scheme "ftp" is not http or https
}
