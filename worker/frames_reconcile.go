package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// Frames reconciler timing. A frames:capture task lives at most about 12
// minutes (4 attempts of at most 2 minutes plus asynq's backoff between
// them), so a capture still pending after FramesStuckAfter has no task
// working on it: its task was lost (never enqueued, Redis flushed) or
// archived after its last attempt.
const (
	FramesStuckAfter = 15 * time.Minute
	// FramesMaxRequeues is how many times a capture is enqueued again before
	// it is failed.
	FramesMaxRequeues = 3
	// DefaultFrameMaxAge is FRAME_MAX_AGE's default.
	DefaultFrameMaxAge = 7 * 24 * time.Hour
)

// framesGaveUp is the error a capture the reconciler gave up on shows; the
// api tells it from the video's own failures by this text.
const framesGaveUp = lokiz.FramesGaveUp

// FramesReconcileHandler runs frames:reconcile (principle 4): no capture
// stays pending for ever, and captured frames do not pile up in storage.
type FramesReconcileHandler struct {
	store   *db.Store
	storage storage.Store
	tasks   *tasks.Client
	maxAge  time.Duration
	after   time.Duration // FramesStuckAfter unless WithStuckAfter
	log     *slog.Logger
	now     func() time.Time
	// queue overrides the captures' queue (tests run their own).
	queue string
}

// NewFramesReconcileHandler returns the handler; frames are kept maxAge
// (zero means DefaultFrameMaxAge).
func NewFramesReconcileHandler(store *db.Store, st storage.Store, tc *tasks.Client, maxAge time.Duration, logger *slog.Logger) *FramesReconcileHandler {
	if maxAge <= 0 {
		maxAge = DefaultFrameMaxAge
	}
	return &FramesReconcileHandler{store: store, storage: st, tasks: tc, maxAge: maxAge, after: FramesStuckAfter, log: logger, now: time.Now}
}

// WithStuckAfter replaces FramesStuckAfter (FRAMES_STUCK_AFTER); zero
// keeps it. Shorter than a capture task's life (about 12 minutes), a
// capture whose task is still retrying may be enqueued again: the second
// task captures the same frames, and the first to finish completes it.
func (h *FramesReconcileHandler) WithStuckAfter(d time.Duration) *FramesReconcileHandler {
	if d > 0 {
		h.after = d
	}
	return h
}

// ProcessTask implements asynq.Handler.
func (h *FramesReconcileHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	now := h.now()
	stuck, err := h.store.FrameCapturesStuck(ctx, db.FrameCapturesStuckParams{Before: ptr(now.Add(-h.after)), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list stuck frame captures: %w", err)
	}
	requeued, failed := 0, 0
	for _, fc := range stuck {
		if fc.Requeues >= FramesMaxRequeues {
			reason := framesGaveUp
			if _, err := h.store.FrameCaptureFail(ctx, db.FrameCaptureFailParams{ID: fc.ID, Error: &reason}); err != nil {
				return fmt.Errorf("fail frame capture %s: %w", fc.ID, err)
			}
			failed++
			continue
		}
		// Enqueued first, recorded second: should the record fail, the next
		// run enqueues the same attempt again, which its task id makes a
		// no-op.
		var opts []asynq.Option
		if h.queue != "" {
			opts = append(opts, asynq.Queue(h.queue))
		}
		if err := h.tasks.Enqueue(ctx, tasks.NewFramesCaptureRequeueTask(fc.ID, int(fc.Requeues)+1), opts...); err != nil {
			return err
		}
		if _, err := h.store.FrameCaptureRequeued(ctx, db.FrameCaptureRequeuedParams(fc)); err != nil {
			return fmt.Errorf("record frame capture requeue: %w", err)
		}
		requeued++
	}

	expired, err := h.store.FrameCapturesExpired(ctx, db.FrameCapturesExpiredParams{Before: ptr(now.Add(-h.maxAge)), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list expired frame captures: %w", err)
	}
	for _, fc := range expired {
		// The objects go first: were the row deleted first and a delete
		// failed, nothing would list the object again. A failed capture may
		// have stored some frames before it failed, so every key the
		// capture could have used is deleted.
		for i := range int(fc.Frames) {
			key := storage.FrameKey(fc.ID, i)
			if err := h.storage.Delete(ctx, key); err != nil {
				return fmt.Errorf("delete frame %s: %w", key, err)
			}
		}
		if _, err := h.store.FrameCaptureDelete(ctx, fc.ID); err != nil {
			return fmt.Errorf("delete frame capture %s: %w", fc.ID, err)
		}
	}
	if requeued+failed+len(expired) > 0 {
		h.log.InfoContext(ctx, "frames reconciled", "requeued", requeued, "failed", failed, "expired", len(expired))
	}
	return nil
}
