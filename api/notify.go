package api

import (
	"context"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
)

// notify enqueues the delivery of the notifications an action owes, after
// its transaction committed them to the outbox (notification.Send). A
// failed enqueue delays the notification, never loses it or the action:
// the outbox drain enqueues it later, so the request succeeds.
func (s *Server) notify(ctx context.Context, rows []db.NotificationOutbox) {
	notification.Send(ctx, s.tasks, s.log, rows)
}
