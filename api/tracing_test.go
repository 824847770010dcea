package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tracing"
)

// TestTraceRequests: with a tracer, a request runs in a server span named
// for its route, the root of its trace, with its Postgres statement and
// Redis command as children; a caller's traceparent is a link, not the
// parent.
func TestTraceRequests(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	p := tracing.NewSyncProvider(tracing.Config{ServiceName: "api-test", SampleRatio: 1}, exp)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	e := newTracedEnv(t, p)
	_, owner := e.register("tracedview")
	id := e.video(owner, dbtest.VideoOpts{})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	exp.Reset()

	caller := "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01"
	req, _ := http.NewRequest("POST", srv.URL+"/v1/videos/"+id+"/view", strings.NewReader(`{"source":"feed"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", caller)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	spans := exp.GetSpans()
	var root tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			root = s
		}
	}
	require.Equal(t, "POST /v1/videos/:video_id/view", root.Name)
	require.False(t, root.Parent.IsValid(), "the caller's context is not the parent")
	require.NotEqual(t, "0102030405060708090a0b0c0d0e0f10", root.SpanContext.TraceID().String())
	require.Len(t, root.Links, 1)
	require.Equal(t, "0102030405060708", root.Links[0].SpanContext.SpanID().String())
	attrs := map[string]string{}
	for _, kv := range root.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	require.Equal(t, "/v1/videos/:video_id/view", attrs["http.route"])
	require.Equal(t, "200", attrs["http.response.status_code"])
	systems := map[string]bool{}
	for _, s := range spans {
		if s.SpanContext.SpanID() == root.SpanContext.SpanID() {
			continue
		}
		require.Equal(t, root.SpanContext.TraceID(), s.SpanContext.TraceID(), "span %q", s.Name)
		require.Equal(t, root.SpanContext.SpanID(), s.Parent.SpanID(), "span %q", s.Name)
		for _, kv := range s.Attributes {
			if kv.Key == "db.system.name" {
				systems[kv.Value.AsString()] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"postgresql": true, "redis": true}, systems, "%d spans", len(spans))

}
