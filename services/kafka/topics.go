package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/IBM/sarama"

	"github.com/cantondex/platform/services/topics"
)

// ChangeKind is what reconciliation did to a topic, or found it could not do.
type ChangeKind string

// The kinds of change.
const (
	// TopicCreated: the topic did not exist and was created.
	TopicCreated ChangeKind = "created"
	// PartitionsRaised: the topic had fewer partitions than its definition.
	PartitionsRaised ChangeKind = "partitions raised"
	// ConfigSet: a topic configuration differed from the definition and was set.
	ConfigSet ChangeKind = "config set"
	// PartitionsNotLowered: the topic has more partitions than its definition; partitions are
	// never removed (keyed order and data would be lost), so the definition should follow.
	PartitionsNotLowered ChangeKind = "partitions not lowered"
	// ReplicationDiffers: the topic's replication factor differs from its definition (capped
	// by the broker count); changing it is a partition reassignment, not done here.
	ReplicationDiffers ChangeKind = "replication differs"
)

// TopicChange is one change, with the value before and after (for a config, Name = value).
type TopicChange struct {
	Topic string
	Kind  ChangeKind
	From  string
	To    string
}

func (c TopicChange) String() string {
	switch c.Kind {
	case TopicCreated:
		return fmt.Sprintf("%s: %s (%s)", c.Topic, c.Kind, c.To)
	case PartitionsNotLowered, ReplicationDiffers:
		return fmt.Sprintf("%s: %s: has %s, definition says %s", c.Topic, c.Kind, c.From, c.To)
	}
	return fmt.Sprintf("%s: %s: %s -> %s", c.Topic, c.Kind, c.From, c.To)
}

// Problem reports whether the change is a difference left in place.
func (c TopicChange) Problem() bool {
	return c.Kind == PartitionsNotLowered || c.Kind == ReplicationDiffers
}

// topicConfigs are the settings reconciliation owns on every topic.
var topicConfigs = []string{"retention.ms", "cleanup.policy", "min.insync.replicas"}

// EnsureTopics creates the topics that do not exist yet, capping replication and
// min.insync.replicas to the broker count; existing topics are left as they are.
func EnsureTopics(ctx context.Context, c Cluster, ts []topics.Topic) error {
	_, err := reconcile(ctx, c, "cantondex-admin", ts, false)
	return err
}

// ReconcileTopics makes the cluster's topics match ts: it creates missing topics, raises
// partition counts, and sets retention.ms, cleanup.policy and min.insync.replicas; it never
// lowers a partition count and does not change replication, and reports both. Running it
// again changes nothing. Replication and min.insync.replicas are capped by the broker count.
// It needs, on the topics named, MSK IAM's kafka-cluster:DescribeTopic, CreateTopic,
// AlterTopic, DescribeTopicDynamicConfiguration and AlterTopicDynamicConfiguration, and
// kafka-cluster:Connect on the cluster.
func ReconcileTopics(ctx context.Context, c Cluster, ts []topics.Topic) ([]TopicChange, error) {
	return reconcile(ctx, c, "kafka-topics", ts, true)
}

func reconcile(ctx context.Context, c Cluster, clientID string, ts []topics.Topic, full bool) ([]TopicChange, error) {
	cfg, err := c.Config(clientID)
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(c.Brokers, cfg)
	if err != nil {
		return nil, c.connectError("kafka admin", err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client) // closing admin closes client
	if err != nil {
		_ = client.Close()
		return nil, c.connectError("kafka admin", err)
	}
	defer admin.Close()

	// The broker count from metadata (kafka-cluster:Connect), not the DescribeCluster API.
	brokers := int16(max(len(client.Brokers()), 1))
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	metas, err := admin.DescribeTopics(names)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	existing := make(map[string]*sarama.TopicMetadata, len(metas))
	for _, m := range metas {
		switch {
		case errors.Is(m.Err, sarama.ErrNoError):
			existing[m.Name] = m
		case errors.Is(m.Err, sarama.ErrUnknownTopicOrPartition):
		default:
			return nil, fmt.Errorf("describe topic %s: %w", m.Name, m.Err)
		}
	}

	var changes []TopicChange
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			return changes, err
		}
		rf := min(t.ReplicationFactor, brokers)
		want := map[string]string{
			"retention.ms":        strconv.FormatInt(t.RetentionMs, 10),
			"cleanup.policy":      t.CleanupPolicy,
			"min.insync.replicas": strconv.Itoa(min(t.MinInsyncReplicas, int(rf))),
		}
		m, ok := existing[t.Name]
		if !ok {
			entries := make(map[string]*string, len(want))
			for _, k := range topicConfigs {
				v := want[k]
				entries[k] = &v
			}
			err := admin.CreateTopic(t.Name, &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: rf, ConfigEntries: entries}, false)
			switch {
			case err == nil:
				changes = append(changes, TopicChange{Topic: t.Name, Kind: TopicCreated,
					To: fmt.Sprintf("%d partitions, replication %d, retention.ms=%s, cleanup.policy=%s, min.insync.replicas=%s",
						t.Partitions, rf, want["retention.ms"], want["cleanup.policy"], want["min.insync.replicas"])})
			case errors.Is(err, sarama.ErrTopicAlreadyExists): // created concurrently: the next run reconciles it
			default:
				return changes, fmt.Errorf("create topic %s: %w", t.Name, err)
			}
			continue
		}
		if !full {
			continue
		}
		cs, err := reconcileExisting(admin, t, m, rf, want)
		changes = append(changes, cs...)
		if err != nil {
			return changes, err
		}
	}
	return changes, ctx.Err()
}

func reconcileExisting(admin sarama.ClusterAdmin, t topics.Topic, m *sarama.TopicMetadata, rf int16, want map[string]string) ([]TopicChange, error) {
	var changes []TopicChange
	have := int32(len(m.Partitions))
	switch {
	case have < t.Partitions:
		if err := admin.CreatePartitions(t.Name, t.Partitions, nil, false); err != nil {
			return changes, fmt.Errorf("raise partitions of %s to %d: %w", t.Name, t.Partitions, err)
		}
		changes = append(changes, TopicChange{Topic: t.Name, Kind: PartitionsRaised, From: strconv.Itoa(int(have)), To: strconv.Itoa(int(t.Partitions))})
	case have > t.Partitions:
		changes = append(changes, TopicChange{Topic: t.Name, Kind: PartitionsNotLowered, From: strconv.Itoa(int(have)), To: strconv.Itoa(int(t.Partitions))})
	}
	if len(m.Partitions) > 0 {
		if got := int16(len(m.Partitions[0].Replicas)); got != rf {
			changes = append(changes, TopicChange{Topic: t.Name, Kind: ReplicationDiffers, From: strconv.Itoa(int(got)), To: strconv.Itoa(int(rf))})
		}
	}

	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: t.Name, ConfigNames: topicConfigs})
	if err != nil {
		return changes, fmt.Errorf("describe configs of %s: %w", t.Name, err)
	}
	current := make(map[string]string, len(entries))
	for _, e := range entries {
		current[e.Name] = e.Value
	}
	set := map[string]sarama.IncrementalAlterConfigsEntry{}
	var setChanges []TopicChange
	for _, k := range topicConfigs {
		v := want[k]
		if current[k] == v {
			continue
		}
		set[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
		setChanges = append(setChanges, TopicChange{Topic: t.Name, Kind: ConfigSet, From: k + "=" + current[k], To: k + "=" + v})
	}
	if len(set) > 0 {
		if err := admin.IncrementalAlterConfig(sarama.TopicResource, t.Name, set, false); err != nil {
			return changes, fmt.Errorf("set configs of %s: %w", t.Name, err)
		}
		changes = append(changes, setChanges...)
	}
	return changes, nil
}
