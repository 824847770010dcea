package api

import (
	"context"
	"time"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
)

// notify enqueues the delivery of the notifications an action owes, after
// its transaction committed them to the outbox (notification.Send). A
// failed enqueue delays the notification, never loses it or the action:
// the outbox drain enqueues it later, so the request succeeds. The action
// is committed, so a client that went away does not cancel the enqueue (it
// would only push the notification to the drain, NOTIFICATION_OUTBOX_AGE
// later, with a warning).
func (s *Server) notify(ctx context.Context, rows []db.NotificationOutbox) {
	if len(rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	notification.Send(ctx, s.tasks, s.log, rows)
}
