package webhook

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook/netguard"
)

// The default client keeps an idle connection for every attempt the
// transport makes at once, so that none is closed and dialed again.
func TestDefaultClientPoolFollowsConcurrency(t *testing.T) {
	idle := func(c *http.Client) int { return c.Transport.(*http.Transport).MaxIdleConnsPerHost }
	mem := transport.NewMemory(transport.WithWorkers(128))
	t.Cleanup(func() { _, _ = mem.Close(context.Background()) })
	for name, tc := range map[string]struct {
		opts []DispatcherOption
		want int
	}{
		"Sync default":        {nil, transport.DefaultMaxConcurrency},
		"Sync bounded to 4":   {[]DispatcherOption{WithTransport(transport.NewSync(transport.WithMaxConcurrency(4)))}, netguard.DefaultMaxIdleConnsPerHost},
		"Sync bounded to 200": {[]DispatcherOption{WithTransport(transport.NewSync(transport.WithMaxConcurrency(200)))}, 200},
		"Memory 128":          {[]DispatcherOption{WithTransport(mem)}, 128},
		"WithConcurrency":     {[]DispatcherOption{WithTransport(mem), WithConcurrency(32)}, 32},
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDispatcher(NewMemoryStore(), nil, tc.opts...)
			assert.Equal(t, tc.want, idle(d.sender.cfg.client))
		})
	}
	assert.Equal(t, netguard.DefaultMaxIdleConnsPerHost, idle(NewSender(NewMemoryStore()).cfg.client))
	assert.Equal(t, 96, idle(NewSender(NewMemoryStore(), WithConcurrency(96)).cfg.client))

	own := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 3}}
	d := NewDispatcher(NewMemoryStore(), nil, WithHTTPClient(own), WithTransport(mem))
	assert.Equal(t, 3, idle(d.sender.cfg.client), "a client of the application's is used as it is")
}
