package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/clocktest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

func typo3Signature(secret, id string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%s:%s", id, body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestDispatchFanOut(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	const n = 5
	var rcs []*receiver
	var recs []*webhook.Webhook
	for i := 0; i < n; i++ {
		rc := newReceiver(t)
		rcs = append(rcs, rc)
		recs = append(recs, record(t, store, rc.URL, func(w *webhook.Webhook) {
			w.Headers = map[string]string{"X-Tenant": fmt.Sprint(i)}
		}))
	}
	d := webhook.NewDispatcher(store, registry(t), loopback)

	deliveries, err := d.Dispatch(ctx, pageUpdated{ID: 42, Title: "<Home> & more"})
	require.NoError(t, err)
	require.Len(t, deliveries, n)

	wantBody := `{"id":42,"title":"<Home> & more"}`
	for i, rc := range rcs {
		reqs := rc.requests()
		require.Len(t, reqs, 1, "receiver %d", i)
		r := reqs[0]
		assert.Equal(t, http.MethodPost, r.Method)
		assert.JSONEq(t, wantBody, string(r.Body))
		assert.Equal(t, wantBody, string(r.Body), "body is encoded without HTML escaping")
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "sha256", r.Header.Get("Webhook-Signature-Algo"))
		assert.Equal(t, typo3Signature(recs[i].Secret.Reveal(), recs[i].ID.String(), r.Body), r.Header.Get("Webhook-Signature"))
		assert.Equal(t, fmt.Sprint(i), r.Header.Get("X-Tenant"))
		assert.Equal(t, pageTrigger, r.Header.Get(webhook.HeaderTrigger))

		del := deliveries[i]
		assert.Equal(t, recs[i].ID, del.WebhookID)
		assert.Equal(t, del.ID.String(), r.Header.Get(webhook.HeaderDeliveryID))
		assert.Equal(t, webhook.StatusDelivered, del.Status)
		assert.Equal(t, 1, del.Attempts)
		assert.Equal(t, http.StatusNoContent, del.StatusCode)
		assert.NoError(t, del.Err)
		assert.Equal(t, pageTrigger, del.Trigger)
	}
}

func TestDispatchSelectsRecords(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	active := newReceiver(t)
	disabled := newReceiver(t)
	other := newReceiver(t)
	want := record(t, store, active.URL)
	record(t, store, disabled.URL, func(w *webhook.Webhook) { w.Disabled = true })
	record(t, store, other.URL, func(w *webhook.Webhook) { w.Triggers = []string{"myapp/raw"} })
	d := webhook.NewDispatcher(store, registry(t), loopback)

	deliveries, err := d.Dispatch(ctx, pageUpdated{ID: 1})
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	assert.Equal(t, want.ID, deliveries[0].WebhookID)
	assert.Len(t, active.requests(), 1)
	assert.Empty(t, disabled.requests())
	assert.Empty(t, other.requests())

	t.Run("no matching record", func(t *testing.T) {
		empty := webhook.NewDispatcher(webhook.NewMemoryStore(), registry(t), loopback)
		deliveries, err := empty.Dispatch(ctx, pageUpdated{ID: 1})
		require.NoError(t, err)
		assert.NotNil(t, deliveries)
		assert.Empty(t, deliveries)
	})
	t.Run("unknown trigger sends nothing", func(t *testing.T) {
		deliveries, err := d.Dispatch(ctx, unregistered{})
		assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
		assert.Empty(t, deliveries)
		assert.Len(t, active.requests(), 1)
	})
}

func TestDispatchRawJSONAndLimits(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	record(t, store, rc.URL, func(w *webhook.Webhook) { w.Triggers = []string{"myapp/raw"} })
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithMaxBodySize(64))

	_, err := d.Dispatch(ctx, rawMessage(`{"kept" : [1, 2]}`))
	require.NoError(t, err)
	require.Len(t, rc.requests(), 1)
	assert.Equal(t, `{"kept" : [1, 2]}`, string(rc.requests()[0].Body), "a json.RawMessage is sent as it is")

	_, err = d.Dispatch(ctx, rawMessage(`{"broken"`))
	assert.ErrorIs(t, err, webhook.ErrEncode)

	_, err = d.Dispatch(ctx, rawMessage(`"`+strings.Repeat("x", 100)+`"`))
	assert.ErrorIs(t, err, webhook.ErrBodyTooLarge)
	assert.Len(t, rc.requests(), 1, "nothing is sent for refused messages")
}

func TestDispatchGET(t *testing.T) {
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	rec := record(t, store, rc.URL, func(w *webhook.Webhook) { w.Method = http.MethodGet })
	d := webhook.NewDispatcher(store, registry(t), loopback)
	_, err := d.Dispatch(context.Background(), pageUpdated{ID: 3})
	require.NoError(t, err)
	reqs := rc.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodGet, reqs[0].Method)
	assert.Equal(t, `{"id":3,"title":""}`, string(reqs[0].Body), "GET carries the body, as TYPO3 sends it")
	assert.Equal(t, typo3Signature(rec.Secret.Reveal(), rec.ID.String(), reqs[0].Body), reqs[0].Header.Get("Webhook-Signature"))
}

func TestDispatchRetries(t *testing.T) {
	retryAfterDate := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	tests := []struct {
		name         string
		answers      []http.HandlerFunc
		maxAttempts  int
		wantStatus   webhook.Status
		wantAttempts int
		wantCode     int
		retryable    bool
		checkWaits   func(t *testing.T, waits []time.Duration)
	}{
		{
			name:        "5xx then success",
			answers:     []http.HandlerFunc{status(500), status(502), status(200)},
			maxAttempts: 5, wantStatus: webhook.StatusDelivered, wantAttempts: 3, wantCode: 200,
		},
		{
			name:        "408 425 429 are retried",
			answers:     []http.HandlerFunc{status(408), status(425), status(429), status(201)},
			maxAttempts: 5, wantStatus: webhook.StatusDelivered, wantAttempts: 4, wantCode: 201,
		},
		{
			name:        "permanent 4xx is not retried",
			answers:     []http.HandlerFunc{status(404), status(200)},
			maxAttempts: 5, wantStatus: webhook.StatusFailed, wantAttempts: 1, wantCode: 404,
		},
		{
			name:        "3xx is a failed attempt, not followed",
			answers:     []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }},
			maxAttempts: 5, wantStatus: webhook.StatusFailed, wantAttempts: 1, wantCode: 302,
		},
		{
			name:        "retries exhausted",
			answers:     []http.HandlerFunc{status(500)},
			maxAttempts: 3, wantStatus: webhook.StatusFailed, wantAttempts: 3, wantCode: 500, retryable: true,
		},
		{
			name: "Retry-After seconds",
			answers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
			}, status(200)},
			maxAttempts: 5, wantStatus: webhook.StatusDelivered, wantAttempts: 2, wantCode: 200,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				assert.Equal(t, []time.Duration{7 * time.Second}, waits)
			},
		},
		{
			name:        "Retry-After HTTP date",
			answers:     []http.HandlerFunc{retryAfterDate, status(200)},
			maxAttempts: 5, wantStatus: webhook.StatusDelivered, wantAttempts: 2, wantCode: 200,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				assert.InDelta(t, 90, waits[0].Seconds(), 2)
			},
		},
		{
			name: "Retry-After is capped",
			answers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "86400")
				w.WriteHeader(http.StatusServiceUnavailable)
			}, status(200)},
			maxAttempts: 5, wantStatus: webhook.StatusDelivered, wantAttempts: 2, wantCode: 200,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				assert.Equal(t, []time.Duration{webhook.DefaultMaxRetryAfter}, waits)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := webhook.NewMemoryStore()
			rc := newReceiver(t, tt.answers...)
			record(t, store, rc.URL)
			clock := clocktest.NewJumping(time.Now())
			d := webhook.NewDispatcher(store, registry(t), loopback,
				webhook.WithBackOff(fastBackOff(tt.maxAttempts)),
				webhook.WithTransport(transport.NewSync(transport.WithClock(clock))))

			deliveries, err := d.Dispatch(context.Background(), pageUpdated{ID: 1})
			require.NoError(t, err)
			require.Len(t, deliveries, 1)
			del := deliveries[0]
			assert.Equal(t, tt.wantStatus, del.Status)
			assert.Equal(t, tt.wantAttempts, del.Attempts)
			assert.Equal(t, tt.wantCode, del.StatusCode)

			reqs := rc.requests()
			require.Len(t, reqs, tt.wantAttempts)
			for _, r := range reqs {
				assert.Equal(t, del.ID.String(), r.Header.Get(webhook.HeaderDeliveryID), "the delivery ID is stable across retries")
			}
			if tt.wantStatus == webhook.StatusFailed {
				var de *webhook.DeliveryError
				require.ErrorAs(t, del.Err, &de)
				assert.Equal(t, tt.wantCode, de.StatusCode)
				assert.Equal(t, tt.wantAttempts, de.Attempts)
				assert.Equal(t, tt.retryable, de.Retryable)
				if tt.wantCode/100 == 3 {
					assert.ErrorIs(t, del.Err, netguard.ErrRedirect)
				} else {
					var se *transport.StatusError
					assert.ErrorAs(t, del.Err, &se)
				}
			} else {
				assert.NoError(t, del.Err)
			}
			if tt.checkWaits != nil {
				tt.checkWaits(t, clock.Waits())
			}
		})
	}
}

// blocking answers only when the request's context ends or release is closed.
func blocking(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

func TestDispatchTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)

	t.Run("each attempt has its own timeout", func(t *testing.T) {
		store := webhook.NewMemoryStore()
		rc := newReceiver(t, blocking(release))
		record(t, store, rc.URL)
		d := webhook.NewDispatcher(store, registry(t), loopback,
			webhook.WithAttemptTimeout(50*time.Millisecond), webhook.WithBackOff(fastBackOff(2)))
		deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
		require.NoError(t, err)
		require.Len(t, deliveries, 1)
		assert.Equal(t, webhook.StatusFailed, deliveries[0].Status)
		assert.Equal(t, 2, deliveries[0].Attempts)
		assert.ErrorIs(t, deliveries[0].Err, context.DeadlineExceeded)
	})

	t.Run("caller's context cancels everything", func(t *testing.T) {
		store := webhook.NewMemoryStore()
		rc := newReceiver(t, blocking(release))
		record(t, store, rc.URL)
		record(t, store, rc.URL)
		d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithAttemptTimeout(time.Minute))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			require.Eventually(t, func() bool { return len(rc.requests()) == 2 }, 5*time.Second, time.Millisecond)
			cancel()
		}()
		deliveries, err := d.Dispatch(ctx, pageUpdated{})
		require.NoError(t, err)
		require.Len(t, deliveries, 2)
		for _, del := range deliveries {
			assert.Equal(t, webhook.StatusFailed, del.Status)
			assert.ErrorIs(t, del.Err, context.Canceled)
		}
		assert.Len(t, rc.requests(), 2, "no retry after cancellation")
	})
}

func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	store := webhook.NewMemoryStore()
	release := make(chan struct{})
	fastSeen := make(chan struct{})
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	})
	fast := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { close(fastSeen) })
	record(t, store, slow.URL) // created first, so listed first
	record(t, store, fast.URL)
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithBackOff(fastBackOff(1)))

	go func() {
		// The slow receiver answers only once the fast one has its delivery.
		<-fastSeen
		close(release)
	}()
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	for _, del := range deliveries {
		assert.Equal(t, webhook.StatusDelivered, del.Status)
	}
}

func TestDispatchRecordChangedBeforeAttempt(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	gone := record(t, store, rc.URL)
	off := record(t, store, rc.URL)
	d := webhook.NewDispatcher(store, registry(t), loopback)
	var held holdTransport
	ds, err := d.DispatchVia(ctx, &held, pageUpdated{})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	envs := held.envs
	require.Len(t, envs, 2)
	assert.Equal(t, webhook.StatusQueued, ds[0].Status)
	assert.Equal(t, envs[0].DeliveryID, ds[0].ID)

	require.NoError(t, store.Delete(ctx, gone.ID))
	off.Disabled = true
	require.NoError(t, store.Update(ctx, off))

	at := d.Sender().Attempt(ctx, envs[0], 1)
	assert.Equal(t, transport.Permanent, at.Outcome)
	assert.ErrorIs(t, at.Err, webhook.ErrWebhookGone)
	at = d.Sender().Attempt(ctx, envs[1], 1)
	assert.Equal(t, transport.Permanent, at.Outcome)
	assert.ErrorIs(t, at.Err, webhook.ErrWebhookDisabled)
	assert.Empty(t, rc.requests())
}

func TestResponseExcerptIsBounded(t *testing.T) {
	store := webhook.NewMemoryStore()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		for i := 0; i < 1024; i++ { // 1 MiB, more than is ever read
			if _, err := w.Write([]byte(strings.Repeat("e", 1024))); err != nil {
				return
			}
		}
	})
	record(t, store, rc.URL)
	d := webhook.NewDispatcher(store, registry(t), loopback)
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	assert.Len(t, deliveries[0].Excerpt, webhook.DefaultExcerptSize)
	assert.Equal(t, http.StatusBadRequest, deliveries[0].StatusCode)
}

func TestConcurrentDispatch(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	for i := 0; i < 3; i++ {
		record(t, store, rc.URL)
	}
	d := webhook.NewDispatcher(store, registry(t), loopback)
	var wg sync.WaitGroup
	seen := sync.Map{}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				deliveries, err := d.Dispatch(ctx, pageUpdated{ID: g*100 + i})
				if !assert.NoError(t, err) {
					return
				}
				for _, del := range deliveries {
					assert.Equal(t, webhook.StatusDelivered, del.Status)
					_, dup := seen.LoadOrStore(del.ID, true)
					assert.False(t, dup, "delivery IDs are unique")
				}
			}
		}(g)
		// Meanwhile, an administrator edits records.
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := store.List(ctx, webhook.ListQuery{})
			if assert.NoError(t, err) {
				_, err := webhook.Modify(ctx, store, recs.Records[0].ID, func(w *webhook.Webhook) error {
					w.Description += " edited"
					return nil
				})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Len(t, rc.requests(), 8*10*3)
}

func TestTYPO3Vectors(t *testing.T) {
	data, err := os.ReadFile("../signer/testdata/signatures.json")
	require.NoError(t, err)
	var file struct {
		Vectors []struct {
			Scheme  string            `json:"scheme"`
			ID      string            `json:"id"`
			Secret  string            `json:"secret"`
			Body    string            `json:"body"`
			Headers map[string]string `json:"headers"`
		} `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(data, &file))
	n := 0
	for _, v := range file.Vectors {
		if v.Scheme != "typo3" {
			continue
		}
		n++
		t.Run(v.ID, func(t *testing.T) {
			rc := newReceiver(t)
			// The vectors' secrets are shorter than Validate accepts of a
			// new record, so the record is served as it is, not created.
			rec := &webhook.Webhook{ID: uuid.MustParse(v.ID), Name: "vector", URL: rc.URL,
				Secret: webhook.Secret(v.Secret), Triggers: []string{"myapp/raw"}}
			d := webhook.NewDispatcher(fixedLookup{rec}, registry(t), loopback)
			deliveries, err := d.Dispatch(context.Background(), rawMessage(v.Body))
			require.NoError(t, err)
			require.Len(t, deliveries, 1)
			reqs := rc.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, v.Body, string(reqs[0].Body))
			for k, want := range v.Headers {
				assert.Equal(t, want, reqs[0].Header.Get(k), k)
			}
		})
	}
	assert.Positive(t, n, "the vector file has typo3 vectors")
}

func TestDispatchThroughMemoryTransport(t *testing.T) {
	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rc := newReceiver(t, status(503), status(200))
	record(t, store, rc.URL)
	record(t, store, rc.URL)
	done := make(chan transport.Result, 2)
	mem := transport.NewMemory(transport.WithWorkers(2), transport.WithOnDone(func(_ transport.Envelope, r transport.Result) { done <- r }))
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithTransport(mem), webhook.WithBackOff(fastBackOff(3)))

	deliveries, err := d.Dispatch(ctx, pageUpdated{ID: 9})
	require.NoError(t, err)
	require.Len(t, deliveries, 2)
	ids := map[uuid.UUID]bool{}
	for _, del := range deliveries {
		assert.Equal(t, webhook.StatusQueued, del.Status)
		ids[del.ID] = true
	}
	for i := 0; i < 2; i++ {
		select {
		case r := <-done:
			assert.Equal(t, transport.StatusDelivered, r.Status)
			assert.True(t, ids[r.DeliveryID])
		case <-time.After(5 * time.Second):
			t.Fatal("deliveries did not finish")
		}
	}
	left, err := mem.Close(ctx)
	require.NoError(t, err)
	assert.Empty(t, left)
	assert.Len(t, rc.requests(), 3, "one 503, then both delivered")
}

// failingStore is a Store whose Get fails.
type failingStore struct{ webhook.Store }

func (failingStore) Get(context.Context, uuid.UUID) (*webhook.Webhook, error) {
	return nil, errors.New("connection refused")
}

func TestStoreUnavailableIsRetried(t *testing.T) {
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	record(t, store, rc.URL)
	d := webhook.NewDispatcher(failingStore{store}, registry(t), loopback, webhook.WithBackOff(fastBackOff(2)))
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	assert.Equal(t, 2, deliveries[0].Attempts)
	assert.ErrorIs(t, deliveries[0].Err, webhook.ErrStoreUnavailable)
	var de *webhook.DeliveryError
	require.ErrorAs(t, deliveries[0].Err, &de)
	assert.True(t, de.Retryable)
	assert.Empty(t, rc.requests())
}

// holdTransport keeps the envelopes it is given instead of sending them.
type holdTransport struct{ envs []transport.Envelope }

func (h *holdTransport) Send(_ context.Context, _ transport.Attempter, envs []transport.Envelope) ([]transport.Result, error) {
	h.envs = append(h.envs, envs...)
	rs := make([]transport.Result, len(envs))
	for i, env := range envs {
		rs[i] = transport.Result{DeliveryID: env.DeliveryID, Status: transport.StatusQueued}
	}
	return rs, nil
}

// A transport that answers with the wrong number of results is an error, not
// a panic or a silent loss.
func TestDispatchViaShortResults(t *testing.T) {
	store := webhook.NewMemoryStore()
	record(t, store, "https://example.com/hook")
	d := webhook.NewDispatcher(store, registry(t))
	_, err := d.DispatchVia(context.Background(), shortTransport{}, pageUpdated{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0 results for 1 deliveries")
}

type shortTransport struct{}

func (shortTransport) Send(context.Context, transport.Attempter, []transport.Envelope) ([]transport.Result, error) {
	return nil, nil
}
