package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Schedule is the wait before each retry of a failed delivery, the Standard Webhooks example
// schedule: the first attempt goes at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
// 20 h and 24 h later (3 days, 3 h and 35 min in all), ten attempts.
var Schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// Attempts is how many attempts a delivery gets on Schedule: the first and one per retry.
var Attempts = len(Schedule) + 1

// Jitter is the largest share of a retry's wait added or taken at random, so that the
// retries of a burst of failures do not all come back at one instant.
const Jitter = 0.1

// NextDelay is the wait after the failed attempt number attempt (1 is the first) on
// schedule, jittered, and false when no retry is left.
func NextDelay(schedule []time.Duration, attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(schedule) {
		return 0, false
	}
	d := schedule[attempt-1]
	j := time.Duration((rand.Float64()*2 - 1) * Jitter * float64(d))
	return d + j, true
}

// MaxRetryAfter caps a receiver's Retry-After: the longest wait of the schedule.
const MaxRetryAfter = 24 * time.Hour

// HonoursRetryAfter says whether an answer's Retry-After sets the next attempt: 429, 502, 503.
func HonoursRetryAfter(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway || status == http.StatusServiceUnavailable
}

// ParseRetryAfter reads a Retry-After header (delay seconds or an HTTP date) relative to
// now, capped at MaxRetryAfter; false when absent or unreadable.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		d = time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}
