package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
)

// start runs an embedded broker with topic "t" (3 partitions) and returns its addresses and a
// producer, both closed at cleanup.
func start(t *testing.T) (kafka.Cluster, *kafka.Producer) {
	t.Helper()
	e, err := kafka.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if err := kafka.EnsureTopics(context.Background(), e.Cluster(), []topics.Topic{{Name: "t", Partitions: 3, ReplicationFactor: 3, RetentionMs: -1, CleanupPolicy: "delete", MinInsyncReplicas: 2}}); err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(e.Cluster(), "test")
	if err != nil {
		t.Fatal(err)
	}
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
	if err := p.Publish(ctx, msgs[:30]...); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs[30:] {
		if err := p.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
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
			if b <= a {
				t.Fatalf("key %s out of order: %v", k, vs)
			}
		}
		if len(vs) != 15 {
			t.Fatalf("key %s got %d messages, want 15", k, len(vs))
		}
	}

	// The same group resumes after its committed offsets: only new messages arrive.
	if err := p.Publish(ctx, kafka.Message{Topic: "t", Key: []byte("k0"), Value: []byte("60")}); err != nil {
		t.Fatal(err)
	}
	s2 := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 1}
	g.Handle = s2.handle
	runUntil(t, g, s2.done)
	time.Sleep(300 * time.Millisecond) // let any wrongly redelivered message show up
	s2.mu.Lock()
	defer s2.mu.Unlock()
	if s2.n != 1 || s2.byPK["k0"][0] != "60" {
		t.Fatalf("resumed group got %v", s2.byPK)
	}
}

func TestAssignedResetsStartOffset(t *testing.T) {
	cluster, p := start(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := p.Publish(ctx, kafka.Message{Topic: "t", Key: []byte("same"), Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	all := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 10}
	g := &kafka.Group{Cluster: cluster, Group: "g2", Topics: []string{"t"}, Handle: all.handle}
	runUntil(t, g, all.done)
	// Everything is committed; a member that must replay from offset 6 gets 6..9 again.
	s := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 4}
	g.Handle = s.handle
	g.Assigned = func(context.Context, string, int32) (int64, error) { return 6, nil }
	runUntil(t, g, s.done)
	if got := fmt.Sprint(s.byPK["same"]); got != "[6 7 8 9]" {
		t.Fatalf("from offset 6 got %s", got)
	}
}

func runUntil(t *testing.T, g *kafka.Group, done chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("timed out waiting for messages")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
