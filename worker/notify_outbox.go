package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/tasks"
)

// The outbox drain's knobs: rows per claim and claims per run (so one run
// enqueues at most outboxBatch*outboxBatches deliveries and ends), and the
// wait before a claimed row that is still owed is claimed again (doubling,
// capped).
const (
	outboxBatch      = 500
	outboxBatches    = 20
	outboxBackoff    = time.Minute
	outboxMaxBackoff = time.Hour
)

// NotifyOutboxHandler runs notify:outbox: it enqueues again the delivery of
// every notification_outbox row older than its age that is due, oldest due
// first, in batches (db.ClaimNotificationOutbox pushes each claimed row's
// next turn back, so a row whose delivery keeps failing waits longer each
// time and the rows behind it are not held up). The delivery tasks have
// the event's TaskID, so a row whose task is still queued or running adds
// nothing, and the delivery is idempotent per event, so a row delivered
// meanwhile counts once (migration 00032).
type NotifyOutboxHandler struct {
	store  *db.Store
	tasks  *tasks.Client
	log    *slog.Logger
	minAge time.Duration
}

// NewNotifyOutboxHandler returns the drain; minAge is
// NOTIFICATION_OUTBOX_AGE (zero or less: db.DefaultNotificationOutboxAge).
func NewNotifyOutboxHandler(store *db.Store, tc *tasks.Client, logger *slog.Logger, minAge time.Duration) *NotifyOutboxHandler {
	if minAge <= 0 {
		minAge = db.DefaultNotificationOutboxAge
	}
	return &NotifyOutboxHandler{store: store, tasks: tc, log: logger, minAge: minAge}
}

// ProcessTask implements asynq.Handler.
func (h *NotifyOutboxHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	enqueued, failed := 0, 0
	var lastErr error
	for range outboxBatches {
		rows, err := h.store.ClaimNotificationOutbox(ctx, db.OutboxDrain{
			MinAge: h.minAge, Limit: outboxBatch, Backoff: outboxBackoff, MaxBackoff: outboxMaxBackoff,
		})
		if err != nil {
			return err
		}
		for _, o := range rows {
			if err := h.tasks.RequeueNotify(ctx, notification.Payload(o)); err != nil {
				// The row's next turn comes after its backoff.
				failed++
				lastErr = err
				continue
			}
			enqueued++
		}
		if len(rows) < outboxBatch {
			break
		}
	}
	if enqueued+failed > 0 {
		h.log.InfoContext(ctx, "notification outbox drained", "enqueued", enqueued, "failed", failed)
	}
	if failed > 0 && enqueued == 0 {
		return fmt.Errorf("notification outbox: %d deliveries not enqueued: %w", failed, lastErr)
	}
	return nil
}
