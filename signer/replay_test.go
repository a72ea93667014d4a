package signer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manualClock is a clock that moves only when a test says so.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryReplayGuard(t *testing.T) {
	ctx := context.Background()
	type step struct {
		advance time.Duration
		forget  string
		id      string
		until   time.Duration // from the clock's start
		want    bool
		wantErr error
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"new, then seen", 10, []step{
			{id: "a", until: time.Minute, want: false},
			{id: "a", until: time.Minute, want: true},
			{id: "b", until: time.Minute, want: false},
		}},
		{"remembered up to until, included", 10, []step{
			{id: "a", until: time.Minute, want: false},
			{advance: time.Minute, id: "a", until: 2 * time.Minute, want: true},
			{advance: time.Second, id: "a", until: 2 * time.Minute, want: false},
			{id: "a", until: 2 * time.Minute, want: true},
		}},
		{"a second Seen does not extend the first until", 10, []step{
			{id: "a", until: time.Minute, want: false},
			{id: "a", until: time.Hour, want: true},
			{advance: 2 * time.Minute, id: "a", until: time.Hour, want: false},
		}},
		{"forget", 10, []step{
			{id: "a", until: time.Minute, want: false},
			{forget: "a", id: "a", until: time.Minute, want: false},
			{id: "a", until: time.Minute, want: true},
			{forget: "unknown", id: "a", until: time.Minute, want: true},
		}},
		{"an until already past is not remembered", 10, []step{
			{advance: time.Hour, id: "a", until: time.Minute, want: false},
			{id: "a", until: time.Minute, want: false},
		}},
		{"full", 2, []step{
			{id: "a", until: time.Minute, want: false},
			{id: "b", until: 2 * time.Minute, want: false},
			{id: "c", until: time.Minute, wantErr: ErrReplayGuardFull},
			{id: "a", until: time.Minute, want: true},
			{advance: time.Minute + time.Second, id: "c", until: 3 * time.Minute, want: false},
			{id: "d", until: 3 * time.Minute, wantErr: ErrReplayGuardFull},
			{forget: "b", id: "d", until: 3 * time.Minute, want: false},
		}},
	}
	start := time.Unix(1700000000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &manualClock{now: start}
			g, err := NewMemoryReplayGuard(tt.max, WithGuardClock(clock.Now))
			require.NoError(t, err)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				if s.forget != "" {
					require.NoError(t, g.Forget(ctx, s.forget))
				}
				seen, err := g.Seen(ctx, s.id, start.Add(s.until))
				if s.wantErr != nil {
					assert.ErrorIs(t, err, s.wantErr, "step %d", i)
					continue
				}
				require.NoError(t, err, "step %d", i)
				assert.Equal(t, s.want, seen, "step %d: Seen(%q)", i, s.id)
				assert.LessOrEqual(t, g.Len(), tt.max)
			}
		})
	}
}

func TestNewMemoryReplayGuardErrors(t *testing.T) {
	for name, build := range map[string]func() (*MemoryReplayGuard, error){
		"zero size":     func() (*MemoryReplayGuard, error) { return NewMemoryReplayGuard(0) },
		"negative size": func() (*MemoryReplayGuard, error) { return NewMemoryReplayGuard(-1) },
		"nil clock":     func() (*MemoryReplayGuard, error) { return NewMemoryReplayGuard(1, WithGuardClock(nil)) },
		"nil option":    func() (*MemoryReplayGuard, error) { return NewMemoryReplayGuard(1, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			g, err := build()
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, g)
		})
	}
	_, err := NewReceiver([]Handler{{Config: githubCfg, Secrets: []string{testSecret}}}, WithReplayGuard(nil))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// failingGuard is a ReplayGuard whose store is down.
type failingGuard struct{}

func (failingGuard) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}
func (failingGuard) Forget(context.Context, string) error { return errors.New("connection refused") }

func TestReceiverReplayGuard(t *testing.T) {
	swSecret := mustSecret(t, SchemeStandardWebhooks)
	sw := Config{Scheme: SchemeStandardWebhooks}
	handlers := []Handler{
		{Name: "typo3", Config: Config{}, Secrets: []string{testSecret}, WebhookID: testUUID},
		{Name: "sw", Config: sw, Secrets: []string{swSecret}},
		{Name: "github", Config: githubCfg, Secrets: []string{testSecret}},
	}
	const deliveryID = "0193a4f0-7b1c-7cc0-9d2e-4b0f5a6c7d8e"
	// sign returns a request signed at the clock's time, with the delivery ID.
	sign := func(clock *manualClock, cfg Config, secret, id string) func() *http.Request {
		return func() *http.Request {
			s, err := New(cfg)
			require.NoError(t, err)
			body := `{"a":1}`
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			if id != "" {
				req.Header.Set(HeaderDeliveryID, id)
			}
			require.NoError(t, s.Sign(req.Header, []string{secret}, Input{WebhookID: testUUID, MessageID: id, Timestamp: clock.Now(), Body: []byte(body)}))
			return req
		}
	}
	type attempt struct {
		advance    time.Duration
		req        func(*manualClock) func() *http.Request
		nextStatus int
		wantStatus int
		wantErr    error
	}
	typo3 := func(id string) func(*manualClock) func() *http.Request {
		return func(c *manualClock) func() *http.Request { return sign(c, Config{}, testSecret, id) }
	}
	standard := func(id string) func(*manualClock) func() *http.Request {
		return func(c *manualClock) func() *http.Request { return sign(c, sw, swSecret, id) }
	}
	github := func(id string) func(*manualClock) func() *http.Request {
		return func(c *manualClock) func() *http.Request { return sign(c, githubCfg, testSecret, id) }
	}
	tests := []struct {
		name     string
		guard    func(*manualClock) ReplayGuard
		attempts []attempt
	}{
		{"standard webhooks replayed", nil, []attempt{
			{req: standard(deliveryID), wantStatus: http.StatusOK},
			{req: standard(deliveryID), wantStatus: http.StatusConflict, wantErr: ErrReplayed},
		}},
		{"standard webhooks re-signed later with the same id", nil, []attempt{
			{req: standard(deliveryID), wantStatus: http.StatusOK},
			{advance: time.Minute, req: standard(deliveryID), wantStatus: http.StatusConflict, wantErr: ErrReplayed},
		}},
		{"standard webhooks, other ids", nil, []attempt{
			{req: standard(deliveryID), wantStatus: http.StatusOK},
			{req: standard("msg_2"), wantStatus: http.StatusOK},
		}},
		{"retry after next failed", nil, []attempt{
			{req: standard(deliveryID), nextStatus: http.StatusInternalServerError, wantStatus: http.StatusInternalServerError},
			{advance: 10 * time.Second, req: standard(deliveryID), wantStatus: http.StatusOK},
			{req: standard(deliveryID), wantStatus: http.StatusConflict, wantErr: ErrReplayed},
		}},
		{"typo3 with a delivery id replayed", nil, []attempt{
			{req: typo3(deliveryID), wantStatus: http.StatusOK},
			{req: typo3(deliveryID), wantStatus: http.StatusConflict, wantErr: ErrReplayed},
		}},
		{"typo3 delivery id remembered for the tolerance", nil, []attempt{
			{req: typo3(deliveryID), wantStatus: http.StatusOK},
			{advance: DefaultTolerance, req: typo3(deliveryID), wantStatus: http.StatusConflict, wantErr: ErrReplayed},
			{advance: time.Second, req: typo3(deliveryID), wantStatus: http.StatusOK},
		}},
		{"typo3 without a delivery id is let through", nil, []attempt{
			{req: typo3(""), wantStatus: http.StatusOK},
			{req: typo3(""), wantStatus: http.StatusOK},
		}},
		{"ids are per handler", nil, []attempt{
			{req: typo3(deliveryID), wantStatus: http.StatusOK},
			{req: github(deliveryID), wantStatus: http.StatusOK},
			{req: github(deliveryID), wantStatus: http.StatusConflict, wantErr: ErrReplayed},
		}},
		{"the guard fails", func(*manualClock) ReplayGuard { return failingGuard{} }, []attempt{
			{req: standard(deliveryID), wantStatus: http.StatusServiceUnavailable},
		}},
		{"the guard is full", func(c *manualClock) ReplayGuard {
			g, err := NewMemoryReplayGuard(1, WithGuardClock(c.Now))
			require.NoError(t, err)
			return g
		}, []attempt{
			{req: standard(deliveryID), wantStatus: http.StatusOK},
			{req: standard("msg_2"), wantStatus: http.StatusServiceUnavailable, wantErr: ErrReplayGuardFull},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &manualClock{now: testNow}
			var guard ReplayGuard
			if tt.guard != nil {
				guard = tt.guard(clock)
			} else {
				g, err := NewMemoryReplayGuard(100, WithGuardClock(clock.Now))
				require.NoError(t, err)
				guard = g
			}
			var rejected error
			rc, err := NewReceiver(handlers, WithReplayGuard(guard), WithClock(clock.Now),
				WithOnReject(func(_ *http.Request, err error) { rejected = err }))
			require.NoError(t, err)
			for i, a := range tt.attempts {
				clock.Advance(a.advance)
				rejected = nil
				calls := 0
				mw := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls++
					if a.nextStatus != 0 {
						w.WriteHeader(a.nextStatus)
					}
				}))
				rec := httptest.NewRecorder()
				mw.ServeHTTP(rec, a.req(clock)())
				assert.Equal(t, a.wantStatus, rec.Code, "attempt %d: %s", i, rec.Body)
				refused := a.wantStatus == http.StatusConflict || a.wantStatus == http.StatusServiceUnavailable
				assert.Equal(t, !refused, calls == 1, "attempt %d: next runs only for a request let through", i)
				if a.wantErr != nil {
					assert.ErrorIs(t, rejected, a.wantErr, "attempt %d", i)
				}
			}
		})
	}
}

// TestReceiverReplayGuardForgetsOnPanic checks that a request next did not
// finish, because it panicked, can be retried.
func TestReceiverReplayGuardForgetsOnPanic(t *testing.T) {
	g, err := NewMemoryReplayGuard(10)
	require.NoError(t, err)
	rc, err := NewReceiver([]Handler{{Name: "github", Config: githubCfg, Secrets: []string{testSecret}}}, WithReplayGuard(g))
	require.NoError(t, err)
	request := func() *http.Request {
		r := signedRequest(t, "http://127.0.0.1/", githubCfg, []string{testSecret}, `{}`)
		r.Header.Set(HeaderDeliveryID, "d-1")
		return r
	}
	panicking := rc.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	assert.PanicsWithValue(t, "boom", func() { panicking.ServeHTTP(httptest.NewRecorder(), request()) })
	assert.Zero(t, g.Len(), "forgotten")

	rec := httptest.NewRecorder()
	rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.WriteString(w, "ok")
		assert.NoError(t, err)
		w.(http.Flusher).Flush()
	})).ServeHTTP(rec, request())
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, rec.Flushed, "Flush reaches the server's writer")
	assert.Equal(t, 1, g.Len())
}

// TestReplayKey checks that the handler's name and the ID cannot be shifted
// into each other.
func TestReplayKey(t *testing.T) {
	keys := map[string]bool{}
	for _, p := range [][2]string{{"a", "b:c"}, {"a:b", "c"}, {"a", "bc"}, {"ab", "c"}, {"", "1:a:bc"}, {"1:a", "bc"}} {
		k := replayKey(p[0], p[1])
		assert.Len(t, k, 64)
		assert.False(t, keys[k], "key of %q", p)
		keys[k] = true
	}
	assert.Equal(t, replayKey("a", "b"), replayKey("a", "b"))
	long := replayKey("a", strings.Repeat("x", 1<<16))
	assert.Len(t, long, 64, "a huge id makes a key of the same size")
}
