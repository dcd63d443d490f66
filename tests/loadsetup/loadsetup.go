// Package loadsetup is what the load commands (tests/cmd/loadgen, tests/cmd/streamload)
// share to set up their traders: a set-up request the gateway sheds with 503 (the
// password-hashing pool when sign-ins come faster than it hashes) is tried again after the
// answer's Retry-After. The measured load never retries: there a 503 is an error.
package loadsetup

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Attempts is how many times a set-up request is tried.
const Attempts = 20

// RetryAfter is the wait an answer asks for in its Retry-After header (whole seconds), or 1 s
// when it names none.
func RetryAfter(h http.Header) time.Duration {
	if secs, err := strconv.Atoi(h.Get("Retry-After")); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	return time.Second
}

// Retry calls do until it answers something other than 503, up to Attempts times, waiting
// the Retry-After do reports between tries; it returns do's last answer.
func Retry[R any](ctx context.Context, do func() (r R, status int, retryAfter time.Duration, err error)) (R, error) {
	for attempt := 1; ; attempt++ {
		r, status, wait, err := do()
		if err != nil || status != http.StatusServiceUnavailable || attempt == Attempts {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(wait):
		}
	}
}
