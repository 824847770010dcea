package api

import (
	"context"

	"github.com/lokiz/lokiz/tasks"
)

// notify enqueues a notification after the action committed. A failed
// enqueue loses only the notification, never the action, so it is logged
// and the request succeeds. The worker skips self-actions, blocks, disabled
// settings and facts undone in the meantime.
func (s *Server) notify(ctx context.Context, p tasks.NotifyPayload) {
	if p.ActorID != nil && *p.ActorID == p.RecipientID {
		return // nobody is told about their own action
	}
	if err := s.tasks.EnqueueNotify(ctx, p); err != nil {
		s.log.WarnContext(ctx, "notification not enqueued", "type", p.Type, "error", err)
	}
}
