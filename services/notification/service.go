package notification

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
)

// Venue is what the streams read besides the events: market steps, asset scales, balances.
type Venue interface {
	Markets
	Balances
	Assets
}

// Service is one replica of the notification service: the hub, the feed reading every
// partition of trades, settlements and alerts, and the WebSocket server on its listener.
type Service struct {
	Hub      *Hub
	Feed     *Feed
	Server   *Server
	Tail     *kafka.Tail
	Listener net.Listener
	log      *slog.Logger
}

// feedShards is how many goroutines format and publish the account messages.
const feedShards = 8

// NewService builds a replica and binds its listener; Runs runs it.
func NewService(k *flow.Kafka, venue Venue, a Authenticator, cfg Config, reg *prometheus.Registry, log *slog.Logger) (*Service, error) {
	s := &Service{Hub: NewHub(HubOptions{}), log: log}
	delivered := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cantondex_stream_feed_delay_seconds",
		Help:    "Age of a record (since its Kafka log time, when the engine or settlement produced it) when its stream messages are published, by topic.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"topic"})
	poison := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cantondex_stream_undelivered_messages_total",
		Help: "Kafka messages the stream feed could not read or deliver, by topic.",
	}, []string{"topic"})
	if reg != nil {
		for _, c := range []prometheus.Collector{delivered, poison} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	s.Feed = &Feed{Hub: s.Hub, Markets: venue, Balances: venue, Assets: venue, Log: log,
		Observe: func(src string, at time.Time) {
			topic, _, _ := strings.Cut(src, "/")
			delivered.WithLabelValues(topic).Observe(time.Since(at).Seconds())
		},
		Poison: func(topic string) { poison.WithLabelValues(topic).Inc() }}
	// The account messages (order updates, fills, balances read from the ledger) are
	// formatted and published off the partitions' goroutines, on shards side by side.
	s.Feed.Pipeline(feedShards)
	var err error
	if s.Server, err = NewServer(s.Hub, a, venue, cfg.Server, log, reg); err != nil {
		return nil, err
	}
	if s.Tail, err = k.Tail([]string{topics.Trades, topics.Settlements, topics.Alerts}, s.Feed.Handle); err != nil {
		return nil, err
	}
	s.Tail.Started = func(first map[string]map[int32]int64) {
		m := map[string]int64{}
		for topic, ps := range first {
			for p, off := range ps {
				m[Source(topic, p)] = off
			}
		}
		s.Hub.Start(m)
	}
	if s.Listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if cfg.SendBuffer > 0 {
		s.Listener = sendBufferListener{Listener: s.Listener, size: cfg.SendBuffer}
	}
	return s, nil
}

// URL is the stream's WebSocket URL.
func (s *Service) URL() string { return "ws://" + s.Listener.Addr().String() + Path }

// Runs are the replica's loops: the fan-out reader, the server, and the sweep of private
// streams nobody watches.
func (s *Service) Runs() []func(context.Context) error {
	return []func(context.Context) error{
		s.Tail.Run,
		s.Feed.Run,
		func(ctx context.Context) error { return s.Server.Serve(ctx, s.Listener) },
		func(ctx context.Context) error {
			t := time.NewTicker(30 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					s.Hub.Sweep()
				}
			}
		},
	}
}
