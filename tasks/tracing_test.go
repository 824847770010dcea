package tasks_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/tracing"
)

// TestEnqueueTraceContext: under a recording span, Enqueue makes a producer
// span and the queued task carries its trace context in its headers, with
// the same TaskID and payload as without; a second enqueue of the same task
// is a duplicate, not a failure. Without a span, nothing is added.
func TestEnqueueTraceContext(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		client  *tasks.Client
		queue   string
		inspect *asynq.Inspector
		exp     *tracetest.InMemoryExporter
		tracer  trace.Tracer
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		rdb := newRedis(t)
		exp := tracetest.NewInMemoryExporter()
		p := tracing.NewSyncProvider(tracing.Config{ServiceName: "tasks-test", SampleRatio: 1}, exp)
		t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		return &testBundle{
			client:  tasks.NewClient(asynq.NewClientFromRedisClient(rdb)),
			queue:   uniqueQueue(t, rdb),
			inspect: asynq.NewInspectorFromRedisClient(rdb),
			exp:     exp,
			tracer:  p.Tracer(),
		}
	}

	t.Run("CarriedInHeaders", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		videoID := uuid.New()
		ctx, parent := b.tracer.Start(context.Background(), "request")
		require.NoError(t, b.client.Enqueue(ctx, tasks.NewVideoFinalizeTask(videoID), asynq.Queue(b.queue)))
		require.NoError(t, b.client.Enqueue(ctx, tasks.NewVideoFinalizeTask(videoID), asynq.Queue(b.queue)), "a duplicate is success")
		parent.End()

		spans := b.exp.GetSpans()
		require.Len(t, spans, 3, "two producer spans and the parent")
		first, second := spans[0], spans[1]
		require.Equal(t, "send video:finalize", first.Name)
		require.Equal(t, trace.SpanKindProducer, first.SpanKind)
		require.Equal(t, parent.SpanContext().SpanID(), first.Parent.SpanID())
		require.Equal(t, codes.Unset, first.Status.Code)
		require.Equal(t, codes.Unset, second.Status.Code, "the duplicate is no failure")

		id := tasks.TypeVideoFinalize + ":" + videoID.String()
		info, err := b.inspect.GetTaskInfo(b.queue, id)
		require.NoError(t, err, "the TaskID is the one without tracing")
		require.Equal(t, fmt.Sprintf("00-%s-%s-01", first.SpanContext.TraceID(), first.SpanContext.SpanID()),
			info.Headers["traceparent"])
		require.Equal(t, tasks.NewVideoFinalizeTask(videoID).Payload(), info.Payload, "the payload is unchanged")
	})

	t.Run("NothingWithoutASpan", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		videoID := uuid.New()
		require.NoError(t, b.client.Enqueue(context.Background(), tasks.NewVideoFinalizeTask(videoID), asynq.Queue(b.queue)))
		info, err := b.inspect.GetTaskInfo(b.queue, tasks.TypeVideoFinalize+":"+videoID.String())
		require.NoError(t, err)
		require.Empty(t, info.Headers)
		require.Empty(t, b.exp.GetSpans())
	})
}
