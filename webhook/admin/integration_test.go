package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
	"github.com/outhook/outhook/webhook/health"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// stack is one real setup the admin runs on: a store, a delivery log, a
// resender, a sender for tests and a way to dispatch.
type stack struct {
	name     string
	store    webhook.Store
	log      webhook.DeliveryLog
	resender webhook.Resender
	tester   admin.Attempter
	monitor  *health.Monitor // nil on the outbox
	dispatch func(ctx context.Context, msg trigger.Message, opts ...webhook.DispatchOption) ([]webhook.Delivery, error)
}

func (s *stack) options() []admin.Option {
	opts := []admin.Option{admin.WithDeliveryLog(s.log), admin.WithResender(s.resender), admin.WithTestSender(s.tester),
		admin.WithGuard(loopback)}
	if s.monitor != nil {
		opts = append(opts, admin.WithHealth(s.monitor))
	}
	return opts
}

var (
	loopback = netguard.New(netguard.AllowLoopback())
	quiet    = slog.New(slog.DiscardHandler)
)

func quickBackOff() backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(10*time.Millisecond), 1)
}

// memoryStack is the in-process setup: MemoryStore, Sync, MemoryLog fed by
// LogAttempts, the health monitor.
func memoryStack(t testing.TB, reg *trigger.Registry) *stack {
	store, log := webhook.NewMemoryStore(), webhook.NewMemoryLog()
	m := health.New(store, health.WithLogger(quiet))
	d := webhook.NewDispatcher(store, reg, webhook.WithGuard(loopback), webhook.WithLogger(quiet),
		webhook.WithBackOff(quickBackOff), webhook.WithMiddleware(webhook.LogAttempts(log), m.Middleware()))
	return &stack{name: "memory", store: store, log: log, resender: webhook.NewResender(d, log), tester: d.Sender(),
		monitor: m, dispatch: d.Dispatch}
}

// outboxStack is the River outbox: the SQL store and log, Resend, and a
// Sender that logs test deliveries in the outbox's log.
func outboxStack(name string, store webhook.Store, log webhook.DeliveryLog, resender webhook.Resender,
	dispatch func(context.Context, trigger.Message, ...webhook.DispatchOption) ([]webhook.Delivery, error)) *stack {
	tester := webhook.NewSender(store, webhook.WithGuard(loopback), webhook.WithLogger(quiet),
		webhook.WithMiddleware(webhook.LogAttempts(log)))
	return &stack{name: name, store: store, log: log, resender: resender, tester: tester, dispatch: dispatch}
}

func outboxOptions() []outbox.Option {
	return []outbox.Option{outbox.WithSenderOptions(webhook.WithGuard(loopback), webhook.WithLogger(quiet),
		webhook.WithBackOff(quickBackOff)), outbox.WithFetchPollInterval(20 * time.Millisecond), outbox.WithLogger(quiet)}
}

func sqliteStack(t testing.TB, reg *trigger.Registry) *stack {
	ob, err := outboxsqlite.Open(":memory:", reg, outboxOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ob.Close(context.Background()) })
	ctx := context.Background()
	require.NoError(t, ob.Migrate(ctx))
	require.NoError(t, ob.Start(ctx))
	return outboxStack("outbox-sqlite", ob.Store(), ob.Log(), ob, ob.Dispatch)
}

func postgresStack(t testing.TB, reg *trigger.Registry) *stack {
	schema, dsn := pgtest.NewSchema(t)
	ob, err := outboxpg.New(pgtest.NewPool(t, dsn), reg, append(outboxOptions(), outbox.WithSchema(schema))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ob.Close(context.Background()) })
	ctx := context.Background()
	require.NoError(t, ob.Migrate(ctx))
	require.NoError(t, ob.Start(ctx))
	return outboxStack("outbox-postgres", ob.Store(), ob.Log(), ob, ob.Dispatch)
}

var stacks = []struct {
	name string
	open func(testing.TB, *trigger.Registry) *stack
}{
	{"memory", memoryStack},
	{"outbox-sqlite", sqliteStack},
	{"outbox-postgres", postgresStack},
}

// receiver counts requests and answers 200.
func receiver(t testing.TB) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		_, _ = w.Write([]byte("thanks"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

type attemptList struct {
	Attempts []struct {
		DeliveryID uuid.UUID `json:"delivery_id"`
		Tenant     string    `json:"tenant"`
		Trigger    string    `json:"trigger"`
		Attempt    int       `json:"attempt"`
		Outcome    string    `json:"outcome"`
		StatusCode int       `json:"status_code"`
		Excerpt    string    `json:"excerpt"`
	} `json:"attempts"`
}

// The admin on every real setup: a record made through the API receives a
// dispatched message, its delivery shows in the log, a resend adds an
// attempt, a test delivery arrives, and another tenant sees none of it.
func TestOnRealStacks(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			reg := registry(t)
			s := st.open(t, reg)
			h, err := admin.New(s.store, reg, testAuthorize, append(s.options(), admin.WithLogger(quiet))...)
			require.NoError(t, err)
			f := &fixture{h: h}
			srv, got := receiver(t)

			w := f.do(t, "portal:org-1", "POST", "/api/records",
				`{"name":"CRM","triggers":["test/page-updated"],"url":"`+srv.URL+`/hook"}`)
			require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
			rec := decodeBody[recordJSON](t, w)
			assert.Empty(t, rec.Warnings, "the admin's guard allows loopback here")
			id := rec.ID.String()

			ds, err := s.dispatch(context.Background(), PageUpdated{PageID: 7, Action: "edit"}, webhook.WithTenant("org-1"))
			require.NoError(t, err)
			require.Len(t, ds, 1)
			del := ds[0].ID
			path := "/api/records/" + id + "/deliveries/" + del.String()
			waitAttempts(t, f, "portal:org-1", path, 1)

			// River may still be finishing the job the log already shows: it
			// refuses (409) until then.
			require.Eventually(t, func() bool {
				w = f.do(t, "portal:org-1", "POST", path+"/resend", "")
				require.Contains(t, []int{http.StatusOK, http.StatusConflict}, w.Code, w.Body.String())
				return w.Code == http.StatusOK
			}, 10*time.Second, 20*time.Millisecond)
			as := waitAttempts(t, f, "portal:org-1", path, 2)
			assert.Equal(t, 2, as.Attempts[0].Attempt, "the resend continues the count")
			assert.Equal(t, "success", as.Attempts[0].Outcome)
			assert.Equal(t, "org-1", as.Attempts[0].Tenant)
			assert.Equal(t, "thanks", as.Attempts[0].Excerpt)

			w = f.do(t, "portal:org-1", "POST", "/api/records/"+id+"/test", "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "success", decodeBody[map[string]any](t, w)["outcome"])
			assert.EqualValues(t, 3, got.Load(), "dispatch, resend and test reached the receiver")
			all := decodeBody[attemptList](t, f.do(t, "portal:org-1", "GET", "/api/records/"+id+"/deliveries", ""))
			assert.Len(t, all.Attempts, 3, "the test delivery is logged too")

			hv := decodeBody[map[string]any](t, f.do(t, "portal:org-1", "GET", "/api/records/"+id+"/health", ""))
			assert.Equal(t, "healthy", hv["status"])
			assert.NotEmpty(t, hv["last_success"])

			for _, p := range []string{"/api/records/" + id, path, path + "/resend"} {
				method := "GET"
				if strings.HasSuffix(p, "/resend") {
					method = "POST"
				}
				assert.Equal(t, http.StatusNotFound, f.do(t, "portal:org-2", method, p, "").Code, p)
			}
			assert.EqualValues(t, 3, got.Load())
			w = f.do(t, "portal:org-1", "POST", "/api/records/"+id+"/deliveries/"+uuid.NewString()+"/resend", "")
			assert.Equal(t, http.StatusNotFound, w.Code)
		})
	}
}

// waitAttempts polls a delivery until it has n attempts, newest first.
func waitAttempts(t testing.TB, f *fixture, scope, path string, n int) attemptList {
	t.Helper()
	var as attemptList
	require.Eventually(t, func() bool {
		w := f.do(t, scope, "GET", path, "")
		if w.Code != http.StatusOK {
			return false
		}
		as = decodeBody[attemptList](t, w)
		return len(as.Attempts) == n
	}, 10*time.Second, 20*time.Millisecond, "%s never had %d attempts", path, n)
	return as
}
