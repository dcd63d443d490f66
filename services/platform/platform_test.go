package platform

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/platform/telemetry"

	"github.com/cantondex/platform/services/catalog"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	entry := catalog.MustLookup(catalog.MatchingEngine)
	full := map[string]string{"DATABASE_URL": "postgres://db/trading", "KAFKA_BROKERS": " a:9092, b:9092 ,", "REDIS_URL": "rediss://cache:6379",
		"DB_MAX_CONNS": "4", "LOG_LEVEL": "debug", "KAFKA_GROUP_INSTANCE_ID": "matching-engine-0"}
	c, err := LoadConfig(entry, env(full))
	require.NoError(t, err)
	assert.Equal(t, []string{"a:9092", "b:9092"}, c.Kafka.Brokers)
	assert.Equal(t, int32(4), c.Postgres.MaxConns)
	assert.Equal(t, slog.LevelDebug, c.LogLevel)
	assert.Equal(t, ":9090", c.OpsAddr, "a pod's operations listener is on all interfaces")
	assert.Equal(t, "cdx", c.Redis.Prefix)
	assert.Equal(t, "matching-engine-0", c.KafkaInstanceID)

	for _, bad := range []map[string]string{{"DB_MAX_CONNS": "0"}, {"DB_MAX_CONNS": "x"}, {"LOG_LEVEL": "loud"}, {"LOG_FORMAT": "xml"},
		{"KAFKA_GROUP_INSTANCE_ID": "pod 0"}, {"KAFKA_GROUP_INSTANCE_ID": ".."}, {"KAFKA_GROUP_INSTANCE_ID": strings.Repeat("x", 250)}, {"OPS_ADDR": "9090"}} {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for k, v := range bad {
			m[k] = v
		}
		_, err := LoadConfig(entry, env(m))
		for k := range bad {
			assert.ErrorContains(t, err, k, "%v", bad)
		}
	}
}

// A production binary's configuration requires every endpoint its catalog entry needs and
// names the missing one; it never falls back to an embedded default.
func TestLoadConfigRequiresWhatTheCatalogNeeds(t *testing.T) {
	full := map[string]string{"DATABASE_URL": "postgres://db/trading", "KAFKA_BROKERS": "a:9092", "REDIS_URL": "redis://cache:6379"}
	for _, name := range []string{catalog.APIGateway, catalog.MatchingEngine, catalog.SettlementCoordinator, catalog.RiskManagement} {
		entry := catalog.MustLookup(name)
		needs := map[string]bool{"DATABASE_URL": entry.Database != "", "KAFKA_BROKERS": entry.Kafka(), "REDIS_URL": entry.Redis}
		for missing, needed := range needs {
			m := map[string]string{}
			for k, v := range full {
				if k != missing {
					m[k] = v
				}
			}
			_, err := LoadConfig(entry, env(m))
			if needed {
				assert.ErrorContains(t, err, missing+" must be set", "%s without %s", name, missing)
			} else {
				assert.NoError(t, err, "%s does not need %s", name, missing)
			}
		}
	}
	// The local binary requires nothing and stays on loopback.
	c, err := LoadLocalConfig("cantondex", env(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9090", c.OpsAddr)
}

func TestLoggerCarriesRequestAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := NewLoggerTo(&buf, Config{Service: "x", LogFormat: "json"}).With("k", "v")
	ctx := WithTraceID(WithRequestID(context.Background(), "req-1"), "trace-9")
	log.InfoContext(ctx, "hello")
	s := buf.String()
	assert.Contains(t, s, `"request_id":"req-1"`, "log line")
	assert.Contains(t, s, `"trace_id":"trace-9"`, "log line")
	assert.Contains(t, s, `"service":"x"`, "log line")

	// A span's trace id (a W3C traceparent from a request or a Kafka header) wins.
	buf.Reset()
	ctx = telemetry.WithTraceparent(ctx, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	log.WarnContext(ctx, "again")
	assert.Contains(t, buf.String(), `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`)
	assert.Contains(t, buf.String(), `"request_id":"req-1"`)
}

func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	c, err := LoadLocalConfig("x", env(nil))
	require.NoError(t, err)
	tr, stop, err := NewTracing(context.Background(), c)
	require.NoError(t, err)
	assert.False(t, tr.On())
	require.NoError(t, stop(context.Background()))

	c, err = LoadLocalConfig("x", env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}))
	require.NoError(t, err)
	assert.Equal(t, "http://collector:4318", c.OTLPEndpoint)
	tr, stop, err = NewTracing(context.Background(), c)
	require.NoError(t, err)
	assert.True(t, tr.On())
	require.NoError(t, stop(context.Background()))

	c, err = LoadLocalConfig("x", env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}))
	require.NoError(t, err)
	assert.Empty(t, c.OTLPEndpoint, "OTEL_SDK_DISABLED turns it off")

	_, err = LoadLocalConfig("x", env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}))
	assert.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_ENDPOINT")
}

func TestHealthAndReady(t *testing.T) {
	var failing error
	h := Handler(NewRegistry(), func(context.Context) error { return failing })
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	require.Equal(t, http.StatusOK, get("/health"), "healthy service not answering 200 on /health")
	require.Equal(t, http.StatusOK, get("/ready"), "healthy service not answering 200 on /ready")
	require.Equal(t, http.StatusOK, get("/metrics"), "healthy service not answering 200 on /metrics")
	failing = errors.New("db down")
	assert.Equal(t, http.StatusServiceUnavailable, get("/ready"), "readiness must follow the check")
	assert.Equal(t, http.StatusOK, get("/health"), "liveness must not follow the check")
}
