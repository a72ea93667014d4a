package health_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/health"
)

// OpenBreakers counts the endpoints whose breaker is open or half-open: per
// record, or per host with WithPerHostLimits.
func TestOpenBreakers(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []health.Option
		want int // open breakers once a and b failed
	}{
		{"per record", nil, 2},
		{"per host", []health.Option{health.WithPerHostLimits()}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			store := webhook.NewMemoryStore()
			a := newRecord(t, store, "https://example.com/a")
			b := newRecord(t, store, "https://example.com/b")
			c := newRecord(t, store, "https://example.org/c")
			m := health.New(store, append([]health.Option{health.WithClock(clk), health.WithLogger(quietLogger()),
				health.WithBreaker(health.Breaker{Failures: 1, OpenFor: time.Minute})}, tt.opts...)...)
			failing := m.Middleware()(newFakeSender(store, http.StatusServiceUnavailable).attempt)
			ok := m.Middleware()(newFakeSender(store, http.StatusOK).attempt)
			assert.Zero(t, m.OpenBreakers(), "no attempt yet")

			ok(ctx, envelope(c.ID), 1)
			failing(ctx, envelope(a.ID), 1)
			failing(ctx, envelope(b.ID), 1) // deferred per host: a's breaker is b's
			assert.Equal(t, tt.want, m.OpenBreakers())

			clk.Advance(time.Minute)
			assert.Equal(t, tt.want, m.OpenBreakers(), "half-open still counts")
			ok(ctx, envelope(a.ID), 2)
			ok(ctx, envelope(b.ID), 2)
			assert.Zero(t, m.OpenBreakers(), "the probes closed them")
		})
	}
}
