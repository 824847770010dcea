package tracing

import (
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Transport wraps base (nil: http.DefaultTransport) so that each request
// made under a recording span gets a client span, and carries its trace
// context to the server in a traceparent header. The span covers the round
// trip up to the response's headers; reading the body is the caller's time.
// Its attributes are the method, the URL without query or credentials, the
// server and the status; a status of 400 or more marks the span failed.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base}
}

// Client returns a copy of c (nil: a zero http.Client) whose transport is
// wrapped by Transport.
func Client(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	cc.Transport = Transport(cc.Transport)
	return &cc
}

type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !Active(ctx) {
		return t.base.RoundTrip(req)
	}
	ctx, span := Child(ctx, req.Method, trace.SpanKindClient,
		attribute.String("http.request.method", req.Method),
		attribute.String("url.full", safeURL(req.URL)),
		attribute.String("server.address", req.URL.Hostname()),
	)
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			span.SetAttributes(attribute.Int("server.port", n))
		}
	}
	// RoundTrip must not change the caller's request: the header goes on a
	// clone.
	req = req.Clone(ctx)
	Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		End(span, err)
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
	}
	span.End()
	return resp, nil
}

// safeURL is u without user info, query and fragment: those can carry
// credentials and signatures (presigned URLs).
func safeURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return v.String()
}
