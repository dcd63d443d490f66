package kafka_test

import (
	"context"
	"testing"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
)

func definitions() []topics.Topic {
	return []topics.Topic{
		{Name: "a", Partitions: 4, ReplicationFactor: 3, RetentionMs: 86400000, CleanupPolicy: "delete", MinInsyncReplicas: 2},
		{Name: "b", Partitions: 2, ReplicationFactor: 3, RetentionMs: -1, CleanupPolicy: "compact", MinInsyncReplicas: 2},
	}
}

// state is what the cluster holds for one topic.
type state struct {
	Partitions int
	Configs    map[string]string
}

func describe(t *testing.T, c kafka.Cluster, name string) state {
	t.Helper()
	cfg, err := c.Config("test-describe")
	require.NoError(t, err)
	admin, err := sarama.NewClusterAdmin(c.Brokers, cfg)
	require.NoError(t, err)
	defer admin.Close()
	metas, err := admin.DescribeTopics([]string{name})
	require.NoError(t, err)
	require.Len(t, metas, 1)
	require.ErrorIs(t, metas[0].Err, sarama.ErrNoError)
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: name,
		ConfigNames: []string{"retention.ms", "cleanup.policy", "min.insync.replicas"}})
	require.NoError(t, err)
	s := state{Partitions: len(metas[0].Partitions), Configs: map[string]string{}}
	for _, e := range entries {
		s.Configs[e.Name] = e.Value
	}
	return s
}

func kinds(cs []kafka.TopicChange) map[string][]kafka.ChangeKind {
	out := map[string][]kafka.ChangeKind{}
	for _, c := range cs {
		out[c.Topic] = append(out[c.Topic], c.Kind)
	}
	return out
}

func embedded(t *testing.T, opts ...kafka.EmbeddedOption) kafka.Cluster {
	t.Helper()
	e, err := kafka.StartEmbedded("", opts...)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e.Cluster()
}

func TestReconcileCreatesThenChangesNothing(t *testing.T) {
	c := embedded(t)
	ctx := context.Background()
	changes, err := kafka.ReconcileTopics(ctx, c, definitions())
	require.NoError(t, err)
	assert.Equal(t, map[string][]kafka.ChangeKind{"a": {kafka.TopicCreated}, "b": {kafka.TopicCreated}}, kinds(changes))
	// One broker: replication and min.insync.replicas capped to 1.
	assert.Equal(t, state{Partitions: 4, Configs: map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete", "min.insync.replicas": "1"}}, describe(t, c, "a"))
	assert.Equal(t, state{Partitions: 2, Configs: map[string]string{"retention.ms": "-1", "cleanup.policy": "compact", "min.insync.replicas": "1"}}, describe(t, c, "b"))

	again, err := kafka.ReconcileTopics(ctx, c, definitions())
	require.NoError(t, err)
	assert.Empty(t, again, "a second run changes nothing")
}

func TestReconcileRaisesPartitionsSetsConfigsAndNeverLowers(t *testing.T) {
	c := embedded(t)
	ctx := context.Background()
	_, err := kafka.ReconcileTopics(ctx, c, definitions())
	require.NoError(t, err)

	ts := definitions()
	ts[0].Partitions = 6             // raise
	ts[0].RetentionMs = 2 * 86400000 // new retention
	ts[1].Partitions = 1             // lower: refused
	ts[1].CleanupPolicy = "delete"
	changes, err := kafka.ReconcileTopics(ctx, c, ts)
	require.NoError(t, err)
	assert.ElementsMatch(t, []kafka.TopicChange{
		{Topic: "a", Kind: kafka.PartitionsRaised, From: "4", To: "6"},
		{Topic: "a", Kind: kafka.ConfigSet, From: "retention.ms=86400000", To: "retention.ms=172800000"},
		{Topic: "b", Kind: kafka.PartitionsNotLowered, From: "2", To: "1"},
		{Topic: "b", Kind: kafka.ConfigSet, From: "cleanup.policy=compact", To: "cleanup.policy=delete"},
	}, changes)
	assert.Equal(t, 6, describe(t, c, "a").Partitions)
	assert.Equal(t, "172800000", describe(t, c, "a").Configs["retention.ms"])
	b := describe(t, c, "b")
	assert.Equal(t, 2, b.Partitions, "partitions are never lowered")
	assert.Equal(t, "delete", b.Configs["cleanup.policy"])
	for _, ch := range changes {
		assert.Equal(t, ch.Kind == kafka.PartitionsNotLowered, ch.Problem(), ch.String())
	}

	// What is left is only the refusal, reported again; nothing else changes.
	again, err := kafka.ReconcileTopics(ctx, c, ts)
	require.NoError(t, err)
	assert.Equal(t, []kafka.TopicChange{{Topic: "b", Kind: kafka.PartitionsNotLowered, From: "2", To: "1"}}, again)
}

func TestReconcileRestoresDriftedConfig(t *testing.T) {
	c := embedded(t)
	ctx := context.Background()
	_, err := kafka.ReconcileTopics(ctx, c, definitions())
	require.NoError(t, err)
	cfg, err := c.Config("test-drift")
	require.NoError(t, err)
	admin, err := sarama.NewClusterAdmin(c.Brokers, cfg)
	require.NoError(t, err)
	v := "1000"
	require.NoError(t, admin.IncrementalAlterConfig(sarama.TopicResource, "a",
		map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}}, false))
	require.NoError(t, admin.Close())

	changes, err := kafka.ReconcileTopics(ctx, c, definitions())
	require.NoError(t, err)
	assert.Equal(t, []kafka.TopicChange{{Topic: "a", Kind: kafka.ConfigSet, From: "retention.ms=1000", To: "retention.ms=86400000"}}, changes)
	assert.Equal(t, "86400000", describe(t, c, "a").Configs["retention.ms"])
}

func TestReconcileOverTLSAndSCRAM(t *testing.T) {
	c := embedded(t, kafka.EmbeddedTLS(t.TempDir()), kafka.EmbeddedSASL(kafka.MechanismSCRAMSHA512, "admin", "pw"))
	changes, err := kafka.ReconcileTopics(context.Background(), c, topics.All())
	require.NoError(t, err)
	assert.Len(t, changes, len(topics.All()))
	for _, ch := range changes {
		assert.Equal(t, kafka.TopicCreated, ch.Kind)
	}
	assert.Equal(t, 12, describe(t, c, topics.Orders).Partitions)

	c.Security.Password = "wrong"
	_, err = kafka.ReconcileTopics(context.Background(), c, topics.All())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_SASL_PASSWORD")
}

func TestEnsureTopicsOnlyCreates(t *testing.T) {
	c := embedded(t)
	ctx := context.Background()
	require.NoError(t, kafka.EnsureTopics(ctx, c, definitions()))
	ts := definitions()
	ts[0].Partitions = 8
	require.NoError(t, kafka.EnsureTopics(ctx, c, ts))
	assert.Equal(t, 4, describe(t, c, "a").Partitions, "EnsureTopics leaves existing topics alone")
}
