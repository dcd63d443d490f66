package flow

import (
	"context"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/kafka"
)

// Tail returns a fan-out reader of ts (every partition, manual assignment, no group), refused
// unless the entry lists each topic with no group (catalog.Consume.Group "").
func (k *Kafka) Tail(ts []string, h kafka.BatchHandler) (*kafka.Tail, error) {
	if err := k.Entry.CheckConsume("", ts...); err != nil {
		return nil, err
	}
	k.mu.Lock()
	for _, t := range ts {
		k.consume[catalog.Consume{Topic: t}] = true
		k.metrics.registered(k.Entry.Name, "consume", t, "")
	}
	k.mu.Unlock()
	return &kafka.Tail{Cluster: k.Cluster, ClientID: k.Entry.Name, Topics: ts, Log: k.Log,
		Handle: func(ctx context.Context, msgs []kafka.Message) error { return h(ctx, msgs) }}, nil
}
