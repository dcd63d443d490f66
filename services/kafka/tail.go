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
	// Started, when set, is called once every partition is being read, with the offset each
	// is read from (keyed by topic, then partition): the tail sees every record from there.
	Started func(first map[string]map[int32]int64)
}

// Run reads until ctx ends.
func (t *Tail) Run(ctx context.Context) error {
	cfg, err := t.Cluster.Config(t.ClientID)
	if err != nil {
		return err
	}
	cfg.Consumer.Return.Errors = true
	client, err := sarama.NewClient(t.Cluster.Brokers, cfg)
	if err != nil {
		return t.Cluster.connectError("tail consumer", err)
	}
	defer client.Close()
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return t.Cluster.connectError("tail consumer", err)
	}
	defer c.Close()
	first := map[string]map[int32]int64{}
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
		first[topic] = map[int32]int64{}
		for _, p := range parts {
			// The newest offset, asked explicitly, so the tail can say where it starts.
			off, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return fmt.Errorf("newest offset of %s/%d: %w", topic, p, err)
			}
			first[topic][p] = off
			pc, err := c.ConsumePartition(topic, p, off)
			if err != nil {
				return fmt.Errorf("consume %s/%d: %w", topic, p, err)
			}
			pcs = append(pcs, pc)
		}
	}
	if t.Started != nil {
		t.Started(first)
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
