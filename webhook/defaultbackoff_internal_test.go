package webhook

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
)

// DefaultBackOff keeps the schedule of LimitAttempts around the documented
// exponential back-off: the same settings, the same ±50 % jitter around
// 500 ms doubling, MaxElapsedTime visible to Sync, and no more than
// DefaultMaxAttempts attempts, also after a Reset.
func TestDefaultBackOffSchedule(t *testing.T) {
	b := DefaultBackOff()
	d, ok := b.(*defaultBackOff)
	require.True(t, ok)
	want := backoff.NewExponentialBackOff()
	want.InitialInterval, want.Multiplier, want.RandomizationFactor = 500*time.Millisecond, 2, 0.5
	want.MaxInterval, want.MaxElapsedTime = 30*time.Second, time.Minute
	assert.Equal(t, want.InitialInterval, d.InitialInterval)
	assert.Equal(t, want.RandomizationFactor, d.RandomizationFactor)
	assert.Equal(t, want.Multiplier, d.Multiplier)
	assert.Equal(t, want.MaxInterval, d.MaxInterval)
	assert.Equal(t, want.Stop, d.Stop)
	assert.Equal(t, want.Clock, d.Clock)
	el, ok := b.(transport.ElapsedLimiter)
	require.True(t, ok)
	assert.Equal(t, time.Minute, el.MaxElapsedTime())

	for round := 0; round < 2; round++ {
		b.Reset()
		interval := 500 * time.Millisecond
		for i := 1; i < DefaultMaxAttempts; i++ {
			got := b.NextBackOff()
			assert.GreaterOrEqual(t, got, interval/2, "retry %d", i)
			assert.LessOrEqual(t, got, interval*3/2, "retry %d", i)
			interval *= 2
		}
		assert.Equal(t, backoff.Stop, b.NextBackOff())
	}
}
