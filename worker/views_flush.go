package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/views"
)

// ViewsFlushHandler runs views:flush: counted views move from Redis to
// videos.view_count and video_daily_stats, exactly once (package views).
type ViewsFlushHandler struct {
	flusher *views.Flusher
	log     *slog.Logger
}

// NewViewsFlushHandler returns the handler.
func NewViewsFlushHandler(f *views.Flusher, logger *slog.Logger) *ViewsFlushHandler {
	return &ViewsFlushHandler{flusher: f, log: logger}
}

// ProcessTask implements asynq.Handler.
func (h *ViewsFlushHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	res, err := h.flusher.Flush(ctx)
	if err != nil {
		return err // retried; the batch stays in flight and is replayed
	}
	if res.Batches+res.Replayed > 0 {
		h.log.InfoContext(ctx, "views flushed", "batches", res.Batches, "replayed", res.Replayed, "views", res.Views)
	}
	if _, err := h.flusher.Prune(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
		h.log.WarnContext(ctx, "prune view batches", "error", err)
	}
	return nil
}
