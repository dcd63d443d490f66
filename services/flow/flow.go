// Package flow is what the order flow's binaries share to talk over Kafka: a producer and
// consumer groups registered through the service catalog (a binary cannot produce or consume
// a topic its entry does not list), the consumer-group definitions of the matching engine,
// settlement and post-trade risk, and the poison-message guard of every money-moving
// consumer. It starts nothing and embeds nothing: each binary's main builds what it runs.
package flow

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// Kafka is one catalog entry's Kafka access in a process.
type Kafka struct {
	Entry      catalog.Service
	Cluster    kafka.Cluster
	InstanceID string // KAFKA_GROUP_INSTANCE_ID: static membership of the groups
	Log        *slog.Logger
	// Tracing, when on, gives each consumed message with a trace its consumer span
	// (kafka.Group.Tracing); set it before Group.
	Tracing *telemetry.Tracing

	metrics *Metrics
	mu      sync.Mutex
	consume map[catalog.Consume]bool
	produce map[string]bool
	poison  map[string]*kafka.PoisonError // by group/topic/partition
}

// NewKafka returns entry's Kafka access; m (optional) reports registrations and poison
// messages.
func NewKafka(entry catalog.Service, c kafka.Cluster, instanceID string, m *Metrics, log *slog.Logger) *Kafka {
	if log == nil {
		log = slog.Default()
	}
	return &Kafka{Entry: entry, Cluster: c, InstanceID: instanceID, Log: log, metrics: m,
		consume: map[catalog.Consume]bool{}, produce: map[string]bool{}, poison: map[string]*kafka.PoisonError{}}
}

// Group returns a consumer group reading ts in group with h, refused unless the entry lists
// each topic in that group. h is guarded: a PoisonError it returns stops the partition,
// fails Ready and is reported by offset.
func (k *Kafka) Group(group string, ts []string, maxBatch int, h kafka.BatchHandler) (*kafka.Group, error) {
	if err := k.Entry.CheckConsume(group, ts...); err != nil {
		return nil, err
	}
	k.mu.Lock()
	for _, t := range ts {
		k.consume[catalog.Consume{Topic: t, Group: group}] = true
		k.metrics.registered(k.Entry.Name, "consume", t, group)
	}
	k.mu.Unlock()
	g := &kafka.Group{Cluster: k.Cluster, Group: group, Topics: ts, MaxBatch: maxBatch, Log: k.Log, InstanceID: k.InstanceID, Tracing: k.Tracing,
		Handle: func(ctx context.Context, msgs []kafka.Message) error {
			err := h(ctx, msgs)
			k.observe(group, msgs[0], err)
			return err
		}}
	return g, nil
}

// Producer returns a producer for the topics the entry produces; publishing to another
// topic fails.
func (k *Kafka) Producer() (*Producer, error) {
	if len(k.Entry.Produces) == 0 {
		return nil, fmt.Errorf("%s produces no topic in its catalog entry", k.Entry.Name)
	}
	p, err := kafka.NewProducer(k.Cluster, k.Entry.Name)
	if err != nil {
		return nil, err
	}
	return &Producer{p: p, k: k}, nil
}

// StartProducer returns Producer with every topic of the entry registered at once (Require),
// as a binary does at start.
func (k *Kafka) StartProducer() (*Producer, error) {
	p, err := k.Producer()
	if err != nil {
		return nil, err
	}
	if err := p.Require(k.Entry.Produces...); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// Registered returns the subscriptions and the produced topics this process registered, sorted
// (what a test compares with the catalog entry).
func (k *Kafka) Registered() (consume []catalog.Consume, produce []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	consume = slices.SortedFunc(maps.Keys(k.consume), func(a, b catalog.Consume) int {
		if a.Topic != b.Topic {
			return compare(a.Topic, b.Topic)
		}
		return compare(a.Group, b.Group)
	})
	return consume, slices.Sorted(maps.Keys(k.produce))
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Ready fails while a partition is stopped at a poison message.
func (k *Kafka) Ready(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range slices.Sorted(maps.Keys(k.poison)) {
		return fmt.Errorf("%s stopped: %w", key, k.poison[key])
	}
	return nil
}

func (k *Kafka) observe(group string, first kafka.Message, err error) {
	key := group + "/" + first.Topic + "/" + strconv.Itoa(int(first.Partition))
	p := kafka.AsPoison(err)
	k.mu.Lock()
	defer k.mu.Unlock()
	prev := k.poison[key]
	switch {
	case p != nil:
		if prev == nil || prev.Offset != p.Offset {
			k.Log.ErrorContext(telemetry.WithTraceparent(context.Background(), p.Trace), "consumer stopped at a poison message: the partition does not advance until it is dealt with",
				"group", group, "topic", p.Topic, "partition", p.Partition, "offset", p.Offset, "err", p.Err)
		}
		k.poison[key] = p
		k.metrics.poisoned(group, p)
	case err == nil && prev != nil:
		delete(k.poison, key)
		k.metrics.cleared(group, prev)
	}
}

// Producer is a Kafka producer held to its catalog entry's topics. It implements the
// publisher ports of order entry, the engine, settlement and post-trade risk.
type Producer struct {
	p *kafka.Producer
	k *Kafka
}

func (p *Producer) allow(topic string) error {
	if err := p.k.Entry.CheckProduce(topic); err != nil {
		return trading.Errorf(trading.EINTERNAL, "%v", err)
	}
	p.k.mu.Lock()
	if !p.k.produce[topic] {
		p.k.produce[topic] = true
		p.k.metrics.registered(p.k.Entry.Name, "produce", topic, "")
		p.k.metrics.produced(topic, nil)
	}
	p.k.mu.Unlock()
	return nil
}

// Require registers topics as produced now (at start) and fails for one the entry does not
// list, so a miswired binary stops before serving.
func (p *Producer) Require(ts ...string) error {
	for _, t := range ts {
		if err := p.allow(t); err != nil {
			return err
		}
	}
	return nil
}

// PublishCommands implements exchange.Publisher.
func (p *Producer) PublishCommands(ctx context.Context, cmds ...trading.OrderCommand) error {
	if err := p.allow(topics.Orders); err != nil {
		return err
	}
	return p.k.metrics.produced(topics.Orders, p.p.PublishCommands(ctx, cmds...))
}

// PublishExecutions implements matchingsvc.Publisher.
func (p *Producer) PublishExecutions(ctx context.Context, xs []trading.Execution) error {
	if err := p.allow(topics.Trades); err != nil {
		return err
	}
	return p.k.metrics.produced(topics.Trades, p.p.PublishExecutions(ctx, xs))
}

// PublishSettlements implements settlement.Publisher.
func (p *Producer) PublishSettlements(ctx context.Context, ss []trading.Settlement) error {
	if err := p.allow(topics.Settlements); err != nil {
		return err
	}
	return p.k.metrics.produced(topics.Settlements, p.p.PublishSettlements(ctx, ss))
}

// PublishAlerts implements risk.AlertPublisher.
func (p *Producer) PublishAlerts(ctx context.Context, as []trading.Alert) error {
	if err := p.allow(topics.Alerts); err != nil {
		return err
	}
	return p.k.metrics.produced(topics.Alerts, p.p.PublishAlerts(ctx, as))
}

// Publish sends msgs, each to a topic the entry produces (for the messages beyond the flow's
// own: compliance-events).
func (p *Producer) Publish(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if err := p.allow(m.Topic); err != nil {
			return err
		}
	}
	return p.k.metrics.produced(msgs[0].Topic, p.p.Publish(ctx, msgs...))
}

// Close flushes and closes the producer.
func (p *Producer) Close() error { return p.p.Close() }

// Metrics are the Kafka wiring's metrics.
type Metrics struct {
	Registered *prometheus.GaugeVec // 1 per topic a service registered, by service, access, topic, group
	Poison     *prometheus.GaugeVec // the offset a partition is stopped at, by group, topic, partition
	// ProduceErrors counts publishes that failed, by topic (each produced topic starts at 0).
	ProduceErrors *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Registered: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_kafka_registered",
			Help: "Topics this process registered through the service catalog (1 each)."}, []string{"service", "access", "topic", "group"}),
		Poison: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_consumer_poison_offset",
			Help: "Offset of the poison message a partition is stopped at (alert on any series)."}, []string{"group", "topic", "partition"}),
		ProduceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cantondex_kafka_produce_errors_total",
			Help: "Publishes to a topic that failed (the caller retries or fails the request)."}, []string{"topic"}),
	}
	reg.MustRegister(m.Registered, m.Poison, m.ProduceErrors)
	return m
}

func (m *Metrics) registered(service, access, topic, group string) {
	if m != nil {
		m.Registered.WithLabelValues(service, access, topic, group).Set(1)
	}
}

// produced counts err (nil: none, but the topic's series exists) and returns it.
func (m *Metrics) produced(topic string, err error) error {
	if m != nil {
		c := m.ProduceErrors.WithLabelValues(topic)
		if err != nil {
			c.Inc()
		}
	}
	return err
}

func (m *Metrics) poisoned(group string, p *kafka.PoisonError) {
	if m != nil {
		m.Poison.WithLabelValues(group, p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(p.Offset))
	}
}

func (m *Metrics) cleared(group string, p *kafka.PoisonError) {
	if m != nil {
		m.Poison.DeleteLabelValues(group, p.Topic, strconv.Itoa(int(p.Partition)))
	}
}
