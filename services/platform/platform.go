// Package platform is the code every service binary shares: typed configuration read once
// from the environment, a log/slog logger that carries request and trace ids from the
// context, a Prometheus registry, the /health, /ready and /metrics endpoints, and a signal
// context for graceful shutdown.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what every service reads from the environment. Empty endpoints select the
// embedded defaults (in-memory store, in-process Kafka broker, in-process Redis).
type Config struct {
	Service      string
	DatabaseURL  string   // DATABASE_URL
	KafkaBrokers []string // KAFKA_BROKERS, comma separated
	RedisURL     string   // REDIS_URL
	HTTPAddr     string   // HTTP_ADDR, default :8080 (health, ready, metrics)
	LogLevel     slog.Level
	LogFormat    string // LOG_FORMAT: json (default) or text
	DBMaxConns   int32  // DB_MAX_CONNS, default 16
	// KafkaInstanceID (KAFKA_GROUP_INSTANCE_ID) makes the service a static member of its
	// consumer groups (KIP-345): a restarted process with the same id takes over its
	// predecessor's partitions at once, whatever state the predecessor died in, instead of
	// waiting for its session to expire. One id per replica: a StatefulSet pod name.
	KafkaInstanceID string
}

// LoadConfig reads the environment through getenv (os.Getenv in main) for service name.
func LoadConfig(service string, getenv func(string) string) (Config, error) {
	c := Config{
		Service:     service,
		DatabaseURL: getenv("DATABASE_URL"),
		RedisURL:    getenv("REDIS_URL"),
		HTTPAddr:    getenv("HTTP_ADDR"),
		LogFormat:   getenv("LOG_FORMAT"),
		DBMaxConns:  16,

		KafkaInstanceID: getenv("KAFKA_GROUP_INSTANCE_ID"),
	}
	if !validInstanceID(c.KafkaInstanceID) {
		return c, fmt.Errorf("KAFKA_GROUP_INSTANCE_ID %q: want at most 249 of a-z A-Z 0-9 . _ -", c.KafkaInstanceID)
	}
	for _, b := range strings.Split(getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.KafkaBrokers = append(c.KafkaBrokers, b)
		}
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("LOG_FORMAT %q: want json or text", c.LogFormat)
	}
	if lv := getenv("LOG_LEVEL"); lv != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lv)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL %q: %w", lv, err)
		}
	}
	if v := getenv("DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return c, fmt.Errorf("DB_MAX_CONNS %q: want 1 to 1000", v)
		}
		c.DBMaxConns = int32(n)
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

type ctxKey int

const (
	requestIDKey ctxKey = iota
	traceIDKey
)

// WithRequestID returns ctx carrying a request id for logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// WithTraceID returns ctx carrying a trace id for logs.
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceIDKey, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string { s, _ := ctx.Value(requestIDKey).(string); return s }

// ctxHandler adds request_id and trace_id from the context to every record.
type ctxHandler struct{ slog.Handler }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	if id, ok := ctx.Value(traceIDKey).(string); ok {
		r.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ctxHandler{h.Handler.WithAttrs(as)}
}
func (h ctxHandler) WithGroup(n string) slog.Handler { return ctxHandler{h.Handler.WithGroup(n)} }

// NewLogger returns the service logger writing to stderr.
func NewLogger(c Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
	if c.LogFormat == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	return slog.New(ctxHandler{h}).With("service", c.Service)
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

// Serve runs an HTTP server on addr until ctx ends, then shuts it down gracefully.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// SignalContext returns a context cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
