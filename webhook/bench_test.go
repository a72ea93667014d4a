package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// benchBody is a 1 KiB JSON message.
var benchBody = json.RawMessage(`{"data":"` + strings.Repeat("x", 1024-11) + `"}`)

func benchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// BenchmarkDispatch measures Dispatch end to end: lookup, encoding, record
// selection, signing and the POSTs to a loopback receiver. Compare it with
// BenchmarkBaselinePOST, which does the same requests by hand.
func BenchmarkDispatch(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			ctx := context.Background()
			srv := benchReceiver(b)
			store := webhook.NewMemoryStore()
			for i := 0; i < n; i++ {
				if err := store.Create(ctx, &webhook.Webhook{Name: "b", Triggers: []string{"myapp/raw"}, URL: srv.URL}); err != nil {
					b.Fatal(err)
				}
			}
			d := webhook.NewDispatcher(store, registry(&testing.T{}), loopback,
				webhook.WithHTTPClient(benchClient()),
				webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			msg := rawMessage(benchBody)
			b.SetBytes(int64(len(benchBody) * n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				deliveries, err := d.Dispatch(ctx, msg)
				if err != nil || len(deliveries) != n || deliveries[0].Status != webhook.StatusDelivered {
					b.Fatalf("dispatch: %v %+v", err, deliveries)
				}
			}
		})
	}
	// The same 1 KiB body from a struct, as most applications' messages are:
	// encoded by encoding/json rather than checked as a json.RawMessage.
	b.Run("records=1/struct", func(b *testing.B) {
		ctx := context.Background()
		srv := benchReceiver(b)
		store := webhook.NewMemoryStore()
		if err := store.Create(ctx, &webhook.Webhook{Name: "b", Triggers: []string{pageTrigger}, URL: srv.URL}); err != nil {
			b.Fatal(err)
		}
		d := webhook.NewDispatcher(store, registry(&testing.T{}), loopback,
			webhook.WithHTTPClient(benchClient()),
			webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		msg := pageUpdated{ID: 42, Title: strings.Repeat("x", 1024-22)}
		b.SetBytes(1024)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			deliveries, err := d.Dispatch(ctx, msg)
			if err != nil || len(deliveries) != 1 || deliveries[0].Status != webhook.StatusDelivered {
				b.Fatalf("dispatch: %v %+v", err, deliveries)
			}
		}
	})
}

// BenchmarkDispatchFanOut dispatches one message to 100, 1,000 and 10,000
// records on Sync, whose WithMaxConcurrency bound (DefaultMaxConcurrency)
// keeps the goroutines and connections of one Dispatch bounded. The
// ns/record and B/record columns stay flat when the cost grows linearly.
func BenchmarkDispatchFanOut(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			ctx := context.Background()
			srv := benchReceiver(b)
			store := webhook.NewMemoryStore()
			for i := 0; i < n; i++ {
				if err := store.Create(ctx, &webhook.Webhook{Name: "b", Triggers: []string{"myapp/raw"}, URL: srv.URL}); err != nil {
					b.Fatal(err)
				}
			}
			client := benchClient()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = transport.DefaultMaxConcurrency
			d := webhook.NewDispatcher(store, registry(&testing.T{}), loopback,
				webhook.WithHTTPClient(client),
				webhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			msg := rawMessage(benchBody)
			var before, after runtime.MemStats
			b.ReportAllocs()
			b.ResetTimer()
			runtime.ReadMemStats(&before)
			for i := 0; i < b.N; i++ {
				deliveries, err := d.Dispatch(ctx, msg)
				if err != nil || len(deliveries) != n || deliveries[n-1].Status != webhook.StatusDelivered {
					b.Fatalf("dispatch: %v", err)
				}
			}
			runtime.ReadMemStats(&after)
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N*n), "B/record")
		})
	}
}

// BenchmarkBaselinePOST is the floor for BenchmarkDispatch: the same signed
// POSTs, made with a bare net/http client and crypto/hmac, concurrently per
// record, with nothing else around them.
func BenchmarkBaselinePOST(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			srv := benchReceiver(b)
			client := benchClient()
			ids := make([]string, n)
			for i := range ids {
				ids[i] = uuid.NewString()
			}
			post := func(id string) {
				m := hmac.New(sha256.New, []byte("secret"))
				m.Write([]byte(id))
				m.Write([]byte{':'})
				m.Write(benchBody)
				req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(benchBody))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Webhook-Signature-Algo", "sha256")
				req.Header.Set("Webhook-Signature", hex.EncodeToString(m.Sum(nil)))
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.SetBytes(int64(len(benchBody) * n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if n == 1 {
					post(ids[0])
					continue
				}
				var wg sync.WaitGroup
				wg.Add(n)
				for _, id := range ids {
					go func(id string) { defer wg.Done(); post(id) }(id)
				}
				wg.Wait()
			}
		})
	}
}
