package webhook

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURLCacheRequestsAsNetHTTP(t *testing.T) {
	ctx := context.Background()
	body := []byte(`{"a":1}`)
	urls := []string{
		"https://hooks.example.com/a/b?x=1&y=%20#frag",
		"http://user:pass@127.0.0.1:8080/p%2Fq",
		"http://[::1]:/empty-port",
		"https://example.com",
		"HTTP://Example.COM:443/Upper",
	}
	var c urlCache
	for _, raw := range urls {
		want, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, nil)
		require.NoError(t, err)
		for i := range 3 { // a miss, then hits
			got, err := c.newRequest(ctx, http.MethodPost, raw, body)
			require.NoError(t, err, "round %d", i)
			assert.Equal(t, *want.URL, *got.URL, "%s, round %d", raw, i)
			assert.Equal(t, want.Host, got.Host, "%s, round %d", raw, i)
			assert.Equal(t, int64(len(body)), got.ContentLength)
			require.NotNil(t, got.GetBody)
			assert.Equal(t, "HTTP/1.1", got.Proto)
			// The URL is the request's own: changing it leaves the cache alone.
			got.URL.Path = "/changed"
		}
	}
}

func TestURLCacheBadURL(t *testing.T) {
	var c urlCache
	for range 2 {
		_, err := c.newRequest(context.Background(), http.MethodPost, "http://bad host/", nil)
		require.Error(t, err)
	}
	assert.Zero(t, c.n.Load(), "a URL that does not parse is not kept")
	_, err := c.newRequest(context.Background(), "BAD METHOD", "http://127.0.0.1/", nil)
	require.Error(t, err, "the method is checked on a miss")
	_, err = c.newRequest(context.Background(), "BAD METHOD", "http://127.0.0.1/", nil)
	require.Error(t, err, "and on a hit")
}

func TestURLCacheBounded(t *testing.T) {
	var c urlCache
	for i := range maxCachedURLs + 10 {
		_, err := c.newRequest(context.Background(), http.MethodGet, fmt.Sprintf("http://127.0.0.1/%d", i), nil)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, int(c.n.Load()), maxCachedURLs)
	assert.Equal(t, int32(10), c.n.Load(), "full, it started again empty")
}
