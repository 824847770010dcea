package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// Reconciler timing: a finalize that has not finished in StuckAfter is
// enqueued again (its TaskID makes that a no-op while it is still queued);
// uploads that never arrived are removed after AbandonAfter.
const (
	StuckAfter   = 20 * time.Minute
	AbandonAfter = 24 * time.Hour
	reconcileMax = 500 // rows per kind per run; the next run takes the rest
)

// VideosReconcileHandler runs videos:reconcile (principle 4: nothing is lost
// between the database and the queue).
type VideosReconcileHandler struct {
	store   *db.Store
	storage storage.Store
	tasks   *tasks.Client
	log     *slog.Logger
	now     func() time.Time
	after   time.Duration
}

// NewVideosReconcileHandler returns the handler.
func NewVideosReconcileHandler(store *db.Store, st storage.Store, tc *tasks.Client, logger *slog.Logger) *VideosReconcileHandler {
	return &VideosReconcileHandler{store: store, storage: st, tasks: tc, log: logger, now: time.Now, after: StuckAfter}
}

// WithStuckAfter replaces StuckAfter (VIDEO_STUCK_AFTER); zero keeps it.
func (h *VideosReconcileHandler) WithStuckAfter(d time.Duration) *VideosReconcileHandler {
	if d > 0 {
		h.after = d
	}
	return h
}

// ProcessTask implements asynq.Handler.
func (h *VideosReconcileHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	now := h.now()
	stuck, err := h.store.VideoStuckProcessing(ctx, db.VideoStuckProcessingParams{Before: ptr(now.Add(-h.after)), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list stuck videos: %w", err)
	}
	for _, id := range stuck {
		if err := h.tasks.Enqueue(ctx, tasks.NewVideoFinalizeTask(id)); err != nil {
			return err
		}
	}

	abandoned, err := h.store.VideoAbandonedUploads(ctx, db.VideoAbandonedUploadsParams{Before: now.Add(-AbandonAfter), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list abandoned uploads: %w", err)
	}
	for _, v := range abandoned {
		// The row goes first: were the object deleted first and the row
		// delete failed, a late complete could point at nothing.
		n, err := h.store.VideoDeleteAbandoned(ctx, v.ID)
		if err != nil {
			return fmt.Errorf("delete abandoned video %s: %w", v.ID, err)
		}
		if n == 1 && v.UploadKey != nil {
			if err := h.storage.Delete(ctx, *v.UploadKey); err != nil {
				return fmt.Errorf("delete abandoned upload %s: %w", *v.UploadKey, err)
			}
		}
	}

	images, err := h.store.ImageAbandoned(ctx, db.ImageAbandonedParams{Before: now.Add(-AbandonAfter), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list abandoned images: %w", err)
	}
	for _, img := range images {
		// An image PUT but never used as a picture is still "uploaded":
		// only images whose object never arrived are removed.
		if _, err := h.storage.Stat(ctx, img.ObjectKey); err == nil {
			if err := h.store.ImageMarkUploaded(ctx, db.ImageMarkUploadedParams{ID: img.ID}); err != nil {
				return err
			}
			continue
		}
		if _, err := h.store.ImageDelete(ctx, img.ID); err != nil {
			return fmt.Errorf("delete abandoned image %s: %w", img.ID, err)
		}
	}
	if len(stuck)+len(abandoned)+len(images) > 0 {
		h.log.InfoContext(ctx, "videos reconciled", "requeued", len(stuck), "abandoned_uploads", len(abandoned), "stale_images", len(images))
	}
	return nil
}
