package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/IBM/sarama"
)

// Tail reads every partition of its topics by manual assignment, from the newest offset, with
// no consumer group and no offset commits: each process sees every message published after it
// started. It is the fan-out reader of a service whose replicas all need every event (the
// notification service delivers to its own connections), where a group would split them.
type Tail struct {
	Cluster  Cluster
	ClientID string
	Topics   []string
	// Handle gets messages of one partition in offset order. An error is logged with the
	// batch's position and the batch is not retried: a tail has no durable effect to redo.
	Handle   BatchHandler
	MaxBatch int // default 500
	Log      *slog.Logger
	// Started, when set, is called once every partition is being read.
	Started func()
}

// Run reads until ctx ends.
func (t *Tail) Run(ctx context.Context) error {
	cfg, err := t.Cluster.Config(t.ClientID)
	if err != nil {
		return err
	}
	cfg.Consumer.Return.Errors = true
	c, err := sarama.NewConsumer(t.Cluster.Brokers, cfg)
	if err != nil {
		return t.Cluster.connectError("tail consumer", err)
	}
	defer c.Close()
	var pcs []sarama.PartitionConsumer
	defer func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
	}()
	for _, topic := range t.Topics {
		parts, err := c.Partitions(topic)
		if err != nil {
			return fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			pc, err := c.ConsumePartition(topic, p, sarama.OffsetNewest)
			if err != nil {
				return fmt.Errorf("consume %s/%d: %w", topic, p, err)
			}
			pcs = append(pcs, pc)
		}
	}
	if t.Started != nil {
		t.Started()
	}
	maxBatch := t.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 500
	}
	var wg sync.WaitGroup
	for _, pc := range pcs {
		wg.Go(func() { t.partition(ctx, pc, maxBatch) })
	}
	wg.Wait()
	return nil
}

func (t *Tail) log() *slog.Logger {
	if t.Log == nil {
		return slog.Default()
	}
	return t.Log
}

func (t *Tail) partition(ctx context.Context, pc sarama.PartitionConsumer, maxBatch int) {
	for {
		batch := make([]Message, 0, 16)
		select {
		case <-ctx.Done():
			return
		case err, ok := <-pc.Errors():
			if ok {
				t.log().Warn("tail consumer", "topic", err.Topic, "partition", err.Partition, "err", err.Err)
			}
			continue
		case m, ok := <-pc.Messages():
			if !ok {
				return
			}
			batch = append(batch, fromSarama(m))
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case m, ok := <-pc.Messages():
				if !ok {
					break fill
				}
				batch = append(batch, fromSarama(m))
			default:
				break fill
			}
		}
		if err := t.Handle(ctx, batch); err != nil && ctx.Err() == nil {
			t.log().Error("tail handler", "topic", batch[0].Topic, "partition", batch[0].Partition,
				"offset", batch[0].Offset, "messages", len(batch), "err", err)
		}
	}
}
