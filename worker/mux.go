package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/activity"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/tracing"
	"github.com/lokiz/lokiz/trending"
	"github.com/lokiz/lokiz/views"
)

// NewMux returns the routing table from task type to handler, wrapped in the
// logging middleware. Tests call its ProcessTask directly.
func NewMux(d Deps) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	if d.Tracer != nil {
		mux.Use(traceTasks(d.Tracer))
	}
	mux.Use(logTasks(d.Logger))
	mux.Handle(tasks.TypeCreditsAudit, NewCreditsAuditHandler(d.Store, d.Logger))
	mux.Handle(tasks.TypeVideoFinalize, NewVideoFinalizeHandler(d.Store, d.Storage, d.Media, d.Logger))
	mux.Handle(tasks.TypeFramesCapture, NewFramesCaptureHandler(d.Store, d.Storage, d.Media, d.Logger))
	mux.Handle(tasks.TypeTrendingRecompute, NewTrendingHandler(d.Store, trending.New(d.Redis), d.Logger))
	mux.Handle(tasks.TypeForYouRefresh, NewForYouHandler(foryou.New(d.Store, d.Redis, trending.New(d.Redis)), d.Logger))
	mux.Handle(tasks.TypeVideosReconcile, NewVideosReconcileHandler(d.Store, d.Storage, d.Tasks, d.Logger).WithStuckAfter(d.VideoStuckAfter))
	purge := NewVideoPurgeHandler(d.Store, d.Storage, d.Logger)
	mux.Handle(tasks.TypeVideoPurge, purge)
	mux.Handle(tasks.TypeVideosPurge, purge)
	mediaSync := NewVideoMediaHandler(d.Store, d.Storage, d.Tasks)
	mux.Handle(tasks.TypeVideoMediaSync, mediaSync)
	mux.Handle(tasks.TypeUserMediaSync, mediaSync)
	if d.Redis != nil {
		tracker := activity.New(activity.Config{Redis: d.Redis, Store: d.Store, Prefix: d.ActivityPrefix, Logger: d.Logger})
		mux.Handle(tasks.TypeStatsFlush, NewStatsFlushHandler(tracker, nil, d.Logger))
	}
	mux.Handle(tasks.TypeViewsFlush, NewViewsFlushHandler(views.NewFlusher(d.Redis, d.Store), d.Logger))
	mux.Handle(tasks.TypeNotify, NewNotifyHandler(d.Store, d.Redis, d.Storage, d.Logger).WithGroupWindow(d.NotificationGroupWindow))
	mux.Handle(tasks.TypeNotifyOutbox, NewNotifyOutboxHandler(d.Store, d.Tasks, d.Logger, d.NotificationOutboxAge))
	mux.Handle(tasks.TypeAIReconcile, NewAIReconcileHandler(d.Store, d.Tasks, d.Logger).WithStuckAfter(d.AIStuckAfter))
	mux.Handle(tasks.TypeFramesReconcile, NewFramesReconcileHandler(d.Store, d.Storage, d.Tasks, d.Media.FrameMaxAge, d.Logger).WithStuckAfter(d.FramesStuckAfter))
	subs := &billing.Subscriptions{Store: d.Store} // no provider: nothing to renew or sync, expiry still runs
	if d.Billing != nil {
		subs = d.Billing.Subscriptions()
	}
	mux.Handle(tasks.TypeAccountErase, NewAccountEraseHandler(d.Store, d.Storage, subs, d.Logger))
	mux.Handle(tasks.TypeAccountsReconcile, NewAccountsReconcileHandler(d.Store, d.Tasks, d.Logger))
	mux.Handle(tasks.TypeBansExpire, NewBansExpireHandler(d.Store, d.Tasks, d.Logger))
	if d.Replicate != nil {
		NewAIHandler(d).Register(mux)
	}
	if d.Billing != nil {
		mux.Handle(tasks.TypePaymentFulfill, NewPaymentFulfillHandler(d.Billing))
		mux.Handle(tasks.TypeStripeChargeRefunded, NewStripeChargeRefundedHandler(d.Billing))
		mux.Handle(tasks.TypePaymentsReconcile, NewPaymentsReconcileHandler(d.Billing, d.Logger))
	}
	NewSubscriptionHandlers(subs, d.Logger).Register(mux)
	NewEmailHandlers(d.Mailer, d.Logger).Register(mux)
	return mux
}

// Task outcomes in the per-task log line.
const (
	outcomeOK        = "ok"
	outcomeError     = "error"      // retried unless retry == max_retry
	outcomeSkipRetry = "skip_retry" // archived at once
	outcomePanic     = "panic"      // asynq recovers it and retries like an error
)

// logTasks writes one line per task run. A failure is logged here and
// nowhere else: handlers return errors rather than logging them.
func logTasks(logger *slog.Logger) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retry, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			logLine := func(level slog.Level, outcome string, extra ...slog.Attr) {
				attrs := append([]slog.Attr{
					slog.String("task_type", t.Type()),
					slog.String("task_id", id),
					slog.String("queue", queue),
					slog.Int("retry", retry),
					slog.Int("max_retry", maxRetry),
					slog.Int64("duration_ms", time.Since(start).Milliseconds()),
					slog.String("outcome", outcome),
				}, extra...)
				if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
					attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
				}
				logger.LogAttrs(ctx, level, "task processed", attrs...)
			}

			defer func() {
				if p := recover(); p != nil {
					logLine(slog.LevelError, outcomePanic, slog.Any("panic", p))
					panic(p) // asynq turns it into an error with the stack
				}
			}()

			err := next.ProcessTask(ctx, t)
			switch {
			case err == nil:
				logLine(slog.LevelInfo, outcomeOK)
			case errors.Is(err, asynq.SkipRetry):
				logLine(slog.LevelError, outcomeSkipRetry, slog.Any("error", err))
			case retry >= maxRetry:
				// The last attempt: asynq archives the task now.
				logLine(slog.LevelError, outcomeError, slog.Any("error", err))
			default:
				logLine(slog.LevelWarn, outcomeError, slog.Any("error", err))
			}
			return err
		})
	}
}

// traceTasks runs each task in a consumer span, the child of the trace
// context the task carries in its headers (its enqueue's producer span), or
// the root of a new trace for a task without one (the scheduler's, or one
// queued before tracing). A handler's error or panic marks the span failed.
func traceTasks(tracer trace.Tracer) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retry, _ := asynq.GetRetryCount(ctx)
			ctx, span := tracing.StartTask(ctx, tracer, t, queue, id, retry)
			defer func() {
				if p := recover(); p != nil {
					tracing.End(span, fmt.Errorf("panic: %v", p))
					panic(p)
				}
				tracing.End(span, err)
			}()
			return next.ProcessTask(ctx, t)
		})
	}
}
