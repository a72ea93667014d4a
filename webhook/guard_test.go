package webhook_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

func TestDefaultGuardRefusesInternalAddresses(t *testing.T) {
	// The target is loopback, so even a broken guard would not send
	// traffic off this machine.
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	record(t, store, rc.URL)
	d := webhook.NewDispatcher(store, registry(t), webhook.WithBackOff(fastBackOff(3)))
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	assert.Equal(t, webhook.StatusFailed, deliveries[0].Status)
	assert.Equal(t, 1, deliveries[0].Attempts, "a refused destination is not retried")
	assert.ErrorIs(t, deliveries[0].Err, netguard.ErrBlocked)
	var be *netguard.BlockedError
	require.ErrorAs(t, deliveries[0].Err, &be)
	assert.Equal(t, "127.0.0.1", be.IP.String())
	assert.Empty(t, rc.requests())
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		warn bool
	}{
		{"https://hooks.example.com/x", false},
		{"http://127.0.0.1:8080/x", true},
		{"http://169.254.169.254/latest/meta-data", true},
		{"http://[::ffff:10.0.0.1]/x", true},
		{"http://2130706433/x", true},
		{"https://user:pass@hooks.example.com/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			w := valid()
			w.URL = tt.url
			err := w.CheckURL(nil)
			if !tt.warn {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, webhook.ErrInvalidWebhook)
			assert.NotContains(t, err.Error(), "pass@")
		})
	}
	w := valid()
	w.URL = "http://127.0.0.1:8080/x"
	assert.NoError(t, w.CheckURL(netguard.New(netguard.AllowLoopback())))
}

// TestMisbehavingReceivers: each ends as a failed attempt within its
// timeout, with memory bounded.
func TestMisbehavingReceivers(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  webhook.Status
	}{
		{"sleeps forever", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, webhook.StatusFailed},
		{"streams 1 GiB", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			chunk := []byte(strings.Repeat("x", 64<<10))
			for i := 0; i < (1<<30)/len(chunk); i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, webhook.StatusDelivered},
		{"trickles its headers", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * timeout)
		}, webhook.StatusFailed},
		{"resets the connection", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close()
		}, webhook.StatusFailed},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
		}, webhook.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := webhook.NewMemoryStore()
			rc := newReceiver(t, tt.handler)
			record(t, store, rc.URL)
			d := webhook.NewDispatcher(store, registry(t), loopback,
				webhook.WithAttemptTimeout(timeout), webhook.WithBackOff(fastBackOff(2)))

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)

			require.NoError(t, err)
			require.Len(t, deliveries, 1)
			assert.Equal(t, tt.status, deliveries[0].Status, "%v", deliveries[0].Err)
			assert.Less(t, elapsed, 2*timeout+time.Second, "bounded by the attempt timeouts")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "memory bounded")
		})
	}
}
