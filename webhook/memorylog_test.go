package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/storetest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

var logTime = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func TestMemoryLogContract(t *testing.T) {
	t.Run("NewMemoryLog", func(t *testing.T) {
		storetest.RunDeliveryLog(t, func(*testing.T) webhook.DeliveryLog { return webhook.NewMemoryLog() })
	})
	t.Run("ZeroValue", func(t *testing.T) {
		storetest.RunDeliveryLog(t, func(*testing.T) webhook.DeliveryLog { return &webhook.MemoryLog{} })
	})
}

// recordN logs attempts 1..n of a new delivery to hook and returns its ID.
func recordN(t *testing.T, l *webhook.MemoryLog, hook uuid.UUID, n int) uuid.UUID {
	t.Helper()
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: hook, Trigger: "t/x", Body: []byte(`{}`)}
	for i := 1; i <= n; i++ {
		require.NoError(t, l.RecordAttempt(context.Background(), env, transport.Attempt{Number: i, Outcome: transport.Retry}))
	}
	return env.DeliveryID
}

// count returns how many attempts q selects, over every page.
func count(t *testing.T, l *webhook.MemoryLog, q webhook.AttemptQuery) int {
	t.Helper()
	n := 0
	for q.Limit = webhook.MaxPageSize; ; {
		page, err := l.Attempts(context.Background(), q)
		require.NoError(t, err)
		n += len(page.Attempts)
		if page.Next == "" {
			return n
		}
		q.Before = page.Next
	}
}

// N+10 deliveries to one record keep the last N, with their attempts; the
// other records keep theirs.
func TestMemoryLogKeepsLastDeliveriesPerRecord(t *testing.T) {
	const n = 5
	for name, l := range map[string]*webhook.MemoryLog{
		"option":  webhook.NewMemoryLog(webhook.WithDeliveriesPerRecord(n)),
		"default": webhook.NewMemoryLog(),
	} {
		t.Run(name, func(t *testing.T) {
			keep := n
			if name == "default" {
				keep = webhook.DefaultDeliveriesPerRecord
			}
			hook, other := uuid.New(), uuid.New()
			otherID := recordN(t, l, other, 2)
			var ids []uuid.UUID
			for i := 0; i < keep+10; i++ {
				ids = append(ids, recordN(t, l, hook, 2))
			}
			assert.Equal(t, 2*keep, count(t, l, webhook.AttemptQuery{WebhookID: hook}))
			for i, id := range ids {
				_, err := l.Envelope(id)
				if i < 10 {
					assert.ErrorIs(t, err, webhook.ErrDeliveryNotFound, "delivery %d is gone", i)
					assert.Zero(t, count(t, l, webhook.AttemptQuery{DeliveryID: id}), "and its attempts")
				} else {
					assert.NoError(t, err, "delivery %d is kept", i)
				}
			}
			_, err := l.Envelope(otherID)
			assert.NoError(t, err, "another record's deliveries are kept")
			assert.Equal(t, 2, count(t, l, webhook.AttemptQuery{WebhookID: other}))
		})
	}
}

// A delivery attempted again becomes the most recent: the least recently
// attempted goes first.
func TestMemoryLogDropsLeastRecentlyAttempted(t *testing.T) {
	l := webhook.NewMemoryLog(webhook.WithDeliveriesPerRecord(2))
	hook := uuid.New()
	a := recordN(t, l, hook, 1)
	b := recordN(t, l, hook, 1)
	env, err := l.Envelope(a)
	require.NoError(t, err)
	require.NoError(t, l.RecordAttempt(context.Background(), env, transport.Attempt{Number: 2}))
	recordN(t, l, hook, 1)
	_, err = l.Envelope(a)
	assert.NoError(t, err, "a was attempted after b")
	_, err = l.Envelope(b)
	assert.ErrorIs(t, err, webhook.ErrDeliveryNotFound)
}

func TestMemoryLogMaxDeliveries(t *testing.T) {
	l := webhook.NewMemoryLog(webhook.WithMaxDeliveries(4))
	var ids []uuid.UUID
	for i := 0; i < 6; i++ {
		ids = append(ids, recordN(t, l, uuid.New(), 1)) // a record each
	}
	assert.Equal(t, 4, count(t, l, webhook.AttemptQuery{}))
	for i, id := range ids {
		_, err := l.Envelope(id)
		assert.Equal(t, i < 2, err != nil, "delivery %d", i)
	}
}

// A delivery keeps its latest MaxAttemptsPerDelivery attempts, and its count
// goes on.
func TestMemoryLogAttemptsPerDelivery(t *testing.T) {
	l := webhook.NewMemoryLog()
	n := webhook.MaxAttemptsPerDelivery + 5
	id := recordN(t, l, uuid.New(), n)
	page, err := l.Attempts(context.Background(), webhook.AttemptQuery{DeliveryID: id, Limit: webhook.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, page.Attempts, webhook.MaxAttemptsPerDelivery)
	assert.Equal(t, n, page.Attempts[0].Attempt)
	assert.Equal(t, 6, page.Attempts[len(page.Attempts)-1].Attempt)
	env, err := l.Envelope(id)
	require.NoError(t, err)
	assert.Equal(t, n, env.AttemptOffset)
}

// The log keeps a delivery's whole envelope, for a resend.
func TestMemoryLogEnvelope(t *testing.T) {
	l := &webhook.MemoryLog{}
	_, err := l.Envelope(uuid.New())
	require.ErrorIs(t, err, webhook.ErrDeliveryNotFound, "the zero MemoryLog is empty")
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: uuid.New(), Tenant: "org/42", Trigger: "t/x",
		IdempotencyKey: "order-7", Body: []byte(`{"id":7}`), CreatedAt: logTime, Meta: map[string]string{"traceparent": "00-x"},
		AttemptOffset: 4}
	for n := 5; n <= 6; n++ {
		require.NoError(t, l.RecordAttempt(context.Background(), env, transport.Attempt{Number: n, Outcome: transport.Retry}))
	}
	got, err := l.Envelope(env.DeliveryID)
	require.NoError(t, err)
	want := env
	want.AttemptOffset = 6
	assert.Equal(t, want, got)
}

func BenchmarkMemoryLogRecordAttempt(b *testing.B) {
	l := webhook.NewMemoryLog()
	hooks := make([]uuid.UUID, 1000)
	for i := range hooks {
		hooks[i] = uuid.New()
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: hooks[i%len(hooks)], Trigger: fmt.Sprint("t/", i%3)}
		_ = l.RecordAttempt(ctx, env, transport.Attempt{Number: 1})
	}
}
