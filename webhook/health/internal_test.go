package health

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// State is kept only for records that exist and are enabled: it goes with
// the record, with Reset, and gates go with their last record.
func TestStateIsBounded(t *testing.T) {
	for _, perHost := range []bool{false, true} {
		t.Run(fmt.Sprintf("perHost=%t", perHost), func(t *testing.T) {
			ctx := context.Background()
			store := webhook.NewMemoryStore()
			opts := []Option{WithRateLimit(100, 10), WithConcurrencyLimit(4)}
			if perHost {
				opts = append(opts, WithPerHostLimits())
			}
			m := New(store, opts...)
			next := func(ctx context.Context, env transport.Envelope, n int) transport.Attempt {
				if _, err := store.Get(ctx, env.WebhookID); errors.Is(err, webhook.ErrNotFound) {
					return transport.Attempt{Number: n, Outcome: transport.Permanent, Err: webhook.ErrWebhookGone}
				}
				return transport.Attempt{Number: n, Outcome: transport.Retry, Err: errors.New("connection refused")}
			}
			attempt := m.Middleware()(next)

			var recs []*webhook.Webhook
			for i := range 6 {
				w := &webhook.Webhook{Name: "n", Triggers: []string{"myapp/x"}, URL: fmt.Sprintf("https://h%d.example/%d", i%2, i)}
				require.NoError(t, store.Create(ctx, w))
				recs = append(recs, w)
				attempt(ctx, transport.Envelope{WebhookID: w.ID}, 1)
			}
			m.mu.Lock()
			require.Len(t, m.records, 6)
			wantGates := 6
			if perHost {
				wantGates = 2
			}
			require.Len(t, m.gates, wantGates)
			m.mu.Unlock()

			for i, w := range recs {
				if i%2 == 0 {
					m.Reset(w.ID)
					continue
				}
				require.NoError(t, store.Delete(ctx, w.ID))
				attempt(ctx, transport.Envelope{WebhookID: w.ID}, 1)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			assert.Empty(t, m.records)
			assert.Empty(t, m.gates)
		})
	}
}

func TestErrorText(t *testing.T) {
	long := errors.New(string(make([]byte, 1000)) + "é")
	assert.Len(t, errorText(long), maxErrorText+len("…"))
	assert.Equal(t, "unknown error", errorText(nil))
	assert.Equal(t, "x", errorText(errors.New("x")))
}
