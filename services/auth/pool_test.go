package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
)

// The pool runs at most its workers at once, queues a few, and sheds the rest at once.
func TestHashPoolBoundsAndSheds(t *testing.T) {
	p := newHashPool(2, 1, time.Hour)
	release := make(chan struct{})
	var running, peak atomic.Int64
	work := func() {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ { // two run, one waits
		wg.Add(1)
		go func() { defer wg.Done(); errs <- p.do(context.Background(), work) }()
	}
	require.Eventually(t, func() bool { return running.Load() == 2 && len(p.waiting) == 1 }, 5*time.Second, time.Millisecond)
	var busy *BusyError
	err := p.do(context.Background(), work) // the fourth is shed without waiting
	require.True(t, errors.As(err, &busy), "%v", err)
	assert.Equal(t, trading.EUNAVAILABLE, trading.ErrorCode(err))
	assert.Equal(t, time.Second, busy.RetryAfter())
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, int64(2), peak.Load(), "hashes at once")
}

func TestHashPoolWaitRunsOut(t *testing.T) {
	p := newHashPool(1, 1, 10*time.Millisecond)
	release := make(chan struct{})
	go func() { _ = p.do(context.Background(), func() { <-release }) }()
	require.Eventually(t, func() bool { return len(p.slots) == 1 }, 5*time.Second, time.Millisecond)
	var busy *BusyError
	assert.True(t, errors.As(p.do(context.Background(), func() {}), &busy))
	close(release)
}

// Every password hash of the service, an unknown e-mail's dummy included, goes through the
// pool: with it full, logins, registrations and resets are shed, not hashed.
func TestEveryHashGoesThroughThePool(t *testing.T) {
	ctx := context.Background()
	s, err := NewService(nopStore{}, nil, Config{
		TokenKey: []byte(strings.Repeat("k", 32)), SealKey: []byte(strings.Repeat("s", 32)),
		Hash: HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, HashWorkers: 1, HashQueue: 1, HashWait: time.Millisecond,
	})
	require.NoError(t, err)
	s.pool.slots <- struct{}{} // every worker busy
	var busy *BusyError
	_, err = s.Login(ctx, "nobody@example.com", "some password or other", "192.0.2.1")
	assert.True(t, errors.As(err, &busy), "login of an unknown e-mail: %v", err)
	assert.True(t, errors.As(s.Register(ctx, "new@example.com", "correct horse battery"), &busy), "register")
	assert.True(t, errors.As(s.ResetPassword(ctx, "pr_"+strings.Repeat("A", 43), "correct horse battery"), &busy), "reset")
}

// nopStore fails every call: the pool must shed before any reaches it.
type nopStore struct{ Store }
