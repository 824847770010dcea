package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/db"
)

// bansExpireBatch bounds one run of bans:expire; the next minute's run
// takes what is left.
const bansExpireBatch = 500

// BansExpireHandler runs bans:expire: every timed ban whose end has passed
// is lifted (db.LiftExpiredBans), each in its own transaction with its
// audit row.
type BansExpireHandler struct {
	store  *db.Store
	logger *slog.Logger
	now    func() time.Time
}

// NewBansExpireHandler returns the bans:expire handler.
func NewBansExpireHandler(store *db.Store, logger *slog.Logger) *BansExpireHandler {
	return &BansExpireHandler{store: store, logger: logger, now: time.Now}
}

// ProcessTask implements asynq.Handler.
func (h *BansExpireHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	n, err := h.store.LiftExpiredBans(ctx, h.now(), bansExpireBatch)
	if n > 0 {
		h.logger.InfoContext(ctx, "expired bans lifted", "count", n)
	}
	return err
}
