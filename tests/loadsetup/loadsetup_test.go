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

	calls = 0
	_, err = loadsetup.Retry(context.Background(), func() (string, int, time.Duration, error) {
		calls++
		return "", 429, 0, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "only a 503 is tried again")

	calls = 0
	_, err = loadsetup.Retry(context.Background(), func() (string, int, time.Duration, error) {
		calls++
		return "", 503, 0, nil
	})
	require.NoError(t, err)
	assert.Equal(t, loadsetup.Attempts, calls, "at most Attempts tries")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = loadsetup.Retry(ctx, func() (string, int, time.Duration, error) { return "", 503, time.Hour, nil })
	assert.ErrorIs(t, err, context.Canceled, "the wait ends with the context")
}
