// Package telemetry is what ties a service's logs and traces to the request or message being
// handled: the request id and the W3C trace context a context carries, a log/slog handler
// that writes them on every record logged with that context, and the OpenTelemetry tracer
// provider a binary builds from the standard OTEL_* variables (a no-op one when no OTLP
// endpoint is configured, so tracing is off by default and costs little).
//
// It depends on the OpenTelemetry API only (and the SDK for FromEnv), so that the Kafka
// adapter, order entry and the gateway can use it without importing the platform.
package telemetry

import (
	"context"
	"crypto/rand"
	"log/slog"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	traceIDKey
)

// WithRequestID returns ctx carrying a request id for logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string { s, _ := ctx.Value(requestIDKey).(string); return s }

// WithTraceID returns ctx carrying a trace id for logs, for a context that has no span (the
// span's trace id wins when it has one).
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceIDKey, id)
}

// TraceID returns the trace id of the span in ctx, else one set by WithTraceID, else "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	s, _ := ctx.Value(traceIDKey).(string)
	return s
}

// Handler wraps a slog.Handler and adds request_id and trace_id (and span_id when a span is
// recording) from the context to every record logged with one (InfoContext, ErrorContext,
// ...).
type Handler struct{ slog.Handler }

// NewHandler returns h adding the context's ids.
func NewHandler(h slog.Handler) Handler { return Handler{h} }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if id := TraceID(ctx); id != "" {
			r.AddAttrs(slog.String("trace_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(as []slog.Attr) slog.Handler { return Handler{h.Handler.WithAttrs(as)} }

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(n string) slog.Handler { return Handler{h.Handler.WithGroup(n)} }

// Propagator returns the W3C Trace Context propagator (traceparent and tracestate), the only
// format the platform speaks: on HTTP requests and in Kafka record headers.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// Inject writes ctx's trace context into carrier (nothing when ctx has none).
func Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	propagation.TraceContext{}.Inject(ctx, carrier)
}

// Extract returns ctx with the remote trace context read from carrier (ctx itself when the
// carrier has none or an invalid one).
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagation.TraceContext{}.Extract(ctx, carrier)
}

// parent is a one-value carrier of a traceparent.
type parent struct{ v string }

func (p *parent) Get(key string) string {
	if key == "traceparent" {
		return p.v
	}
	return ""
}
func (p *parent) Set(key, v string) {
	if key == "traceparent" {
		p.v = v
	}
}
func (p *parent) Keys() []string { return []string{"traceparent"} }

// Traceparent is ctx's span context as a W3C traceparent value, or "" when it has none. A
// domain message carries it (not serialised in its body) to the Kafka header of its record.
func Traceparent(ctx context.Context) string {
	var p parent
	propagation.TraceContext{}.Inject(ctx, &p)
	return p.v
}

// WithTraceparent returns ctx with the remote span context of a traceparent value (ctx itself
// for "" or an invalid one).
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, &parent{traceparent})
}

// EnsureTrace returns ctx unchanged when it carries a span context, and otherwise, when
// tracing is off (the SDK would start a root span itself), ctx with a fresh remote one whose
// trace id is seed (16 bytes, random when shorter): the id then reaches every log line and,
// through the Kafka headers, every consumer of what the request caused, with no tracer.
func EnsureTrace(ctx context.Context, seed []byte, tracing bool) context.Context {
	if tracing || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	var cfg trace.SpanContextConfig
	if len(seed) >= 16 {
		copy(cfg.TraceID[:], seed)
	} else {
		_, _ = rand.Read(cfg.TraceID[:])
	}
	_, _ = rand.Read(cfg.SpanID[:])
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(cfg))
}

// Tracing is a process's tracer provider: the SDK's when an OTLP endpoint is configured
// (platform.NewTracing), a no-op one otherwise. The zero value and nil are off.
type Tracing struct {
	Provider trace.TracerProvider
	// Enabled is true when spans are recorded and exported (EnsureTrace then leaves the root
	// to the SDK).
	Enabled bool
}

// Tracer returns the named tracer of t's provider (a no-op one when t is off).
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t == nil || t.Provider == nil {
		return noop.NewTracerProvider().Tracer(name)
	}
	return t.Provider.Tracer(name)
}

// On reports whether t records spans.
func (t *Tracing) On() bool { return t != nil && t.Enabled && t.Provider != nil }
