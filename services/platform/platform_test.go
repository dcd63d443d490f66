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
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig("svc", env(map[string]string{"KAFKA_BROKERS": " a:9092, b:9092 ,", "DB_MAX_CONNS": "4", "LOG_LEVEL": "debug", "KAFKA_GROUP_INSTANCE_ID": "matching-engine-0"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.KafkaBrokers) != 2 || c.KafkaBrokers[1] != "b:9092" || c.DBMaxConns != 4 || c.LogLevel != slog.LevelDebug || c.HTTPAddr != ":8080" || c.KafkaInstanceID != "matching-engine-0" {
		t.Fatalf("config %+v", c)
	}
	for _, bad := range []map[string]string{{"DB_MAX_CONNS": "0"}, {"DB_MAX_CONNS": "x"}, {"LOG_LEVEL": "loud"}, {"LOG_FORMAT": "xml"},
		{"KAFKA_GROUP_INSTANCE_ID": "pod 0"}, {"KAFKA_GROUP_INSTANCE_ID": ".."}, {"KAFKA_GROUP_INSTANCE_ID": strings.Repeat("x", 250)}} {
		if _, err := LoadConfig("svc", env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestLoggerCarriesRequestAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(ctxHandler{slog.NewJSONHandler(&buf, nil)}).With("service", "x")
	ctx := WithTraceID(WithRequestID(context.Background(), "req-1"), "trace-9")
	log.InfoContext(ctx, "hello")
	if s := buf.String(); !strings.Contains(s, `"request_id":"req-1"`) || !strings.Contains(s, `"trace_id":"trace-9"`) {
		t.Fatalf("log line %s", s)
	}
}

func TestHealthAndReady(t *testing.T) {
	var failing error
	h := Handler(NewRegistry(), func(context.Context) error { return failing })
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if get("/health") != 200 || get("/ready") != 200 || get("/metrics") != 200 {
		t.Fatal("healthy service not answering 200")
	}
	failing = errors.New("db down")
	if get("/ready") != http.StatusServiceUnavailable || get("/health") != 200 {
		t.Fatal("readiness must follow the check, liveness not")
	}
}
