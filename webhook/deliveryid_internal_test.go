package webhook

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewDeliveryID(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	ids := make([]uuid.UUID, 10000)
	for i := range ids {
		ids[i] = newDeliveryIDAt(time.Now())
	}
	after := time.Now()
	for i, id := range ids {
		require.Equal(t, uuid.Version(7), id.Version(), id)
		require.Equal(t, uuid.RFC4122, id.Variant(), id)
		sec, nsec := id.Time().UnixTime()
		at := time.Unix(sec, nsec)
		assert.False(t, at.Before(before), "%s is from %v, before %v", id, at, before)
		// Many IDs in one millisecond run ahead of the clock by their count.
		assert.False(t, at.After(after.Add(time.Duration(len(ids))*time.Millisecond/4096+time.Millisecond)), "%s is from %v", id, at)
		if i > 0 {
			require.Equal(t, 1, bytes.Compare(id[:], ids[i-1][:]), "%s does not sort after %s", id, ids[i-1])
		}
	}
	// The random part differs even where the time part is the next one.
	assert.NotEqual(t, ids[0][8:], ids[1][8:])
}

func TestNewDeliveryIDConcurrent(t *testing.T) {
	const goroutines, each = 8, 2000
	got := make([][]uuid.UUID, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				got[g] = append(got[g], newDeliveryIDAt(time.Now()))
			}
		}()
	}
	wg.Wait()
	seen := map[[8]byte]bool{} // the time parts alone are unique in a process
	for _, ids := range got {
		for _, id := range ids {
			k := [8]byte(id[:8])
			require.False(t, seen[k], "time part of %s repeated", id)
			seen[k] = true
		}
	}
	assert.Len(t, seen, goroutines*each)
}

func TestNewDeliveryIDClockBack(t *testing.T) {
	// A time part ahead of the clock (a clock stepped back by 5 ms) is
	// counted on.
	ahead := lastDeliveryTime.Load() + 5*4096
	lastDeliveryTime.Store(ahead)
	id := newDeliveryIDAt(time.Now())
	hi := binary.BigEndian.Uint64(id[:8])
	// Other tests of the package may make IDs at the same time.
	assert.Greater(t, hi>>16<<12|hi&0xfff, ahead)
}
