// Package topics is the one definition of the platform's Kafka topics. The services create and
// use them from here, and the infrastructure program provisions them from here, so the two can
// never disagree. It depends on nothing but the standard library so the infrastructure module
// can import it without pulling in the services' dependencies.
package topics

// Names of the topics.
const (
	Orders           = "orders"
	Trades           = "trades"
	Settlements      = "settlements"
	Alerts           = "alerts"
	ComplianceEvents = "compliance-events"
)

// Topic is one topic's settings. Replication is capped by the broker count where the topic is
// created (a local single-broker run uses 1).
type Topic struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	RetentionMs       int64 // -1 keeps forever
	CleanupPolicy     string
	MinInsyncReplicas int
}

const day = 24 * 60 * 60 * 1000

// All returns every topic in a fixed order. Orders are keyed by market, so a market's inputs
// stay in one partition in order.
func All() []Topic {
	return []Topic{
		{Name: Orders, Partitions: 12, ReplicationFactor: 3, RetentionMs: 7 * day, CleanupPolicy: "delete", MinInsyncReplicas: 2},
		{Name: Trades, Partitions: 12, ReplicationFactor: 3, RetentionMs: 30 * day, CleanupPolicy: "delete", MinInsyncReplicas: 2},
		{Name: Settlements, Partitions: 6, ReplicationFactor: 3, RetentionMs: 30 * day, CleanupPolicy: "delete", MinInsyncReplicas: 2},
		{Name: Alerts, Partitions: 3, ReplicationFactor: 3, RetentionMs: 14 * day, CleanupPolicy: "delete", MinInsyncReplicas: 2},
		{Name: ComplianceEvents, Partitions: 6, ReplicationFactor: 3, RetentionMs: 365 * day, CleanupPolicy: "delete", MinInsyncReplicas: 2},
	}
}

// Lookup returns the topic with the given name.
func Lookup(name string) (Topic, bool) {
	for _, t := range All() {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}
