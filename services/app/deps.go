package app

import (
	"context"
	"strings"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/topics"
)

// Deps are what a separate service binary connects to: PostgreSQL (migrated), the Kafka
// brokers (topics ensured) and a producer named after the service.
type Deps struct {
	DB       *postgres.DB
	Store    *postgres.Store
	Kafka    kafka.Cluster
	Producer *kafka.Producer
}

// OpenDeps connects a separate service binary. Unlike Start it has no embedded defaults:
// DATABASE_URL and KAFKA_BROKERS must be set.
func OpenDeps(ctx context.Context, c platform.Config, name string) (*Deps, error) {
	if err := platform.Require("DATABASE_URL", c.DatabaseURL, "KAFKA_BROKERS", strings.Join(c.KafkaBrokers, ",")); err != nil {
		return nil, err
	}
	kc := kafka.Cluster{Brokers: c.KafkaBrokers}
	db, err := postgres.Open(ctx, c.DatabaseURL, c.DBMaxConns)
	if err != nil {
		return nil, err
	}
	if err := kafka.EnsureTopics(ctx, kc, topics.All()); err != nil {
		db.Close()
		return nil, err
	}
	prod, err := kafka.NewProducer(kc, name)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Deps{DB: db, Store: postgres.NewStore(db), Kafka: kc, Producer: prod}, nil
}

// Close releases the producer and the pool.
func (d *Deps) Close() {
	_ = d.Producer.Close()
	d.DB.Close()
}
