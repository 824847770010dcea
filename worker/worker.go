package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/db"
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
	srv *asynq.Server
	mux *asynq.ServeMux
}

// New returns a Worker that shares rdb (it never closes it) and logs through
// logger, which should already carry the process's component attribute.
func New(rdb redis.UniversalClient, store *db.Store, logger *slog.Logger, cfg Config) *Worker {
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
	return &Worker{srv: srv, mux: NewMux(store, logger)}
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
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	<-ctx.Done()
	w.srv.Shutdown()
	return nil
}
