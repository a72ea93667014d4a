// Package outboxtest holds test helpers for the outbox: a receiver that
// records deliveries by delivery ID. PostgreSQL helpers are in
// internal/pgtest.
package outboxtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Delivery is what the receiver saw of one delivery ID.
type Delivery struct {
	Count int
	Body  string
	// Agents are the User-Agent headers of the attempts.
	Agents []string
}

// Receiver is an httptest server that records deliveries by their delivery
// ID header and notices two attempts of one delivery in flight at once.
type Receiver struct {
	*httptest.Server
	// Handle, if set, answers an attempt (n counts attempts of the ID from 1);
	// it returns false to skip the default 204.
	Handle func(w http.ResponseWriter, r *http.Request, id string, n int) bool

	mu         sync.Mutex
	seen       map[string]*Delivery
	inflight   map[string]int
	overlaps   int
	mismatches int
	changed    chan struct{}
}

// NewReceiver starts a Receiver on 127.0.0.1, closed when t ends.
func NewReceiver(t testing.TB, header string) *Receiver {
	rc := &Receiver{seen: map[string]*Delivery{}, inflight: map[string]int{}, changed: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(header)
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.inflight[id]++
		if rc.inflight[id] > 1 {
			rc.overlaps++
		}
		d := rc.seen[id]
		if d == nil {
			d = &Delivery{Body: string(body)}
			rc.seen[id] = d
		} else if d.Body != string(body) {
			rc.mismatches++
		}
		d.Count++
		d.Agents = append(d.Agents, r.UserAgent())
		n := d.Count
		rc.mu.Unlock()
		defer func() {
			rc.mu.Lock()
			rc.inflight[id]--
			rc.mu.Unlock()
			select {
			case rc.changed <- struct{}{}:
			default:
			}
		}()
		if rc.Handle != nil && !rc.Handle(w, r, id, n) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// Seen returns a copy of the deliveries seen so far.
func (rc *Receiver) Seen() map[string]Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]Delivery, len(rc.seen))
	for k, v := range rc.seen {
		out[k] = Delivery{Count: v.Count, Body: v.Body, Agents: append([]string(nil), v.Agents...)}
	}
	return out
}

// Distinct returns how many delivery IDs arrived.
func (rc *Receiver) Distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen)
}

// Overlaps counts attempts that arrived while another attempt of the same
// delivery ID was still being answered.
func (rc *Receiver) Overlaps() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.overlaps
}

// Mismatches counts attempts whose body differed from the first one of the
// same delivery ID.
func (rc *Receiver) Mismatches() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.mismatches
}
