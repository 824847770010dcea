package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/trending"
)

// Trending ranks the public videos of the last week, at most 1,000.
const (
	trendingWindowHours = 7 * 24
	trendingMax         = 1000
)

// TrendingHandler runs trending:recompute.
type TrendingHandler struct {
	store   *db.Store
	ranking *trending.Ranking
	log     *slog.Logger
}

// NewTrendingHandler returns the handler.
func NewTrendingHandler(store *db.Store, r *trending.Ranking, logger *slog.Logger) *TrendingHandler {
	return &TrendingHandler{store: store, ranking: r, log: logger}
}

// ProcessTask implements asynq.Handler. Running it twice publishes the same
// ranking twice, which readers cannot tell apart: it is idempotent.
func (h *TrendingHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	rows, err := h.store.TrendingScores(ctx, db.TrendingScoresParams{WindowHours: trendingWindowHours, Lim: trendingMax})
	if err != nil {
		return fmt.Errorf("score trending videos: %w", err)
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	snapshot := time.Now().UTC().Format("20060102T150405.000")
	if err := h.ranking.Publish(ctx, snapshot, ids); err != nil {
		return err
	}
	h.log.InfoContext(ctx, "trending published", "snapshot", snapshot, "videos", len(ids))
	// The other discovery ranking's housekeeping: the keyword counts of
	// days autocomplete no longer reads. Idempotent too.
	if _, err := h.store.SearchKeywordDaysPrune(ctx, lokiz.KeywordSince(time.Now())); err != nil {
		return fmt.Errorf("prune keyword counts: %w", err)
	}
	return nil
}
