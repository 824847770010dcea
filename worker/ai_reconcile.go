package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// AIStuckAfter is how long an open job may go untouched before the
// reconciler acts: a processing job is polled at least every PollMax (30s)
// and a pending one is picked up within seconds, so two minutes of silence
// means its task was lost (Redis restarted without persistence, a task
// archived by hand).
const AIStuckAfter = 2 * time.Minute

// webhookMemory is how long webhook-ids are remembered; a replay older than
// that fails the timestamp check anyway.
const webhookMemory = 24 * time.Hour

// AIReconcileHandler runs ai:reconcile (principle 4): it re-enqueues the run
// of pending jobs and a poll of processing ones that nobody touched for
// AIStuckAfter. The poll resolves the job through Replicate's GET, and
// fails it when it is past its deadline. Task ids make a re-enqueue of a
// task still queued a no-op.
type AIReconcileHandler struct {
	store *db.Store
	tasks *tasks.Client
	log   *slog.Logger
	now   func() time.Time
	after time.Duration
}

// NewAIReconcileHandler returns the handler.
func NewAIReconcileHandler(store *db.Store, tc *tasks.Client, logger *slog.Logger) *AIReconcileHandler {
	return &AIReconcileHandler{store: store, tasks: tc, log: logger, now: time.Now, after: AIStuckAfter}
}

// WithStuckAfter replaces AIStuckAfter (AI_STUCK_AFTER); zero keeps it.
func (h *AIReconcileHandler) WithStuckAfter(d time.Duration) *AIReconcileHandler {
	if d > 0 {
		h.after = d
	}
	return h
}

// ProcessTask implements asynq.Handler.
func (h *AIReconcileHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	now := h.now()
	stuck, err := h.store.AIJobsStuck(ctx, db.AIJobsStuckParams{Before: now.Add(-h.after), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list stuck ai jobs: %w", err)
	}
	tick := "r" + strconv.FormatInt(now.Unix()/60, 10)
	for _, job := range stuck {
		var task *asynq.Task
		if job.Status == lokiz.JobPending && job.PredictionID == nil {
			task = tasks.NewAIRunTask(job.ID, job.Queue)
		} else {
			task = tasks.NewAIPollTask(job.ID, job.Queue, 1, tick)
		}
		if err := h.tasks.Enqueue(ctx, task); err != nil {
			return err
		}
		if err := h.store.AIJobTouch(ctx, job.ID); err != nil {
			return fmt.Errorf("touch ai job: %w", err)
		}
	}
	purged, err := h.store.ReplicateWebhooksPurge(ctx, now.Add(-webhookMemory))
	if err != nil {
		return fmt.Errorf("purge webhook ids: %w", err)
	}
	if len(stuck) > 0 || purged > 0 {
		h.log.InfoContext(ctx, "ai jobs reconciled", "resumed", len(stuck), "webhook_ids_purged", purged)
	}
	return nil
}
