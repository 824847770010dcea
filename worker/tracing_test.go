package worker

import (
	"context"
	"errors"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/tracing"
)

// TestTraceTasks: a task runs in a consumer span that continues the trace
// context of its headers, or starts a new trace without one (a task queued
// before tracing, or by the scheduler); the handler sees the span in its
// context; an error or a panic marks the span failed.
func TestTraceTasks(t *testing.T) {
	t.Parallel()
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	traceparent := "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01"

	tests := []struct {
		name       string
		task       *asynq.Task
		handler    func(context.Context, *asynq.Task) error
		wantParent bool
		wantStatus codes.Code
	}{
		{"ContinuesItsTrace", asynq.NewTaskWithHeaders("test:run", nil, map[string]string{"traceparent": traceparent}),
			func(context.Context, *asynq.Task) error { return nil }, true, codes.Unset},
		{"NewTraceWithoutHeaders", asynq.NewTask("test:run", nil),
			func(context.Context, *asynq.Task) error { return nil }, false, codes.Unset},
		{"GarbageHeaderIsNoParent", asynq.NewTaskWithHeaders("test:run", nil, map[string]string{"traceparent": "zz"}),
			func(context.Context, *asynq.Task) error { return nil }, false, codes.Unset},
		{"ErrorFails", asynq.NewTaskWithHeaders("test:run", nil, map[string]string{"traceparent": traceparent}),
			func(context.Context, *asynq.Task) error { return errors.New("boom") }, true, codes.Error},
		{"PanicFails", asynq.NewTask("test:run", nil),
			func(context.Context, *asynq.Task) error { panic("kaboom") }, false, codes.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			p := tracing.NewSyncProvider(tracing.Config{ServiceName: "worker-test", SampleRatio: 1}, exp)
			t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			mux := asynq.NewServeMux()
			mux.Use(traceTasks(p.Tracer()))
			var inside trace.SpanContext
			mux.HandleFunc("test:run", func(ctx context.Context, task *asynq.Task) error {
				inside = trace.SpanContextFromContext(ctx)
				return tt.handler(ctx, task)
			})

			func() {
				defer func() { _ = recover() }()
				_ = mux.ProcessTask(context.Background(), tt.task)
			}()

			spans := exp.GetSpans()
			require.Len(t, spans, 1)
			s := spans[0]
			require.Equal(t, "process test:run", s.Name)
			require.Equal(t, trace.SpanKindConsumer, s.SpanKind)
			require.Equal(t, s.SpanContext.SpanID(), inside.SpanID(), "the handler runs in the span")
			require.Equal(t, tt.wantStatus, s.Status.Code)
			if tt.wantParent {
				require.Equal(t, remote.TraceID(), s.SpanContext.TraceID())
				require.Equal(t, remote.SpanID(), s.Parent.SpanID())
			} else {
				require.False(t, s.Parent.IsValid(), "a root span")
			}
		})
	}
}
