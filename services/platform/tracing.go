package platform

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/cantondex/platform/services/platform/telemetry"
)

// NewTracing returns the process's tracing: off (a no-op provider, nothing exported) unless
// c.OTLPEndpoint is set, else the SDK batching spans to that OTLP/HTTP collector, sampled by
// the SDK's OTEL_TRACES_SAMPLER (default: parent-based, always on). The function returned
// flushes and stops the exporter (call it at exit with a bounded context).
func NewTracing(ctx context.Context, c Config) (*telemetry.Tracing, func(context.Context) error, error) {
	if c.OTLPEndpoint == "" {
		return &telemetry.Tracing{}, func(context.Context) error { return nil }, nil
	}
	url := c.OTLPEndpoint
	if !c.OTLPTracesURL {
		url = strings.TrimSuffix(url, "/") + "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", c.Service))),
	)
	return &telemetry.Tracing{Provider: tp, Enabled: true}, tp.Shutdown, nil
}

// StartTracing is NewTracing for a binary's main: the function returned flushes the spans
// still buffered (for at most five seconds) and logs a failure to.
func StartTracing(ctx context.Context, c Config, log *slog.Logger) (*telemetry.Tracing, func(), error) {
	t, shutdown, err := NewTracing(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if t.On() {
		log.Info("tracing on", "otlp", c.OTLPEndpoint)
		// The SDK reports export failures through OpenTelemetry's process-wide handler (by
		// default a text line on stderr): route them to the service's JSON log instead.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("export spans", "err", err) }))
	}
	return t, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	}, nil
}
