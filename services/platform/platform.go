// Package platform is the code every service binary shares: typed configuration read once
// from the environment (the endpoints its catalog entry needs), a log/slog logger that
// carries request and trace ids from the context, a Prometheus registry, the /health, /ready
// and /metrics endpoints of the operations listener, and a signal context for graceful
// shutdown.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
)

// Config is a binary's process settings and the endpoints of the dependencies its catalog
// entry needs, read once in main. A production binary's config requires every endpoint its
// entry names (LoadConfig); only cmd/cantondex reads them as optional (LoadLocalConfig) and
// decides itself what to embed for the empty ones.
type Config struct {
	Service   string
	OpsAddr   string // OPS_ADDR: /health, /ready and /metrics (default :9090; local 127.0.0.1:9090)
	LogLevel  slog.Level
	LogFormat string // LOG_FORMAT: json (default) or text
	// KafkaInstanceID (KAFKA_GROUP_INSTANCE_ID) makes the service a static member of its
	// consumer groups (KIP-345): a restarted process with the same id takes over its
	// predecessor's partitions at once, whatever state the predecessor died in, instead of
	// waiting for its session to expire. One id per replica: a StatefulSet pod name.
	KafkaInstanceID string
	// OTLPEndpoint is OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, a
	// full URL): the OTLP/HTTP collector spans are exported to. Empty: tracing off (no-op).
	OTLPEndpoint string
	// OTLPTracesURL is true when OTLPEndpoint is the traces URL itself (the _TRACES_ variable).
	OTLPTracesURL bool

	// Postgres is DATABASE_URL, DB_MAX_CONNS, DB_TLS_CA_FILE, DB_AUTH, AWS_REGION,
	// DB_SECRET_JSON (postgres.OptionsFromEnv).
	Postgres postgres.Options
	// Kafka is KAFKA_BROKERS (comma separated) and the TLS/SASL settings (kafka.ClusterFromEnv).
	Kafka kafka.Cluster
	// Redis is REDIS_URL, REDIS_CLUSTER, REDIS_AUTH_TOKEN, REDIS_TLS_CA_FILE and REDIS_PREFIX
	// (default "cdx", the same in every binary) (redis.OptionsFromEnv).
	Redis redis.Options
}

// LoadConfig reads the configuration of the production binary described by entry through
// getenv (os.Getenv in main) and requires DATABASE_URL, KAFKA_BROKERS and REDIS_URL as the
// entry needs them: a missing one is an error naming it, before anything connects.
func LoadConfig(entry catalog.Service, getenv func(string) string) (Config, error) {
	c, err := load(entry.Name, ":9090", getenv)
	if err != nil {
		return c, err
	}
	need := func(name, v string, needed bool, what string) error {
		if needed && v == "" {
			return fmt.Errorf("%s must be set: %s needs %s and never falls back to an embedded one", name, entry.Name, what)
		}
		return nil
	}
	return c, errors.Join(
		need("DATABASE_URL", c.Postgres.URL, entry.Database != "", "PostgreSQL (database "+entry.Database+")"),
		need("KAFKA_BROKERS", strings.Join(c.Kafka.Brokers, ","), entry.Kafka(), "Kafka"),
		need("REDIS_URL", c.Redis.URL, entry.Redis, "Redis"),
	)
}

// LoadLocalConfig reads the configuration of a local all-in-one binary: every endpoint is
// optional and the operations address defaults to loopback.
func LoadLocalConfig(service string, getenv func(string) string) (Config, error) {
	return load(service, "127.0.0.1:9090", getenv)
}

func load(service, opsAddr string, getenv func(string) string) (Config, error) {
	c := Config{
		Service:   service,
		OpsAddr:   getenv("OPS_ADDR"),
		LogFormat: getenv("LOG_FORMAT"),

		KafkaInstanceID: getenv("KAFKA_GROUP_INSTANCE_ID"),
		OTLPEndpoint:    getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
	}
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		c.OTLPEndpoint, c.OTLPTracesURL = v, true
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		c.OTLPEndpoint, c.OTLPTracesURL = "", false
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q: want an http:// or https:// URL of an OTLP/HTTP collector", c.OTLPEndpoint)
		}
	}
	if !validInstanceID(c.KafkaInstanceID) {
		return c, fmt.Errorf("KAFKA_GROUP_INSTANCE_ID %q: want at most 249 of a-z A-Z 0-9 . _ -", c.KafkaInstanceID)
	}
	var err error
	if c.Kafka, err = kafka.ClusterFromEnv(getenv); err != nil {
		return c, err
	}
	if c.Postgres, err = postgres.OptionsFromEnv(getenv); err != nil {
		return c, err
	}
	if c.Redis, err = redis.OptionsFromEnv(getenv); err != nil {
		return c, err
	}
	if c.OpsAddr == "" {
		c.OpsAddr = opsAddr
	}
	if _, _, err := net.SplitHostPort(c.OpsAddr); err != nil {
		return c, fmt.Errorf("OPS_ADDR %q: want host:port (:9090 for all interfaces)", c.OpsAddr)
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("LOG_FORMAT %q: want json or text", c.LogFormat)
	}
	if lv := getenv("LOG_LEVEL"); lv != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lv)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", lv)
		}
	}
	return c, nil
}

// validInstanceID reports whether id is empty or a legal Kafka group.instance.id (the
// broker's rule for topic names: at most 249 of letters, digits, '.', '_' and '-').
func validInstanceID(id string) bool {
	if len(id) > 249 || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// WithRequestID returns ctx carrying a request id for logs (telemetry.WithRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return telemetry.WithRequestID(ctx, id)
}

// WithTraceID returns ctx carrying a trace id for logs, for a context without a span
// (telemetry.WithTraceID).
func WithTraceID(ctx context.Context, id string) context.Context {
	return telemetry.WithTraceID(ctx, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string { return telemetry.RequestID(ctx) }

// NewLogger returns the service logger writing to stderr: JSON unless LOG_FORMAT=text, with
// the request id and trace id of the context on every record logged with one.
func NewLogger(c Config) *slog.Logger { return NewLoggerTo(os.Stderr, c) }

// NewLoggerTo is NewLogger writing to w.
func NewLoggerTo(w io.Writer, c Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.NewHandler(h)).With("service", c.Service)
}

// NewRegistry returns a Prometheus registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Check is one readiness check.
type Check func(ctx context.Context) error

// Handler serves /health (the process is alive), /ready (every check passes) and /metrics.
func Handler(reg *prometheus.Registry, ready Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"not ready"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// SignalContext returns a context cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// EnvInt reads the integer variable name through getenv: def when unset, an error naming
// the variable and the range when it is not an integer from lo to hi.
func EnvInt(getenv func(string) string, name string, def, lo, hi int64) (int64, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s %q: want an integer from %d to %d", name, v, lo, hi)
	}
	return n, nil
}
