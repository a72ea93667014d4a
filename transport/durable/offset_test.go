package durable_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/transport/durable"
)

// An envelope's AttemptOffset travels in the job, so a resend through the
// River transport continues the count as Sync and Memory do.
func TestEnvelopeAttemptOffset(t *testing.T) {
	env := envelopes(uuid.New(), 1)[0]
	env.AttemptOffset = 2
	a := durable.NewArgs(env)
	assert.Equal(t, 2, a.AttemptOffset)
	assert.Equal(t, 2, a.Envelope().AttemptOffset)

	rec := newRecorder()
	w := durable.NewWorker(newScripted(transport.Success, 1), durable.WithAttemptLog(rec))
	require.NoError(t, w.Work(context.Background(), job(env)))
	rows := rec.of(env.DeliveryID)
	require.Len(t, rows, 1)
	assert.Equal(t, 3, rows[0].Number)
}
