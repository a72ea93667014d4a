package outboxsqlite_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport/durable"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// Rescue on start is the one write outhook makes to River's job table
// outside River's API (River can retry a job, but not one it believes is
// running). It must put a delivery that a crash left "running" back to work
// at once; if a River upgrade renames the table, the state or the kind
// column, the UPDATE fails here, loudly.
func TestRescueOnStart(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []outbox.Option
		delivered bool
	}{
		{"default: rescued", nil, true},
		{"turned off: left to River's stuck-job rescue", []outbox.Option{outbox.WithRescueOnStart(false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			got := make(chan string, 1)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get(webhook.HeaderDeliveryID)
			}))
			defer rc.Close()
			reg := trigger.NewRegistry()
			require.NoError(t, trigger.Register[OrderPaid](reg, "shop/order-paid", ""))
			path := filepath.Join(t.TempDir(), "rescue.db")
			open := func(opts ...outbox.Option) *outboxsqlite.Outbox {
				ob, err := outboxsqlite.Open(path, reg, append([]outbox.Option{
					outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
					outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))),
				}, opts...)...)
				require.NoError(t, err)
				return ob
			}

			// The process that "crashed": it enqueued a delivery, and a worker
			// had taken it when the process died.
			first := open()
			require.NoError(t, first.Migrate(ctx))
			require.NoError(t, first.Store().Create(ctx, &webhook.Webhook{Name: "shop", Triggers: []string{"shop/order-paid"}, URL: rc.URL}))
			ds, err := first.Dispatch(ctx, OrderPaid{ID: 1})
			require.NoError(t, err)
			_, err = first.DB().ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = CURRENT_TIMESTAMP WHERE kind = ?`, durable.Kind)
			require.NoError(t, err)
			require.NoError(t, first.Close(ctx))

			second := open(tc.opts...)
			defer second.Close(ctx)
			require.NoError(t, second.Start(ctx))
			if tc.delivered {
				select {
				case id := <-got:
					assert.Equal(t, ds[0].ID.String(), id, "the same delivery, with its ID")
				case <-time.After(10 * time.Second):
					t.Fatal("the rescued delivery was not sent")
				}
				return
			}
			res, err := second.Client().JobList(ctx, river.NewJobListParams().Kinds(durable.Kind))
			require.NoError(t, err)
			require.Len(t, res.Jobs, 1)
			assert.Equal(t, rivertype.JobStateRunning, res.Jobs[0].State, "without rescue the job waits for River's stuck-job rescue")
			assert.Equal(t, 1, res.Jobs[0].Attempt, "and was not worked again")
		})
	}
}
