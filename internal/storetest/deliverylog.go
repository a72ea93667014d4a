package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// RunDeliveryLog runs the contract of every webhook.DeliveryLog on logs made
// by newLog, one per test: attempts come back with every field, selected by
// delivery, record, tenant and outcome, newest first, in pages whose cursors
// stay valid while attempts are added, and a cursor the log did not make is
// refused with webhook.ErrInvalidCursor. MemoryLog's tests and the SQL log's
// run it.
func RunDeliveryLog(t *testing.T, newLog func(t *testing.T) webhook.DeliveryLog) {
	t.Run("Filters", func(t *testing.T) { logFilters(t, newLog(t)) })
	t.Run("Pages", func(t *testing.T) { logPages(t, newLog(t)) })
	t.Run("BadCursor", func(t *testing.T) { logBadCursor(t, newLog(t)) })
	t.Run("Concurrent", func(t *testing.T) { logConcurrent(t, newLog(t)) })
}

// logged is one attempt the contract recorded, in the order it did.
type logged struct {
	env transport.Envelope
	at  transport.Attempt
}

var logStart = time.Date(2026, 11, 2, 9, 30, 0, 123456000, time.UTC)

// recordFixture records attempts of five deliveries to three records of two
// tenants, and returns them in the order recorded.
func recordFixture(t *testing.T, dl webhook.DeliveryLog) (all []logged, hooks []uuid.UUID, dels []uuid.UUID) {
	t.Helper()
	hooks = []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	type delivery struct {
		hook     int
		tenant   string
		outcomes []transport.Outcome
	}
	plan := []delivery{
		{0, "", []transport.Outcome{transport.Retry, transport.Retry, transport.Success}},
		{1, "", []transport.Outcome{transport.Permanent}},
		{2, "org/42", []transport.Outcome{transport.Retry, transport.Success}},
		{0, "", []transport.Outcome{transport.Success}},
		{2, "org/42", []transport.Outcome{transport.Retry}},
	}
	envs := make([]transport.Envelope, len(plan))
	for i, p := range plan {
		envs[i] = transport.Envelope{DeliveryID: uuid.New(), WebhookID: hooks[p.hook], Tenant: p.tenant,
			Trigger: fmt.Sprintf("t/%d", i), Body: []byte(`{}`)}
		dels = append(dels, envs[i].DeliveryID)
	}
	// Interleaved, as concurrent deliveries are: round by round.
	for n := 1; n <= 3; n++ {
		for i, p := range plan {
			if n > len(p.outcomes) {
				continue
			}
			at := transport.Attempt{Number: n, Start: logStart.Add(time.Duration(len(all)) * time.Second),
				Duration: time.Duration(n) * 250 * time.Millisecond, Outcome: p.outcomes[n-1]}
			switch at.Outcome {
			case transport.Success:
				at.StatusCode, at.Excerpt = 200, "ok"
			case transport.Retry:
				at.StatusCode, at.Excerpt, at.Err = 503, "busy", &transport.StatusError{StatusCode: 503}
			default:
				at.Err = errors.New("webhook: record deleted")
			}
			require.NoError(t, dl.RecordAttempt(context.Background(), envs[i], at))
			all = append(all, logged{envs[i], at})
		}
	}
	return all, hooks, dels
}

// want returns what q should select of all, newest first.
func want(all []logged, keep func(logged) bool) []logged {
	var out []logged
	for i := len(all) - 1; i >= 0; i-- {
		if keep(all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// checkPage compares a page with the attempts expected, newest first, every
// field included, and checks that IDs fall.
func checkPage(t *testing.T, got []webhook.AttemptRecord, exp []logged, what string) {
	t.Helper()
	require.Len(t, got, len(exp), what)
	for i, r := range got {
		e := exp[i]
		errText := ""
		if e.at.Err != nil {
			errText = e.at.Err.Error()
		}
		assert.Equal(t, webhook.AttemptRecord{ID: r.ID, DeliveryID: e.env.DeliveryID, WebhookID: e.env.WebhookID,
			Tenant: e.env.Tenant, Trigger: e.env.Trigger, Attempt: e.at.Number, Start: r.Start, Duration: e.at.Duration,
			StatusCode: e.at.StatusCode, Outcome: e.at.Outcome.String(), Error: errText, Excerpt: e.at.Excerpt}, r, "%s #%d", what, i)
		assert.True(t, e.at.Start.Equal(r.Start), "%s #%d: start %s, want %s", what, i, r.Start, e.at.Start)
		if i > 0 {
			assert.Less(t, r.ID, got[i-1].ID, "%s: newest first", what)
		}
	}
}

func logFilters(t *testing.T, dl webhook.DeliveryLog) {
	ctx := context.Background()
	all, hooks, dels := recordFixture(t, dl)
	tests := []struct {
		name string
		q    webhook.AttemptQuery
		keep func(logged) bool
	}{
		{"application's own", webhook.AttemptQuery{}, func(l logged) bool { return l.env.Tenant == "" }},
		{"tenant", webhook.AttemptQuery{Tenant: "org/42"}, func(l logged) bool { return l.env.Tenant == "org/42" }},
		{"all tenants", webhook.AttemptQuery{AllTenants: true}, func(logged) bool { return true }},
		{"unknown tenant", webhook.AttemptQuery{Tenant: "org/7"}, func(logged) bool { return false }},
		{"delivery", webhook.AttemptQuery{DeliveryID: dels[0]}, func(l logged) bool { return l.env.DeliveryID == dels[0] }},
		{"delivery of another tenant", webhook.AttemptQuery{DeliveryID: dels[2]}, func(logged) bool { return false }},
		{"delivery, all tenants", webhook.AttemptQuery{AllTenants: true, DeliveryID: dels[2]},
			func(l logged) bool { return l.env.DeliveryID == dels[2] }},
		{"record", webhook.AttemptQuery{WebhookID: hooks[0]}, func(l logged) bool { return l.env.WebhookID == hooks[0] }},
		{"record of a tenant", webhook.AttemptQuery{Tenant: "org/42", WebhookID: hooks[2]},
			func(l logged) bool { return l.env.WebhookID == hooks[2] }},
		{"outcome", webhook.AttemptQuery{AllTenants: true, Outcome: "retry"},
			func(l logged) bool { return l.at.Outcome == transport.Retry }},
		{"record and outcome", webhook.AttemptQuery{WebhookID: hooks[0], Outcome: "success"},
			func(l logged) bool { return l.env.WebhookID == hooks[0] && l.at.Outcome == transport.Success }},
		{"tenant and outcome", webhook.AttemptQuery{Tenant: "org/42", Outcome: "permanent"}, func(logged) bool { return false }},
		{"unknown delivery", webhook.AttemptQuery{AllTenants: true, DeliveryID: uuid.New()}, func(logged) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := dl.Attempts(ctx, tt.q)
			require.NoError(t, err)
			checkPage(t, page.Attempts, want(all, tt.keep), tt.name)
			assert.Empty(t, page.Next, "one page holds them all")
		})
	}
}

// pages reads every page of q, limit attempts each, and checks that only
// the last has no Next.
func pages(t *testing.T, dl webhook.DeliveryLog, q webhook.AttemptQuery) (got []webhook.AttemptRecord, n int) {
	t.Helper()
	for {
		page, err := dl.Attempts(context.Background(), q)
		require.NoError(t, err)
		n++
		require.LessOrEqual(t, len(page.Attempts), q.PageSize())
		got = append(got, page.Attempts...)
		if page.Next == "" {
			return got, n
		}
		require.Len(t, page.Attempts, q.PageSize(), "a page before the last is full")
		q.Before = page.Next
	}
}

func logPages(t *testing.T, dl webhook.DeliveryLog) {
	ctx := context.Background()
	all, hooks, _ := recordFixture(t, dl)
	for _, limit := range []int{1, 2, 3, 11, 12} {
		got, n := pages(t, dl, webhook.AttemptQuery{AllTenants: true, Limit: limit})
		checkPage(t, got, want(all, func(logged) bool { return true }), fmt.Sprintf("pages of %d", limit))
		assert.Equal(t, max(1, (len(all)+limit-1)/limit), n, "pages of %d", limit)
	}
	got, _ := pages(t, dl, webhook.AttemptQuery{WebhookID: hooks[0], Limit: 2})
	checkPage(t, got, want(all, func(l logged) bool { return l.env.WebhookID == hooks[0] }), "pages of a record")

	// A cursor stays valid while newer attempts are logged: the next page
	// goes on where the first ended, without repeats.
	first, err := dl.Attempts(ctx, webhook.AttemptQuery{AllTenants: true, Limit: 4})
	require.NoError(t, err)
	require.NotEmpty(t, first.Next)
	extra := transport.Envelope{DeliveryID: uuid.New(), WebhookID: hooks[1], Trigger: "t/extra"}
	require.NoError(t, dl.RecordAttempt(ctx, extra, transport.Attempt{Number: 1, Start: logStart, StatusCode: 204}))
	rest, _ := pages(t, dl, webhook.AttemptQuery{AllTenants: true, Limit: 4, Before: first.Next})
	checkPage(t, append(first.Attempts, rest...), want(all, func(logged) bool { return true }), "pages around a write")

	newest, err := dl.Attempts(ctx, webhook.AttemptQuery{Limit: 1})
	require.NoError(t, err)
	require.Len(t, newest.Attempts, 1)
	assert.Equal(t, extra.DeliveryID, newest.Attempts[0].DeliveryID, "the latest attempt comes first")
	assert.Greater(t, newest.Attempts[0].ID, first.Attempts[0].ID, "IDs grow")
}

func logBadCursor(t *testing.T, dl webhook.DeliveryLog) {
	ctx := context.Background()
	recordFixture(t, dl)
	store := webhook.CursorAfter(&webhook.Webhook{ID: uuid.New(), CreatedAt: logStart}).String()
	for _, c := range []string{"garbage", "!!!", "MTIz", store, webhook.AttemptCursor(0), webhook.AttemptCursor(-5)} {
		_, err := dl.Attempts(ctx, webhook.AttemptQuery{AllTenants: true, Before: c})
		assert.ErrorIs(t, err, webhook.ErrInvalidCursor, "cursor %q", c)
	}
	page, err := dl.Attempts(ctx, webhook.AttemptQuery{AllTenants: true, Before: webhook.AttemptCursor(1)})
	require.NoError(t, err, "a well-formed cursor before every attempt")
	assert.Empty(t, page.Attempts)
	assert.Empty(t, page.Next)
}

func logConcurrent(t *testing.T, dl webhook.DeliveryLog) {
	ctx := context.Background()
	const writers, each = 8, 10
	hook := uuid.New()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: hook, Trigger: "t/c"}
			for n := 1; n <= each; n++ {
				assert.NoError(t, dl.RecordAttempt(ctx, env, transport.Attempt{Number: n, Start: logStart, Outcome: transport.Retry}))
				_, err := dl.Attempts(ctx, webhook.AttemptQuery{WebhookID: hook, Limit: 5})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	got, _ := pages(t, dl, webhook.AttemptQuery{WebhookID: hook, Limit: 7})
	require.Len(t, got, writers*each)
	last := map[uuid.UUID]int{}
	for _, r := range got {
		if n, ok := last[r.DeliveryID]; ok {
			assert.Equal(t, n-1, r.Attempt, "a delivery's attempts come newest first")
		}
		last[r.DeliveryID] = r.Attempt
	}
	assert.Len(t, last, writers)
}
