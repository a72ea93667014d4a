package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
	"github.com/outhook/outhook/webhook/health"
)

// PageUpdated offers an example and a derived schema.
type PageUpdated struct {
	PageID int       `json:"page_id"`
	Action string    `json:"action"`
	Title  string    `json:"title,omitempty"`
	At     time.Time `json:"at"`
	By     uuid.UUID `json:"by"`
}

func (p PageUpdated) JSONSerialize() any { return p }

func (PageUpdated) WebhookExample() trigger.Message {
	return PageUpdated{PageID: 42, Action: "edit", Title: "Home", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		By: uuid.MustParse("7d9f3c1e-5a2b-4c8d-9e0f-1a2b3c4d5e6f")}
}

// FileAdded is registered as a pointer and sends another shape than itself.
type FileAdded struct{ Path string }

type fileBody struct {
	File string `json:"file"`
	Size int64  `json:"size"`
}

func (f *FileAdded) JSONSerialize() any { return fileBody{File: f.Path} }

func (*FileAdded) WebhookExample() trigger.Message { return &FileAdded{Path: "/fileadmin/a.pdf"} }

// Raw sends raw JSON; its schema is any value.
type Raw json.RawMessage

func (r Raw) JSONSerialize() any { return json.RawMessage(r) }

// Custom gives its own schema.
type Custom struct{}

func (Custom) JSONSerialize() any { return map[string]int{"n": 1} }

func (Custom) WebhookSchema() json.RawMessage {
	return json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}`)
}

func (Custom) WebhookExample() trigger.Message { return Custom{} }

func registry(t testing.TB) *trigger.Registry {
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[PageUpdated](reg, "test/page-updated", "A page was created, updated or deleted"))
	require.NoError(t, trigger.Register[*FileAdded](reg, "test/file-added", "A file was added"))
	require.NoError(t, trigger.Register[Raw](reg, "test/raw", "Anything"))
	require.NoError(t, trigger.Register[Custom](reg, "test/custom", "Its own schema", trigger.PerTenant()))
	return reg
}

// fakeLog is a DeliveryLog in memory, until the real ones land.
type fakeLog struct {
	mu   sync.Mutex
	recs []webhook.AttemptRecord
}

func (l *fakeLog) RecordAttempt(_ context.Context, env transport.Envelope, at transport.Attempt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := webhook.AttemptRecord{ID: int64(len(l.recs) + 1), DeliveryID: env.DeliveryID, WebhookID: env.WebhookID,
		Tenant: env.Tenant, Trigger: env.Trigger, Attempt: at.Number, Start: at.Start, Duration: at.Duration,
		StatusCode: at.StatusCode, Outcome: at.Outcome.String(), Excerpt: at.Excerpt}
	if at.Err != nil {
		r.Error = at.Err.Error()
	}
	l.recs = append(l.recs, r)
	return nil
}

func (l *fakeLog) Attempts(_ context.Context, q webhook.AttemptQuery) (webhook.AttemptPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before := int64(len(l.recs) + 1)
	if q.Before != "" {
		n, err := strconv.ParseInt(q.Before, 10, 64)
		if err != nil {
			return webhook.AttemptPage{}, webhook.ErrInvalidCursor
		}
		before = n
	}
	limit := q.Limit
	if limit <= 0 {
		limit = webhook.DefaultPageSize
	}
	var page webhook.AttemptPage
	for i := len(l.recs) - 1; i >= 0; i-- {
		r := l.recs[i]
		if r.ID >= before || !q.AllTenants && r.Tenant != q.Tenant || q.WebhookID != uuid.Nil && r.WebhookID != q.WebhookID ||
			q.DeliveryID != uuid.Nil && r.DeliveryID != q.DeliveryID || q.Outcome != "" && r.Outcome != q.Outcome {
			continue
		}
		if len(page.Attempts) == limit {
			page.Next = strconv.FormatInt(page.Attempts[limit-1].ID, 10)
			break
		}
		page.Attempts = append(page.Attempts, r)
	}
	return page, nil
}

// fakeResender logs one more attempt of the delivery.
type fakeResender struct {
	log  *fakeLog
	sent []uuid.UUID
	err  error // returned instead, when set
}

func (f *fakeResender) Resend(ctx context.Context, id uuid.UUID) error {
	if f.err != nil {
		return f.err
	}
	page, _ := f.log.Attempts(ctx, webhook.AttemptQuery{AllTenants: true, DeliveryID: id, Limit: 1})
	if len(page.Attempts) == 0 {
		return webhook.ErrDeliveryNotFound
	}
	last := page.Attempts[0]
	f.sent = append(f.sent, id)
	env := transport.Envelope{DeliveryID: id, WebhookID: last.WebhookID, Tenant: last.Tenant, Trigger: last.Trigger}
	return f.log.RecordAttempt(ctx, env, transport.Attempt{Number: last.Attempt + 1, Start: time.Now(), StatusCode: 200})
}

// fakeSender answers every attempt with 200 and keeps the envelopes.
type fakeSender struct {
	mu   sync.Mutex
	envs []transport.Envelope
}

func (f *fakeSender) Attempt(_ context.Context, env transport.Envelope, n int) transport.Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envs = append(f.envs, env)
	return transport.Attempt{Number: n, StatusCode: 200, Duration: 3 * time.Millisecond, Excerpt: "ok"}
}

// fakeHealth reports a failing streak and counts resets.
type fakeHealth struct {
	mu     sync.Mutex
	resets []uuid.UUID
}

func (f *fakeHealth) State(uuid.UUID) health.EndpointState {
	return health.EndpointState{ConsecutiveFailures: 3, FirstFailure: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		LastFailure: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), LastError: "HTTP 503"}
}

func (f *fakeHealth) Reset(id uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, id)
}

// scopeHeader names the test's scope: "operator" or "portal:<tenant>".
const scopeHeader = "X-Test-Scope"

func testAuthorize(r *http.Request) (admin.Scope, error) {
	v := r.Header.Get(scopeHeader)
	switch {
	case v == "operator":
		return admin.Operator("olivia"), nil
	case strings.HasPrefix(v, "portal:"):
		return admin.Portal(strings.TrimPrefix(v, "portal:"), "pat"), nil
	case v == "nobody":
		return admin.Scope{}, admin.ErrForbidden
	}
	return admin.Scope{}, errors.New("not signed in")
}

// fixture is a handler over a memory store with fakes for the rest.
type fixture struct {
	h        *admin.Handler
	store    *webhook.MemoryStore
	reg      *trigger.Registry
	log      *fakeLog
	resender *fakeResender
	sender   *fakeSender
	health   *fakeHealth
}

func newFixture(t testing.TB, opts ...admin.Option) *fixture {
	f := &fixture{store: webhook.NewMemoryStore(), reg: registry(t), log: &fakeLog{}, sender: &fakeSender{}, health: &fakeHealth{}}
	f.resender = &fakeResender{log: f.log}
	opts = append([]admin.Option{admin.WithDeliveryLog(f.log), admin.WithResender(f.resender),
		admin.WithTestSender(f.sender), admin.WithHealth(f.health)}, opts...)
	h, err := admin.New(f.store, f.reg, testAuthorize, opts...)
	require.NoError(t, err)
	f.h = h
	return f
}

// do sends one request to the handler as scope.
func (f *fixture) do(t testing.TB, scope, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" && !strings.HasPrefix(path, "/api/") {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if scope != "" {
		r.Header.Set(scopeHeader, scope)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// record creates a record of tenant in the store.
func (f *fixture) record(t testing.TB, tenant, name string) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: name, Tenant: tenant, Triggers: []string{"test/page-updated"}, URL: "https://example.com/" + name}
	require.NoError(t, f.store.Create(context.Background(), w))
	return w
}

// delivery logs one attempt of a new delivery to w.
func (f *fixture) delivery(t testing.TB, w *webhook.Webhook, outcome transport.Outcome) uuid.UUID {
	t.Helper()
	id := uuid.New()
	env := transport.Envelope{DeliveryID: id, WebhookID: w.ID, Tenant: w.Tenant, Trigger: w.Triggers[0]}
	at := transport.Attempt{Number: 1, Start: time.Now(), Duration: time.Millisecond, StatusCode: 200, Outcome: outcome}
	if outcome != transport.Success {
		at.StatusCode, at.Err = 503, &transport.StatusError{StatusCode: 503}
	}
	require.NoError(t, f.log.RecordAttempt(context.Background(), env, at))
	return id
}

// decodeBody decodes a JSON answer.
func decodeBody[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

// problemBody is an RFC 9457 answer.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}
