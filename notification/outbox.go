package notification

import (
	"context"
	"log/slog"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// Payload is the notify:deliver payload of an outbox row: the event, and
// the row's id for the delivery to settle.
func Payload(o db.NotificationOutbox) tasks.NotifyPayload {
	id := o.ID
	return tasks.NotifyPayload{
		Type: o.Type, RecipientID: o.RecipientID, ActorID: o.ActorID, VideoID: o.VideoID,
		CommentID: o.CommentID, AIJobID: o.AIJobID, Message: o.Message, OutboxID: &id,
	}
}

// Send enqueues, right after the commit that wrote them, the delivery of
// the notifications an action owes (its outbox rows): the fast path. A
// failed enqueue is logged and costs only latency: the row stays in the
// outbox and the drain (notify:outbox) enqueues it later.
func Send(ctx context.Context, tc *tasks.Client, log *slog.Logger, rows []db.NotificationOutbox) {
	for _, o := range rows {
		if err := tc.EnqueueNotify(ctx, Payload(o)); err != nil {
			log.WarnContext(ctx, "notification not enqueued; the outbox drain will", "type", o.Type,
				"outbox_id", o.ID, "error", err)
		}
	}
}
