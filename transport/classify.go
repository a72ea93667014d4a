package transport

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Classify maps an HTTP status to an outcome: 2xx succeeds; 408, 425, 429 and
// 5xx may pass later; every other status is permanent.
func Classify(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Success
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests, status >= 500 && status < 600:
		return Retry
	default:
		return Permanent
	}
}

// ParseRetryAfter reads a Retry-After header value, given in seconds or as an
// HTTP date, relative to now, and caps it at max. It returns 0 for an absent,
// malformed or past value.
func ParseRetryAfter(v string, now time.Time, max time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(max/time.Second) {
			return max
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	if d > max {
		return max
	}
	return d
}
