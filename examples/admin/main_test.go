package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	santhosh "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook/admin"
)

// start runs the app on free 127.0.0.1 ports and returns its URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("the app did not stop")
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return strings.TrimSuffix(u, "/")
		}
	}
	t.Fatal("the app did not start")
	return ""
}

// signIn returns a client with a session of user.
func signIn(t *testing.T, base, user, password string) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(base+"/login", url.Values{"user": {user}, "password": {password}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the login leads to the admin page")
	return c
}

func getJSON(t *testing.T, c *http.Client, u string, v any) int {
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	if v != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	}
	return resp.StatusCode
}

// The app starts, an operator signs in, fires a TYPO3 event from the fire
// page, and sees its delivery in the admin's JSON API; a portal user of
// another tenant does not see the record.
func TestAdminRoundTrip(t *testing.T) {
	base := start(t, "-password", "pw", "-portal", "org-a:alice:pw-a")
	c := signIn(t, base, "admin", "pw")

	var list struct {
		Records []struct{ ID, Name string } `json:"records"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, c, base+"/admin/api/records", &list))
	require.Len(t, list.Records, 1)
	assert.Equal(t, "Local receiver", list.Records[0].Name)
	id := list.Records[0].ID

	resp, err := c.PostForm(base+"/fire", url.Values{"trigger": {"typo3/content/page-modification"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "/fire", resp.Request.URL.Path)
	assert.Equal(t, "1", resp.Request.URL.Query().Get("fired"))

	var attempts struct {
		Attempts []struct{ Outcome, Trigger string } `json:"attempts"`
	}
	require.Eventually(t, func() bool {
		return getJSON(t, c, base+"/admin/api/records/"+id+"/deliveries", &attempts) == http.StatusOK && len(attempts.Attempts) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "success", attempts.Attempts[0].Outcome)
	assert.Equal(t, "typo3/content/page-modification", attempts.Attempts[0].Trigger)

	page, err := c.Get(base + "/fire")
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	assert.Contains(t, string(body), "verified: Local receiver", "the receiver checked the signature")

	alice := signIn(t, base, "alice", "pw-a")
	assert.Equal(t, http.StatusNotFound, getJSON(t, alice, base+"/admin/api/records/"+id, nil))

	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = anon.Get(base + "/admin/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "without a session the admin sends to the login")
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	assert.ErrorIs(t, run(context.Background(), []string{"-h"}, &out), flag.ErrHelp)
	assert.Contains(t, out.String(), "-portal")
	assert.Error(t, run(context.Background(), []string{"-addr", "0.0.0.0:8080"}, io.Discard), "a demo listens on 127.0.0.1 only")
	assert.Error(t, run(context.Background(), []string{"-portal", "org-a"}, io.Discard))
}

// TYPO3's examples match the schemas the catalog derives for them.
func TestTYPO3Catalog(t *testing.T) {
	reg, err := typo3Triggers()
	require.NoError(t, err)
	events, err := admin.Catalog(reg)
	require.NoError(t, err)
	require.Len(t, events, 6)
	for _, ev := range events {
		require.NotEmpty(t, ev.Example, ev.Identifier)
		schema, err := santhosh.UnmarshalJSON(bytes.NewReader(ev.Schema))
		require.NoError(t, err)
		c := santhosh.NewCompiler()
		require.NoError(t, c.AddResource("schema.json", schema))
		compiled, err := c.Compile("schema.json")
		require.NoError(t, err)
		doc, err := santhosh.UnmarshalJSON(bytes.NewReader(ev.Example))
		require.NoError(t, err)
		assert.NoError(t, compiled.Validate(doc), ev.Identifier)
	}
}
