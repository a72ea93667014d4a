package webhook

import (
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// lastDeliveryTime is the time part of the last delivery ID made in this
// process: Unix milliseconds << 12 | the twelve-bit fraction of the
// millisecond (RFC 9562, section 6.2, method 3).
var lastDeliveryTime atomic.Uint64

// newDeliveryIDAt returns a time-ordered UUID (version 7) made at now, so
// delivery logs sort by creation: 48 bits of Unix milliseconds, 12 bits of the fraction
// of the millisecond, then 62 random bits. Within a process every ID sorts
// after the one before, even within one millisecond or when the clock steps
// back (the time part then counts on from the last one), so two IDs of one
// process never collide; across processes the 62 random bits keep them
// apart. They come from math/rand/v2's generator, seeded by the runtime
// from the operating system: delivery IDs are unique, not secret, and
// uuid.NewV7 read crypto/rand for each one, a tenth of a Dispatch's CPU
// time outside the request.
func newDeliveryIDAt(now time.Time) uuid.UUID {
	ns := now.UnixNano()
	t := uint64(ns/1e6)<<12 | uint64(ns%1e6)*4096/1e6
	for {
		last := lastDeliveryTime.Load()
		if t <= last {
			t = last + 1
		}
		if lastDeliveryTime.CompareAndSwap(last, t) {
			break
		}
	}
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[:8], t>>12<<16|0x7<<12|t&0xfff)
	binary.BigEndian.PutUint64(id[8:], rand.Uint64()>>2|1<<63) // variant 10
	return id
}
