package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
)

// start runs an embedded broker with topic "t" (3 partitions) and returns its addresses and a
// producer, both closed at cleanup.
func start(t *testing.T) (kafka.Cluster, *kafka.Producer) {
	t.Helper()
	e, err := kafka.StartEmbedded("")
	require.NoError(t, err)
	t.Cleanup(e.Close)
	require.NoError(t, kafka.EnsureTopics(context.Background(), e.Cluster(), []topics.Topic{{Name: "t", Partitions: 3, ReplicationFactor: 3, RetentionMs: -1, CleanupPolicy: "delete", MinInsyncReplicas: 2}}))
	p, err := kafka.NewProducer(e.Cluster(), "test")
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return e.Cluster(), p
}

type sink struct {
	mu   sync.Mutex
	byPK map[string][]string // key -> values in delivery order
	n    int
	done chan struct{}
	want int
}

func (s *sink) handle(_ context.Context, msgs []kafka.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.byPK[string(m.Key)] = append(s.byPK[string(m.Key)], string(m.Value))
		s.n++
		if s.n == s.want {
			close(s.done)
		}
	}
	return nil
}

func TestPublishConsumeInKeyOrderAndResume(t *testing.T) {
	cluster, p := start(t)
	ctx := context.Background()
	var msgs []kafka.Message
	for i := 0; i < 60; i++ {
		msgs = append(msgs, kafka.Message{Topic: "t", Key: []byte(fmt.Sprint("k", i%4)), Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, p.Publish(ctx, msgs[:30]...))
	for _, m := range msgs[30:] {
		require.NoError(t, p.Publish(ctx, m))
	}

	// The first delivery of a batch fails: the same messages come again, nothing is skipped.
	var failed atomic.Bool
	s := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 60}
	g := &kafka.Group{Cluster: cluster, Group: "g1", Topics: []string{"t"}, Handle: func(ctx context.Context, ms []kafka.Message) error {
		if failed.CompareAndSwap(false, true) {
			return errors.New("transient")
		}
		return s.handle(ctx, ms)
	}}
	runUntil(t, g, s.done)
	for k, vs := range s.byPK {
		for i := 1; i < len(vs); i++ {
			var a, b int
			fmt.Sscan(vs[i-1], &a)
			fmt.Sscan(vs[i], &b)
			require.Greater(t, b, a, "key %s out of order: %v", k, vs)
		}
		require.Len(t, vs, 15, "key %s", k)
	}

	// The same group resumes after its committed offsets: only new messages arrive.
	require.NoError(t, p.Publish(ctx, kafka.Message{Topic: "t", Key: []byte("k0"), Value: []byte("60")}))
	s2 := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 1}
	g.Handle = s2.handle
	runUntil(t, g, s2.done)
	time.Sleep(300 * time.Millisecond) // let any wrongly redelivered message show up
	s2.mu.Lock()
	defer s2.mu.Unlock()
	require.Equal(t, 1, s2.n, "resumed group got %v", s2.byPK)
	require.Equal(t, map[string][]string{"k0": {"60"}}, s2.byPK, "resumed group")
}

func TestAssignedResetsStartOffset(t *testing.T) {
	cluster, p := start(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		require.NoError(t, p.Publish(ctx, kafka.Message{Topic: "t", Key: []byte("same"), Value: []byte(fmt.Sprint(i))}))
	}
	all := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 10}
	g := &kafka.Group{Cluster: cluster, Group: "g2", Topics: []string{"t"}, Handle: all.handle}
	runUntil(t, g, all.done)
	// Everything is committed; a member that must replay from offset 6 gets 6..9 again.
	s := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 4}
	g.Handle = s.handle
	g.Assigned = func(context.Context, string, int32) (int64, error) { return 6, nil }
	runUntil(t, g, s.done)
	require.Equal(t, []string{"6", "7", "8", "9"}, s.byPK["same"], "from offset 6")
}

func runUntil(t *testing.T, g *kafka.Group, done chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		assert.Fail(t, "timed out waiting for messages")
	}
	cancel()
	require.NoError(t, <-errc)
}

// Lag is the high-water mark minus the next offset to process, reported after each batch.
func TestLagCountsDownToZero(t *testing.T) {
	cluster, p := start(t)
	ctx := context.Background()
	var msgs []kafka.Message
	for i := 0; i < 10; i++ { // one key: one partition, offsets 0..9, high-water mark 10
		msgs = append(msgs, kafka.Message{Topic: "t", Key: []byte("k"), Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, p.Publish(ctx, msgs...))

	var mu sync.Mutex
	var lags []int64
	partitions := map[int32]bool{}
	done := make(chan struct{})
	g := &kafka.Group{Cluster: cluster, Group: "lag", Topics: []string{"t"}, MaxBatch: 1,
		Handle: func(context.Context, []kafka.Message) error { return nil },
		Lag: func(group, topic string, partition int32, lag int64) {
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, "lag", group)
			assert.Equal(t, "t", topic)
			partitions[partition] = true
			if lags = append(lags, lag); len(lags) == len(msgs) {
				close(done)
			}
		}}
	runUntil(t, g, done)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, lags)
	assert.Len(t, partitions, 1)
}
