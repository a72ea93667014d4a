package webhook

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
)

// Memory stays bounded: however many deliveries come and go, the log holds
// at most what it keeps, and its ID index at most about twice that.
func TestMemoryLogMemoryIsBounded(t *testing.T) {
	const perRecord, total = 10, 200
	l := NewMemoryLog(WithDeliveriesPerRecord(perRecord), WithMaxDeliveries(total))
	hooks := make([]uuid.UUID, 50)
	for i := range hooks {
		hooks[i] = uuid.New()
	}
	ctx := context.Background()
	for i := 0; i < 20_000; i++ {
		hook := hooks[i%len(hooks)]
		if i%7 == 0 {
			hook = uuid.New() // records come and go
		}
		env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: hook, Trigger: "t/x"}
		for n := 1; n <= 1+i%3; n++ {
			if err := l.RecordAttempt(ctx, env, transport.Attempt{Number: n}); err != nil {
				t.Fatal(err)
			}
		}
		l.mu.Lock()
		kept := 0
		for _, d := range l.deliveries {
			kept += len(d.attempts)
		}
		switch {
		case len(l.deliveries) > total || l.recent.Len() != len(l.deliveries):
			t.Fatalf("after %d deliveries: %d kept, %d in order, the bound is %d", i+1, len(l.deliveries), l.recent.Len(), total)
		case len(l.byRecord) > total:
			t.Fatalf("after %d deliveries: %d records indexed", i+1, len(l.byRecord))
		case len(l.attempts)-l.dropped != kept || len(l.attempts) > 2*kept+64:
			t.Fatalf("after %d deliveries: %d attempts indexed (%d dropped), %d kept", i+1, len(l.attempts), l.dropped, kept)
		}
		for id, rl := range l.byRecord {
			if rl.Len() > perRecord {
				t.Fatalf("record %s keeps %d deliveries", id, rl.Len())
			}
		}
		l.mu.Unlock()
	}
}
