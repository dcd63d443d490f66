package loadsetup_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/loadsetup"
)

func TestRetryAfter(t *testing.T) {
	h := http.Header{}
	assert.Equal(t, time.Second, loadsetup.RetryAfter(h), "none named")
	h.Set("Retry-After", "3")
	assert.Equal(t, 3*time.Second, loadsetup.RetryAfter(h))
	h.Set("Retry-After", "0")
	assert.Equal(t, time.Duration(0), loadsetup.RetryAfter(h))
	h.Set("Retry-After", "soon")
	assert.Equal(t, time.Second, loadsetup.RetryAfter(h), "unreadable")
}

// tries is how many calls Retry makes when every answer has status.
func tries(t *testing.T, status int) int {
	calls := 0
	_, err := loadsetup.Retry(context.Background(), func() (string, int, time.Duration, error) {
		calls++
		return "", status, 0, nil
	})
	require.NoError(t, err)
	return calls
}

func TestRetryTriesA503AgainAfterItsWait(t *testing.T) {
	statuses := []int{503, 503, 201}
	calls := 0
	got, err := loadsetup.Retry(context.Background(), func() (string, int, time.Duration, error) {
		st := statuses[calls]
		calls++
		return "answer", st, 0, nil
	})
	require.NoError(t, err)
	assert.Equal(t, "answer", got)
	assert.Equal(t, 3, calls, "two 503s, then the answer")
	assert.Equal(t, 1, tries(t, 429), "only a 503 is tried again")
	assert.Equal(t, loadsetup.Attempts, tries(t, 503), "at most Attempts tries")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = loadsetup.Retry(ctx, func() (string, int, time.Duration, error) { return "", 503, time.Hour, nil })
	assert.ErrorIs(t, err, context.Canceled, "the wait ends with the context")
}
