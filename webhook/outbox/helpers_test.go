package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// sqlstoreAttempt is the part of a log row the tests compare.
type sqlstoreAttempt struct {
	Attempt    int
	StatusCode int
	Outcome    string
	Error      string
}

func attempts(t testing.TB, be *backend, id uuid.UUID) []sqlstoreAttempt {
	rows, err := be.log.ByDelivery(context.Background(), id)
	require.NoError(t, err)
	out := make([]sqlstoreAttempt, len(rows))
	for i, r := range rows {
		require.Equal(t, id, r.DeliveryID)
		out[i] = sqlstoreAttempt{r.Attempt, r.StatusCode, r.Outcome, r.Error}
	}
	return out
}

func recordAt(t testing.TB, be *backend, id uuid.UUID, start time.Time) {
	env := transport.Envelope{DeliveryID: id, WebhookID: uuid.New(), Trigger: pageTrigger}
	at := transport.Attempt{Number: 1, Start: start, StatusCode: 500, Outcome: transport.Retry, Err: errors.New("boom")}
	require.NoError(t, be.log.RecordAttempt(context.Background(), env, at))
}

func registryWithRaw(t testing.TB) *trigger.Registry {
	reg := registry(t)
	require.NoError(t, trigger.Register[RawPage](reg, "test/raw", "raw JSON"))
	return reg
}

// transportOf returns the backend's durable Transport as a transport.Transport.
func transportOf(be *backend) transport.Transport {
	switch ob := be.ob.(type) {
	case *outboxsqlite.Outbox:
		return ob.Transport()
	case *outboxpg.Outbox:
		return ob.Transport()
	}
	panic("unknown backend")
}
