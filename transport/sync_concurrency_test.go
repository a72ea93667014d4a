package transport_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outhook/outhook/transport"
)

func TestConcurrency(t *testing.T) {
	assert.Equal(t, transport.DefaultMaxConcurrency, transport.Sync{}.Concurrency())
	assert.Equal(t, 7, transport.NewSync(transport.WithMaxConcurrency(7)).Concurrency())
	m := transport.NewMemory(transport.WithWorkers(3))
	t.Cleanup(func() { _, _ = m.Close(context.Background()) })
	assert.Equal(t, 3, m.Concurrency())
	var zero transport.Memory
	t.Cleanup(func() { _, _ = zero.Close(context.Background()) })
	assert.Equal(t, transport.DefaultWorkers, zero.Concurrency())
}
