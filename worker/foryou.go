package worker

import (
	"context"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/tasks"
)

// ForYouHandler runs foryou:refresh: the user's next personalized ranking,
// computed here so that their next first page does not wait for it.
type ForYouHandler struct {
	ranker *foryou.Ranker
	log    *slog.Logger
}

// NewForYouHandler returns the handler.
func NewForYouHandler(ranker *foryou.Ranker, logger *slog.Logger) *ForYouHandler {
	return &ForYouHandler{ranker: ranker, log: logger}
}

// ProcessTask implements asynq.Handler.
func (h *ForYouHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseUserPayload(t)
	if err != nil {
		return err
	}
	_, err = h.ranker.Refresh(ctx, p.UserID)
	return err
}
