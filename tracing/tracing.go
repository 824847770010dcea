// Package tracing is LOKIZ's OpenTelemetry tracing: the tracer provider a
// process builds from its configuration (OTLP over HTTP, or nothing), and the
// small pieces of instrumentation the other packages share: child spans that
// follow the span already in a context, an http.RoundTripper for the clients
// of outside services, a go-redis hook and the W3C trace context that
// travels with a task.
//
// Spans start at two entry points, an HTTP request (api) and a task (worker);
// everything below them (Postgres, Redis, ffmpeg, provider calls, enqueues)
// is a child of the span in its context, made by that span's own provider.
// Work with no recording span in its context makes no span at all, so with
// tracing off (no provider: the entry points install nothing) the
// instrumentation costs a context lookup, and the hooks are not installed
// either.
//
// Attributes name operations, never values: no SQL parameters, Redis keys or
// arguments, query strings, request bodies or identities.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every span LOKIZ makes.
const ScopeName = "github.com/lokiz/lokiz"

// Config is a process's tracing configuration.
type Config struct {
	// Endpoint is the OTLP/HTTP traces URL (…/v1/traces); empty turns
	// tracing off.
	Endpoint string
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// SampleRatio is the share of new traces recorded, in [0, 1]; a trace
	// that arrives with a sampling decision (traceparent) keeps it.
	SampleRatio float64
}

// Provider is a process's tracer provider. The zero of *Provider (nil) is
// tracing off.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// Start builds the provider cfg asks for: nil when cfg.Endpoint is empty,
// otherwise one that batches spans to the OTLP/HTTP endpoint. Exporter
// settings the OpenTelemetry SDK reads itself (OTEL_EXPORTER_OTLP_HEADERS,
// …_TIMEOUT, …_COMPRESSION, …_CERTIFICATE) apply.
func Start(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return New(cfg, exp), nil
}

// New returns a provider that batches spans to exp in the background, as
// Start does with its OTLP exporter.
func New(cfg Config, exp sdktrace.SpanExporter) *Provider {
	return newProvider(cfg, sdktrace.WithBatcher(exp))
}

// NewSyncProvider returns a provider that hands every span to exp as it
// ends (tests: tracetest.NewInMemoryExporter).
func NewSyncProvider(cfg Config, exp sdktrace.SpanExporter) *Provider {
	return newProvider(cfg, sdktrace.WithSyncer(exp))
}

func newProvider(cfg Config, export sdktrace.TracerProviderOption) *Provider {
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	return &Provider{tp: sdktrace.NewTracerProvider(
		export,
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)}
}

// Tracer returns the tracer of the entry points; nil when p is nil.
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return nil
	}
	return p.tp.Tracer(ScopeName)
}

// Shutdown flushes the spans not yet exported and stops the provider; a nil
// Provider has nothing to do.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// CheckEndpoint reports whether s can be an OTLP/HTTP endpoint: an absolute
// http(s) URL with a host.
func CheckEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

// Child starts a span named name under the recording span in ctx, made by
// that span's provider. Without a recording span in ctx it makes none: it
// returns ctx and the (non-recording) span already there, whose End does
// nothing.
func Child(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(ScopeName).Start(ctx, name,
		trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// Active reports whether ctx carries a recording span (so that Child would
// make one).
func Active(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// End ends span, marking it failed with err's message when err is not nil.
func End(span trace.Span, err error) {
	if err != nil {
		Fail(span, err)
	}
	span.End()
}

// Fail marks span failed: status Error, with err's message and type.
func Fail(span trace.Span, err error) {
	span.SetStatus(codes.Error, err.Error())
	span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
}

// propagator is the W3C trace context (traceparent, tracestate): the one
// format LOKIZ reads and writes, on HTTP requests and in task headers.
var propagator = propagation.TraceContext{}

// Inject writes the trace context of ctx's span into carrier.
func Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	propagator.Inject(ctx, carrier)
}

// Extract returns ctx with the remote span context found in carrier, if any.
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagator.Extract(ctx, carrier)
}
