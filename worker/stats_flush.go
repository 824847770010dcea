package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/activity"
)

// StatsFlushHandler runs stats:flush: yesterday's active users (final once
// the day is over) and today's so far move to platform_daily_stats, with
// their HyperLogLog sketches, so the history survives a Redis restart.
type StatsFlushHandler struct {
	tracker *activity.Tracker
	now     func() time.Time
	log     *slog.Logger
}

// NewStatsFlushHandler returns the handler; now is the clock (time.Now when
// nil).
func NewStatsFlushHandler(tracker *activity.Tracker, now func() time.Time, logger *slog.Logger) *StatsFlushHandler {
	if now == nil {
		now = time.Now
	}
	return &StatsFlushHandler{tracker: tracker, now: now, log: logger}
}

// ProcessTask implements asynq.Handler.
func (h *StatsFlushHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	today := activity.Day(h.now())
	for _, day := range []time.Time{today.AddDate(0, 0, -1), today} {
		c, err := h.tracker.Flush(ctx, day)
		if err != nil {
			return err // retried; a flush rewrites the same row
		}
		h.log.InfoContext(ctx, "platform day flushed", "day", day.Format(time.DateOnly), "dau", c.DAU, "wau", c.WAU, "mau", c.MAU)
	}
	return nil
}
