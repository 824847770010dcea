package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// Config tunes the asynq server.
type Config struct {
	// Concurrency is how many tasks run at once in this process. Zero means
	// the number of usable CPUs.
	Concurrency int
	// ShutdownTimeout is how long Run waits, once its context is done, for
	// running tasks to finish before they are abandoned and go back to their
	// queue. Keep it below the orchestrator's grace period. Zero means 8s.
	ShutdownTimeout time.Duration
	// Queues maps queue name to weight. Nil means tasks.QueueWeights().
	Queues map[string]int
}

// Worker runs tasks from Redis until its context ends.
type Worker struct {
	srv    *asynq.Server
	mux    *asynq.ServeMux
	rdb    redis.UniversalClient
	queues map[string]int
}

// Deps are the worker's collaborators, built by cmd/lokiz.
type Deps struct {
	Store   *db.Store
	Redis   redis.UniversalClient
	Storage storage.Store
	Tasks   *tasks.Client
	Logger  *slog.Logger
	Media   MediaConfig
	// Replicate and Catalog run the AI jobs; with no Replicate client the
	// AI tasks are not served (they wait in their queues).
	Replicate *replicate.Client
	Catalog   replicate.Catalog
	AI        AIConfig
	// Billing settles payment orders and runs the subscription tasks
	// (Billing.Subscriptions: reading Stripe's subscriptions, charging Toss
	// billing keys); without it the payment tasks are not served (they wait
	// in their queue) and the subscription tasks only expire.
	Billing *billing.Service
	// NotificationGroupWindow is how long a grouped notification (likes,
	// follows, glitches) takes new actors after its first event; zero means
	// db.DefaultNotificationGroupWindow.
	NotificationGroupWindow time.Duration
	// NotificationOutboxAge is how old an undelivered notification's
	// outbox row must be before notify:outbox enqueues its delivery again
	// (NOTIFICATION_OUTBOX_AGE); zero means db.DefaultNotificationOutboxAge.
	NotificationOutboxAge time.Duration
	// Mailer sends the e-mail tasks; without it (no SMTP_HOST) they are
	// dropped.
	Mailer *mail.Mailer
	// ActivityPrefix starts the active-user keys (package activity); empty
	// means activity.DefaultPrefix. The api must use the same.
	ActivityPrefix string
	// VideoStuckAfter and AIStuckAfter are the reconcilers' patience
	// (VIDEO_STUCK_AFTER, AI_STUCK_AFTER); zero means StuckAfter and
	// AIStuckAfter.
	VideoStuckAfter time.Duration
	AIStuckAfter    time.Duration
	// FramesStuckAfter (FRAMES_STUCK_AFTER) is frames:reconcile's patience;
	// zero means FramesStuckAfter.
	FramesStuckAfter time.Duration
	// Tracer starts each task's consumer span (package tracing); nil
	// (tracing off) installs no tracing middleware.
	Tracer trace.Tracer
}

// New returns a Worker that shares d.Redis (it never closes it) and logs
// through d.Logger, which should already carry a component attribute.
func New(d Deps, cfg Config) *Worker {
	rdb, logger := d.Redis, d.Logger
	queues := cfg.Queues
	if queues == nil {
		queues = tasks.QueueWeights()
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:     cfg.Concurrency,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Queues:          queues,
		Logger:          tasks.NewAsynqLogger(logger),
		// The slog handler's level is the one filter.
		LogLevel: asynq.DebugLevel,
		// No ErrorHandler: the logging middleware already reports every
		// failure once, with its outcome.
	})
	return &Worker{srv: srv, mux: NewMux(d), rdb: rdb, queues: queues}
}

// Run processes tasks until ctx is done, then shuts down gracefully: it stops
// taking tasks and gives running ones Config.ShutdownTimeout to finish. It
// returns nil after a clean shutdown and an error when it cannot start. A
// Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.srv.Ping(); err != nil {
		return fmt.Errorf("worker: reach redis: %w", err)
	}
	// Start, not asynq's Run: Run traps signals itself, and signals belong to
	// cmd, which cancels ctx.
	if err := w.announceQueues(ctx); err != nil {
		return err
	}
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	<-ctx.Done()
	w.srv.Shutdown()
	return nil
}

// allQueuesKey is the Redis set in which asynq lists the queues it knows
// (asynq's internal base.AllQueues). asynq adds a queue only on its first
// enqueue, so on a fresh system the dashboard would show no queues at all;
// announcing the queues this worker serves makes them visible from the start.
const allQueuesKey = "asynq:queues"

func (w *Worker) announceQueues(ctx context.Context) error {
	names := make([]any, 0, len(w.queues))
	for q := range w.queues {
		names = append(names, q)
	}
	if err := w.rdb.SAdd(ctx, allQueuesKey, names...).Err(); err != nil {
		return fmt.Errorf("worker: announce queues: %w", err)
	}
	return nil
}
