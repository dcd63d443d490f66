// Command kafka-topics creates and reconciles the platform's Kafka topics (services/topics)
// through the Kafka admin API, with the same TLS and SASL settings as the services
// (kafka.SecurityFromEnv). It creates missing topics, raises partition counts, and sets
// retention.ms, cleanup.policy and min.insync.replicas; it never lowers a partition count or
// changes replication, and reports both. Running it again changes nothing. The program runs it
// as a Kubernetes Job with an IRSA role allowed exactly this on the platform's topics.
//
//	KAFKA_BROKERS=b-1...:9098 KAFKA_TLS=true KAFKA_SASL_MECHANISM=AWS_MSK_IAM AWS_REGION=eu-west-1 kafka-topics
//
// KAFKA_TOPICS_JSON, when set, is the stack's topic list (a JSON array of services/topics
// Topic objects: the definition with the stack's sizing overrides); every name must be one of
// services/topics. It prints one line per change and exits 1 on an error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/topics"
)

// EnvTopics names the stack's topic list.
const EnvTopics = "KAFKA_TOPICS_JSON"

// timeout bounds one reconciliation; the Job retries on failure.
const timeout = 2 * time.Minute

func main() {
	if version.Handle(os.Stdout, "kafka-topics", os.Args[1:]) {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kafka-topics:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	c, err := kafka.ClusterFromEnv(getenv)
	if err != nil {
		return err
	}
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%s is required (comma-separated bootstrap brokers)", kafka.EnvBrokers)
	}
	ts, err := topicList(getenv(EnvTopics))
	if err != nil {
		return err
	}
	changes, err := kafka.ReconcileTopics(ctx, c, ts)
	for _, ch := range changes {
		level := "changed"
		if ch.Problem() {
			level = "left as is"
		}
		fmt.Fprintf(out, "%s: %s\n", level, ch)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d topics reconciled, %d changes\n", len(ts), len(changes))
	return nil
}

// topicList is the definition, or the stack's list from KAFKA_TOPICS_JSON, validated.
func topicList(raw string) ([]topics.Topic, error) {
	if raw == "" {
		return topics.All(), nil
	}
	var ts []topics.Topic
	if err := json.Unmarshal([]byte(raw), &ts); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvTopics, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%s: no topics", EnvTopics)
	}
	var errs []error
	seen := map[string]bool{}
	for _, t := range ts {
		if _, ok := topics.Lookup(t.Name); !ok {
			errs = append(errs, fmt.Errorf("%s: topic %q is not in services/topics", EnvTopics, t.Name))
			continue
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("%s: topic %q listed twice", EnvTopics, t.Name))
		}
		seen[t.Name] = true
		switch {
		case t.Partitions < 1:
			errs = append(errs, fmt.Errorf("%s: topic %s: partitions %d, want at least 1", EnvTopics, t.Name, t.Partitions))
		case t.ReplicationFactor < 1:
			errs = append(errs, fmt.Errorf("%s: topic %s: replication factor %d, want at least 1", EnvTopics, t.Name, t.ReplicationFactor))
		case t.MinInsyncReplicas < 1 || t.MinInsyncReplicas > int(t.ReplicationFactor):
			errs = append(errs, fmt.Errorf("%s: topic %s: min.insync.replicas %d, want 1 to the replication factor %d", EnvTopics, t.Name, t.MinInsyncReplicas, t.ReplicationFactor))
		case t.RetentionMs < -1 || t.RetentionMs == 0:
			errs = append(errs, fmt.Errorf("%s: topic %s: retention.ms %d, want -1 (forever) or positive", EnvTopics, t.Name, t.RetentionMs))
		case t.CleanupPolicy != "delete" && t.CleanupPolicy != "compact" && t.CleanupPolicy != "compact,delete":
			errs = append(errs, fmt.Errorf("%s: topic %s: cleanup.policy %q, want delete, compact or compact,delete", EnvTopics, t.Name, t.CleanupPolicy))
		}
	}
	return ts, errors.Join(errs...)
}
