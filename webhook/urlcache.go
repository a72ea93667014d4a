package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// maxCachedURLs bounds a urlCache; when it is full it starts again empty.
const maxCachedURLs = 4096

// urlCache keeps the parsed form of the record URLs a Sender sent to, by
// their text, so that an attempt copies its request's URL instead of
// parsing the record's again. The zero value is ready to use.
type urlCache struct {
	m atomic.Pointer[sync.Map] // string -> *url.URL, as http.NewRequest left it
	n atomic.Int32             // entries in m, about
}

// newRequest returns http.NewRequestWithContext(ctx, method, rawURL,
// bytes.NewReader(body)): the same request, with a copy of rawURL's parsed
// URL when c holds one. A URL that does not parse is not kept, and gives
// NewRequestWithContext's error each time.
func (c *urlCache) newRequest(ctx context.Context, method, rawURL string, body []byte) (*http.Request, error) {
	m := c.m.Load()
	if m != nil {
		if u, ok := m.Load(rawURL); ok {
			// An empty URL parses into an empty one without error; the
			// copy fills it.
			req, err := http.NewRequestWithContext(ctx, method, "", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			*req.URL = *u.(*url.URL)
			req.Host = req.URL.Host
			return req, nil
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if m == nil || c.n.Load() >= maxCachedURLs {
		m = new(sync.Map)
		c.m.Store(m)
		c.n.Store(0)
	}
	u := *req.URL
	if _, loaded := m.LoadOrStore(rawURL, &u); !loaded {
		c.n.Add(1)
	}
	return req, nil
}
