package tracing

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The trace context travels with a task in its asynq headers (traceparent,
// tracestate), beside the payload: the payload, the TaskID and the
// uniqueness key stay what they were, and a task queued without headers
// (before tracing, or by the scheduler) simply starts a new trace.

// StartEnqueue starts the producer span of enqueuing task under the
// recording span in ctx and writes its trace context into the task's
// headers. Without a recording span it does neither. The headers are
// written in place, so a task is enqueued by one goroutine at a time (each
// constructor call makes a fresh task); a task made without a header map
// (asynq.NewTask) gets a span but carries no context.
func StartEnqueue(ctx context.Context, task *asynq.Task) (context.Context, trace.Span) {
	ctx, span := Child(ctx, "send "+task.Type(), trace.SpanKindProducer,
		attribute.String("messaging.system", "asynq"),
		attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.operation.name", "send"),
		attribute.String("lokiz.task.type", task.Type()),
	)
	if h := task.Headers(); h != nil && span.IsRecording() {
		Inject(ctx, propagation.MapCarrier(h))
	}
	return ctx, span
}

// EnqueuedAs records where the task went on the producer span.
func EnqueuedAs(span trace.Span, info *asynq.TaskInfo) {
	if info == nil || !span.IsRecording() {
		return
	}
	span.SetAttributes(
		attribute.String("messaging.destination.name", info.Queue),
		attribute.String("messaging.message.id", info.ID),
	)
}

// StartTask starts the consumer span of running task, the child of the
// trace context in its headers, or the root of a new trace when there is
// none. queue, id and retried describe the run (asynq.GetQueueName,
// GetTaskID, GetRetryCount).
func StartTask(ctx context.Context, tracer trace.Tracer, task *asynq.Task, queue, id string, retried int) (context.Context, trace.Span) {
	if h := task.Headers(); len(h) > 0 {
		ctx = Extract(ctx, propagation.MapCarrier(h))
	}
	return tracer.Start(ctx, "process "+task.Type(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "asynq"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.operation.name", "process"),
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.message.id", id),
			attribute.Int("lokiz.task.retry_count", retried),
			attribute.String("lokiz.task.type", task.Type()),
		))
}
