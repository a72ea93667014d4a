package transport_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/outhook/outhook/transport"
)

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "0", "7", "-1", " 30 ", "1e3", "99999999999999999999",
		now.Add(time.Minute).Format(http.TimeFormat), "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"} {
		f.Add(s)
	}
	const max = time.Hour
	f.Fuzz(func(t *testing.T, v string) {
		d := transport.ParseRetryAfter(v, now, max)
		if d < 0 || d > max {
			t.Fatalf("ParseRetryAfter(%q) = %v, want within [0, %v]", v, d, max)
		}
	})
}
