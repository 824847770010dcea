package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/replicate/sim"
)

// TestTracingJourney runs a real `lokiz dev` (api, asynq worker, scheduler;
// Postgres, Redis, ffmpeg; the Replicate simulator behind replicate-go) with
// its spans going to the SDK's in-memory exporter, and reads two traces back:
//
//   - an upload: the HTTP request that completes it → the enqueue of
//     video:finalize → the task's run → its Postgres statements, Redis
//     commands and ffprobe/ffmpeg runs;
//   - an AI job: the HTTP request that creates it → the enqueue of ai:run →
//     the task's run → its call to the simulator through replicate-go, which
//     receives the trace context in a traceparent header.
//
// Each is one trace whose parent links form one tree rooted at the HTTP
// server span, and no attribute holds the caller's token, e-mail or
// password.
//
// Not parallel: it shares Redis database 10 with the backup test (also
// sequential) and the account journey (which runs later, in the parallel
// phase), and empties it first so that no task of another run is served by
// this deployment.
func TestTracingJourney(t *testing.T) {
	const redisIndex = 10
	require.NoError(t, testkit.Redis(t, redisIndex).FlushDB(context.Background()).Err())

	// A simulator of our own that notes the traceparent of each request.
	s := sim.New(sim.Options{Latency: sim.Latency{Starting: 20 * time.Millisecond, Processing: 300 * time.Millisecond}})
	var mu sync.Mutex
	var parents []string
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp := r.Header.Get("traceparent"); tp != "" {
			mu.Lock()
			parents = append(parents, tp)
			mu.Unlock()
		}
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() { simSrv.Close(); _ = s.Close() })

	exp := tracetest.NewInMemoryExporter()
	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	c := runRoleTraced(t, map[string]string{
		"DATABASE_URL": dbtest.NewEmptyDB(t), "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("t", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
		"REPLICATE_API_TOKEN": "tracing", "REPLICATE_BASE_URL": simSrv.URL + "/v1",
		"AI_POLL_MIN": "100ms", "AI_POLL_MAX": "300ms",
	}, "dev", &testkit.LogBuffer{}, exp)

	token, _ := c.register("tracer")
	secrets := []string{token, "tracer@example.com", "password-tracer"}

	t.Run("upload", func(t *testing.T) {
		c.uploadVideo(token, "traced #otel")
		root := findSpan(t, exp, func(s tracetest.SpanStub) bool {
			return s.Name == "POST /v1/videos/:video_id/complete"
		})
		require.Equal(t, trace.SpanKindServer, root.SpanKind)
		// The task's span ends after the video shows completed.
		var spans []tracetest.SpanStub
		require.Eventually(t, func() bool {
			spans = traceOf(exp, root.SpanContext.TraceID())
			return hasSpan(spans, func(s tracetest.SpanStub) bool { return s.Name == "process video:finalize" })
		}, 30*time.Second, 50*time.Millisecond, "no finalize span in the trace: %v", names(spans))
		requireTree(t, spans, root)
		requireClean(t, spans, secrets)

		consumer := onlySpan(t, spans, "process video:finalize")
		require.Equal(t, trace.SpanKindConsumer, consumer.SpanKind)
		require.Equal(t, codes.Unset, consumer.Status.Code, "the task succeeded")
		require.Equal(t, "media", attr(consumer, "messaging.destination.name"))
		require.Equal(t, "asynq", attr(consumer, "messaging.system"))
		producer := onlySpan(t, spans, "send video:finalize")
		require.Equal(t, trace.SpanKindProducer, producer.SpanKind)
		require.Equal(t, producer.SpanContext.SpanID(), consumer.Parent.SpanID(), "the task continues its enqueue")
		require.Equal(t, root.SpanContext.SpanID(), producer.Parent.SpanID(), "the request enqueued it")
		require.Equal(t, "202", fmt.Sprint(attr(root, "http.response.status_code")))

		under := descendants(spans, consumer)
		require.True(t, hasSpan(under, func(s tracetest.SpanStub) bool {
			return attr(s, "db.system.name") == "postgresql" && strings.Contains(fmt.Sprint(attr(s, "db.query.text")), "$1")
		}), "the task's statements, with placeholders: %v", names(under))
		require.True(t, hasSpan(under, func(s tracetest.SpanStub) bool { return s.Name == "ffprobe" }), "%v", names(under))
		require.True(t, hasSpan(under, func(s tracetest.SpanStub) bool { return s.Name == "ffmpeg" }), "%v", names(under))
		require.True(t, hasSpan(spans, func(s tracetest.SpanStub) bool {
			return attr(s, "db.system.name") == "redis" && s.SpanKind == trace.SpanKindClient
		}), "the enqueue's Redis command: %v", names(spans))
	})

	t.Run("ai job", func(t *testing.T) {
		status, job := c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "traced beat", "duration": 2})
		require.Equal(t, http.StatusAccepted, status, "%v", job)
		job = c.waitJob(token, job["id"].(string))
		require.Equal(t, "completed", job["status"], "%v; logs:\n%s", job, c.logs)

		root := findSpan(t, exp, func(s tracetest.SpanStub) bool { return s.Name == "POST /v1/ai/music" })
		var spans []tracetest.SpanStub
		var create tracetest.SpanStub
		require.Eventually(t, func() bool {
			spans = traceOf(exp, root.SpanContext.TraceID())
			for _, s := range spans {
				if s.SpanKind == trace.SpanKindClient && attr(s, "http.request.method") == "POST" &&
					strings.HasPrefix(fmt.Sprint(attr(s, "url.full")), simSrv.URL) {
					create = s
					return true
				}
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "no call to the simulator in the trace: %v", names(spans))
		requireTree(t, spans, root)
		requireClean(t, spans, secrets)

		run := onlySpan(t, spans, "process ai:run")
		require.Contains(t, ancestors(spans, create), run.SpanContext.SpanID(), "ai:run made the prediction")
		require.Equal(t, "201", fmt.Sprint(attr(create, "http.response.status_code")))
		require.Equal(t, onlySpan(t, spans, "send ai:run").SpanContext.SpanID(), run.Parent.SpanID())

		// The simulator heard the same trace, with the client span as parent.
		want := fmt.Sprintf("00-%s-%s-01", create.SpanContext.TraceID(), create.SpanContext.SpanID())
		mu.Lock()
		defer mu.Unlock()
		require.Contains(t, parents, want)
	})
}

// findSpan waits for a span that match accepts and returns it.
func findSpan(t *testing.T, exp *tracetest.InMemoryExporter, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	var found tracetest.SpanStub
	require.Eventually(t, func() bool {
		for _, s := range exp.GetSpans() {
			if match(s) {
				found = s
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	return found
}

func traceOf(exp *tracetest.InMemoryExporter, id trace.TraceID) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

func hasSpan(spans []tracetest.SpanStub, match func(tracetest.SpanStub) bool) bool {
	return slices.ContainsFunc(spans, match)
}

func onlySpan(t *testing.T, spans []tracetest.SpanStub, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q in %v", name, names(spans))
	return found[0]
}

func names(spans []tracetest.SpanStub) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) any {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsInterface()
		}
	}
	return nil
}

// requireTree checks that spans form one tree rooted at root: root has no
// parent, and every other span's parent is a span of the set.
func requireTree(t *testing.T, spans []tracetest.SpanStub, root tracetest.SpanStub) {
	t.Helper()
	require.False(t, root.Parent.IsValid(), "the server span is the root")
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID()] = true
	}
	for _, s := range spans {
		if s.SpanContext.SpanID() == root.SpanContext.SpanID() {
			continue
		}
		require.True(t, ids[s.Parent.SpanID()], "span %q has a parent outside the trace", s.Name)
		require.Contains(t, ancestors(spans, s), root.SpanContext.SpanID(), "span %q is under the root", s.Name)
	}
}

// ancestors lists the span ids above s.
func ancestors(spans []tracetest.SpanStub, s tracetest.SpanStub) []trace.SpanID {
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, x := range spans {
		byID[x.SpanContext.SpanID()] = x
	}
	var out []trace.SpanID
	for p := s.Parent; p.IsValid() && len(out) <= len(spans); {
		out = append(out, p.SpanID())
		next, ok := byID[p.SpanID()]
		if !ok {
			break
		}
		p = next.Parent
	}
	return out
}

// descendants are the spans below s.
func descendants(spans []tracetest.SpanStub, s tracetest.SpanStub) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, x := range spans {
		if slices.Contains(ancestors(spans, x), s.SpanContext.SpanID()) {
			out = append(out, x)
		}
	}
	return out
}

// requireClean checks that no span name, attribute or event holds one of
// secrets.
func requireClean(t *testing.T, spans []tracetest.SpanStub, secrets []string) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Value.String())
		}
		for _, e := range s.Events {
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				require.NotContains(t, text, secret, "span %q", s.Name)
			}
		}
	}
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
