package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const parentTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestTraceparentRoundTrips(t *testing.T) {
	ctx := WithTraceparent(context.Background(), parentTP)
	assert.Equal(t, parentTP, Traceparent(ctx))
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", TraceID(ctx))
	assert.Empty(t, Traceparent(context.Background()), "no trace, no header")
	bad := WithTraceparent(context.Background(), "00-zz-00f067aa0ba902b7-01")
	assert.False(t, trace.SpanContextFromContext(bad).IsValid(), "an invalid traceparent is ignored")
	assert.Equal(t, context.Background(), WithTraceparent(context.Background(), ""))
}

func TestEnsureTraceGivesAnUntracedRequestATrace(t *testing.T) {
	seed := bytes.Repeat([]byte{0xab}, 16)
	ctx := EnsureTrace(context.Background(), seed, false)
	assert.Equal(t, "abababababababababababababababab", TraceID(ctx), "the seed is the trace id")
	again := EnsureTrace(ctx, nil, false)
	assert.Equal(t, TraceID(ctx), TraceID(again), "an existing trace is kept")
	fresh := EnsureTrace(context.Background(), nil, false)
	assert.Len(t, TraceID(fresh), 32, "random without a seed")
	assert.NotEqual(t, TraceID(fresh), TraceID(EnsureTrace(context.Background(), nil, false)))
	assert.Empty(t, TraceID(EnsureTrace(context.Background(), seed, true)), "with tracing on the SDK starts the root")
}

func TestHandlerAddsTheContextsIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("service", "x").WithGroup("g")
	tp := sdktrace.NewTracerProvider()
	ctx, span := (&Tracing{Provider: tp, Enabled: true}).Tracer("t").Start(WithRequestID(context.Background(), "req-1"), "op")
	defer span.End()
	log.InfoContext(ctx, "hello", "k", "v")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	g, _ := rec["g"].(map[string]any)
	assert.Equal(t, "req-1", g["request_id"])
	assert.Equal(t, span.SpanContext().TraceID().String(), g["trace_id"])
	buf.Reset()
	log.Info("no context")
	assert.NotContains(t, buf.String(), "trace_id")
	var off *Tracing
	assert.False(t, off.On())
	_, s := off.Tracer("t").Start(context.Background(), "op")
	assert.False(t, s.IsRecording(), "off is a no-op")
}
