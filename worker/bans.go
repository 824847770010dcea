package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// bansExpireBatch bounds one run of bans:expire; the next minute's run
// takes what is left.
const bansExpireBatch = 500

// BansExpireHandler runs bans:expire: every timed ban whose end has passed
// is lifted (db.Store.LiftExpiredBan), each in its own transaction with its
// audit row, and the user's withheld media is moved back (user:media_sync).
type BansExpireHandler struct {
	store  *db.Store
	tasks  *tasks.Client
	logger *slog.Logger
	now    func() time.Time
}

// NewBansExpireHandler returns the bans:expire handler.
func NewBansExpireHandler(store *db.Store, tc *tasks.Client, logger *slog.Logger) *BansExpireHandler {
	return &BansExpireHandler{store: store, tasks: tc, logger: logger, now: time.Now}
}

// ProcessTask implements asynq.Handler.
func (h *BansExpireHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	now := h.now()
	ids, err := h.store.UsersBanExpired(ctx, db.UsersBanExpiredParams{Now: &now, Lim: bansExpireBatch})
	if err != nil {
		return fmt.Errorf("find expired bans: %w", err)
	}
	n := 0
	for _, id := range ids {
		lifted, err := h.store.LiftExpiredBan(ctx, id, now)
		if err != nil {
			return err
		}
		if !lifted {
			continue
		}
		n++
		// A lost enqueue leaves the media withheld until the next change
		// of the user; a retry of this task does not find the lifted ban.
		if err := h.tasks.Enqueue(ctx, tasks.NewUserMediaSyncTask(id, now)); err != nil {
			h.logger.ErrorContext(ctx, "media of an unbanned user left withheld", "user_id", id, "error", err)
		}
	}
	if n > 0 {
		h.logger.InfoContext(ctx, "expired bans lifted", "count", n)
	}
	return nil
}
