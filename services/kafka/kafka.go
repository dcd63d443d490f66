// Package kafka is the Kafka adapter, on sarama: an idempotent producer for events that
// matter, consumer groups that hand batches of messages to a plain function and mark them only
// after it returned (its effect is durable), topic creation and reconciliation from
// services/topics, TLS and SASL (PLAIN, SCRAM-SHA-512, AWS_MSK_IAM) selected by Security, and
// an in-process Kafka-protocol broker (kfake), optionally TLS and SASL too, for runs without
// KAFKA_BROKERS and for tests.
//
// Handlers must be idempotent: a message is delivered again after a crash between its effect
// and the offset commit. The platform dedupes by event id downstream.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/rcrowley/go-metrics"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cantondex/platform/services/platform/telemetry"
)

// Version is the protocol version the platform speaks (MSK 3.5.1).
var version = sarama.V3_5_0_0

// Message is one record, consumed or to produce.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
	// Trace is the W3C traceparent of what caused the record, in its "traceparent" header
	// ("" for none). A consumer with Tracing sees the traceparent of its own span for it.
	Trace string
}

// traceHeader is the record header of Message.Trace (W3C Trace Context's name).
var traceHeader = []byte("traceparent")

// sarama records its clients' metrics (go-metrics histograms and meters, about 1 % of the
// platform's CPU at load in a profile) into registries that nothing reads: the platform's Kafka
// figures are its own Prometheus metrics. Set before any client exists, so never raced.
func init() { metrics.UseNilMetrics = true }

// baseConfig is the sarama configuration the platform uses for clientID, before security.
func baseConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = version
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Net.MaxOpenRequests = 1
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	// A member that dies without leaving (SIGKILL) holds its partitions until its session
	// times out: keep that short.
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 2 * time.Second
	c.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	c.Consumer.Fetch.Default = 4 << 20
	c.Consumer.MaxWaitTime = 20 * time.Millisecond
	// Batches can only be as large as what is buffered: let a busy handler catch up in
	// large batches.
	c.ChannelBufferSize = 2048
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	return c
}

// Producer publishes messages synchronously with the idempotent producer. It is safe for
// concurrent use; Publish after Close returns ErrClosed.
type Producer struct {
	mu     sync.RWMutex
	closed bool
	p      sarama.SyncProducer
}

// ErrClosed is returned by Publish on a closed producer.
var ErrClosed = errors.New("kafka producer closed")

// NewProducer connects a producer to c.
func NewProducer(c Cluster, clientID string) (*Producer, error) {
	cfg, err := c.Config(clientID)
	if err != nil {
		return nil, err
	}
	p, err := sarama.NewSyncProducer(c.Brokers, cfg)
	if err != nil {
		return nil, c.connectError("kafka producer", err)
	}
	return &Producer{p: p}, nil
}

// Publish sends msgs (Topic, Key, Value) and returns when all are acknowledged by every
// in-sync replica. Messages with the same key keep their order.
func (p *Producer) Publish(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	pms := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pms[i] = &sarama.ProducerMessage{Topic: m.Topic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)}
		if m.Trace != "" {
			pms[i].Headers = []sarama.RecordHeader{{Key: traceHeader, Value: []byte(m.Trace)}}
		}
	}
	if len(pms) == 1 {
		_, _, err := p.p.SendMessage(pms[0])
		return err
	}
	return p.p.SendMessages(pms)
}

// Close flushes and closes the producer, after the publishes in flight.
func (p *Producer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.p.Close()
}

// ErrRestart, returned (wrapped) by a BatchHandler, ends the group session instead of
// retrying the batch: the member rejoins and Assigned runs again for its partitions, so a
// handler whose in-memory state got ahead of its output can rebuild it and replay.
var ErrRestart = errors.New("restart consumer session")

// BatchHandler handles messages of one partition in offset order. Returning an error retries
// the same batch after a pause (the handler must be idempotent); returning nil marks them.
type BatchHandler func(ctx context.Context, msgs []Message) error

// Group is a consumer group membership that feeds a BatchHandler.
type Group struct {
	Cluster  Cluster
	Group    string
	Topics   []string
	Handle   BatchHandler
	MaxBatch int // default 500
	// Assigned, when set, is called for each partition assigned to this member before any of
	// its messages; a start offset >= 0 below the committed offset makes consumption replay
	// from there (sarama only moves an offset back; a handler skips what it has already seen).
	Assigned func(ctx context.Context, topic string, partition int32) (start int64, err error)
	Log      *slog.Logger
	// InstanceID, when set, makes this a static member (KIP-345, group.instance.id): a
	// process restarted with the same id replaces its predecessor at once, even one killed in
	// the middle of a join, and a static member does not leave the group when it closes.
	InstanceID string
	// Lag, when set, observes after each batch how far the partition's high-water mark is
	// ahead of the next message.
	Lag func(group, topic string, partition int32, lag int64)
	// Tracing, when on, starts a consumer span per message that has a trace (a child of its
	// traceparent), ended when its batch is handled; the handler sees the span's traceparent
	// in Message.Trace and the first message's span in its context. Off, the traces pass
	// through unchanged.
	Tracing *telemetry.Tracing
}

// Run consumes until ctx ends, rejoining after rebalances and transient errors.
func (g *Group) Run(ctx context.Context) error {
	cfg, err := g.Cluster.Config(g.Group)
	if err != nil {
		return err
	}
	cfg.Consumer.Group.InstanceId = g.InstanceID
	cg, err := sarama.NewConsumerGroup(g.Cluster.Brokers, g.Group, cfg)
	if err != nil {
		return g.Cluster.connectError("consumer group "+g.Group, err)
	}
	defer cg.Close()
	h := &groupHandler{g: g}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, g.Topics, h); err != nil && ctx.Err() == nil {
			g.log().Warn("consumer group session ended", "group", g.Group, "err", err)
			sleep(ctx, 500*time.Millisecond)
		}
	}
	return nil
}

func (g *Group) log() *slog.Logger {
	if g.Log == nil {
		return slog.Default()
	}
	return g.Log
}

type groupHandler struct{ g *Group }

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	if h.g.Assigned == nil {
		return nil
	}
	for topic, parts := range sess.Claims() {
		for _, p := range parts {
			start, err := h.g.Assigned(sess.Context(), topic, p)
			if err != nil {
				return fmt.Errorf("assign %s/%d: %w", topic, p, err)
			}
			if start >= 0 {
				sess.ResetOffset(topic, p, start, "")
			}
		}
	}
	return nil
}

func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	maxBatch := h.g.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 500
	}
	for {
		batch := make([]Message, 0, maxBatch)
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			batch = append(batch, fromSarama(m))
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case m, ok := <-claim.Messages():
				if !ok {
					break fill
				}
				batch = append(batch, fromSarama(m))
			default:
				break fill
			}
		}
		bctx, spans := h.startSpans(ctx, batch)
		for attempt := 0; ; attempt++ {
			err := h.g.Handle(bctx, batch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				endSpans(spans, err)
				return nil
			}
			if errors.Is(err, ErrRestart) {
				h.g.log().WarnContext(bctx, "handler asked for a session restart", "group", h.g.Group, "err", err)
				endSpans(spans, err)
				return err
			}
			h.g.log().ErrorContext(bctx, "handle batch", "group", h.g.Group, "topic", claim.Topic(), "partition", claim.Partition(),
				"offset", batch[0].Offset, "attempt", attempt, "err", err)
			sleep(ctx, time.Duration(min(attempt+1, 20))*100*time.Millisecond)
		}
		endSpans(spans, nil)
		last := batch[len(batch)-1]
		sess.MarkOffset(last.Topic, last.Partition, last.Offset+1, "")
		if h.g.Lag != nil {
			h.g.Lag(h.g.Group, last.Topic, last.Partition, max(claim.HighWaterMarkOffset()-last.Offset-1, 0))
		}
	}
}

func fromSarama(m *sarama.ConsumerMessage) Message {
	msg := Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		if h != nil && string(h.Key) == "traceparent" {
			msg.Trace = string(h.Value)
		}
	}
	return msg
}

// startSpans returns the context the batch is handled in (the first message's trace, so that
// the handler's logs carry it) and, when tracing is on, a consumer span per traced message,
// whose traceparent replaces the message's.
func (h *groupHandler) startSpans(ctx context.Context, batch []Message) (context.Context, []trace.Span) {
	if !h.g.Tracing.On() {
		if len(batch) > 0 {
			return telemetry.WithTraceparent(ctx, batch[0].Trace), nil
		}
		return ctx, nil
	}
	tr := h.g.Tracing.Tracer("github.com/cantondex/platform/services/kafka")
	var spans []trace.Span
	bctx := ctx
	for i := range batch {
		m := &batch[i]
		if m.Trace == "" {
			continue
		}
		sctx, span := tr.Start(telemetry.WithTraceparent(ctx, m.Trace), m.Topic+" process",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.operation.type", "process"),
				attribute.String("messaging.destination.name", m.Topic),
				attribute.String("messaging.consumer.group.name", h.g.Group),
				attribute.Int("messaging.destination.partition.id", int(m.Partition)),
				attribute.Int64("messaging.kafka.offset", m.Offset),
			))
		m.Trace = telemetry.Traceparent(sctx)
		if spans == nil {
			bctx = sctx
		}
		spans = append(spans, span)
	}
	return bctx, spans
}

func endSpans(spans []trace.Span, err error) {
	for _, s := range spans {
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, "batch not handled")
		}
		s.End()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
