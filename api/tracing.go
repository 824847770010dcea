package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/tracing"
)

// traceRequests runs each request in a server span named for its route
// ("POST /v1/videos/:id/complete"): the root of the request's trace, and the
// parent of everything the request does (queries, Redis commands,
// enqueues). The api faces the internet, so a caller's traceparent does not
// become the parent (a client could otherwise force sampling or join our
// traces): it is kept as a link. Attributes are the method, the route
// template and the status; never the path's values, the query or the
// caller.
func traceRequests(tracer trace.Tracer) gin.HandlerFunc {
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		method := c.Request.Method
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithNewRoot(),
			trace.WithAttributes(
				attribute.String("http.request.method", method),
				attribute.String("http.route", route),
				attribute.String("url.scheme", scheme(c.Request)),
			),
		}
		if remote := trace.SpanContextFromContext(tracing.Extract(c.Request.Context(),
			propagation.HeaderCarrier(c.Request.Header))); remote.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: remote}))
		}
		ctx, span := tracer.Start(c.Request.Context(), method+" "+route, opts...)
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		st := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", st))
		if st >= 500 {
			span.SetStatus(codes.Error, http.StatusText(st))
		}
	}
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// traceID is the id of the request's trace, or "" when it is not traced.
func traceID(c *gin.Context) string {
	if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
