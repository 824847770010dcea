package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The notification outbox (migration 00032). An action that tells someone
// writes its NotificationOutbox row in its own transaction (writeOutbox);
// the caller enqueues the delivery after the commit, with the row's id; the
// delivery (DeliverNotification with OutboxID) deletes the row in its own
// transaction; ClaimNotificationOutbox hands the rows nobody delivered to
// the drain again.

// writeOutbox records, through q (the action's transaction), that n's
// notification is owed. A self-action is owed nothing: it returns nil and
// writes nothing.
func writeOutbox(ctx context.Context, q *Queries, n NewNotification) (*NotificationOutbox, error) {
	if n.ActorID != nil && *n.ActorID == n.RecipientID {
		return nil, nil
	}
	o, err := q.NotificationOutboxInsert(ctx, NotificationOutboxInsertParams{
		ID: NewID(), Type: n.Type, RecipientID: n.RecipientID, ActorID: n.ActorID,
		VideoID: n.VideoID, CommentID: n.CommentID, AIJobID: n.AIJobID, Message: n.Message,
	})
	if err != nil {
		return nil, fmt.Errorf("write %s notification to the outbox: %w", n.Type, err)
	}
	return &o, nil
}

// appendOutbox is writeOutbox appending the row, if any, to rows.
func appendOutbox(ctx context.Context, q *Queries, rows []NotificationOutbox, n NewNotification) ([]NotificationOutbox, error) {
	o, err := writeOutbox(ctx, q, n)
	if err != nil || o == nil {
		return rows, err
	}
	return append(rows, *o), nil
}

// OutboxDrain tunes ClaimNotificationOutbox.
type OutboxDrain struct {
	// MinAge: only rows at least this old are claimed (the fast path had
	// its chance to deliver them).
	MinAge time.Duration
	// Limit caps the rows of one claim.
	Limit int32
	// Backoff is how long a claimed row waits before it may be claimed
	// again after its first claim; it doubles with each claim, up to
	// MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// ClaimNotificationOutbox returns up to d.Limit outbox rows that are due and
// at least d.MinAge old, oldest due first, and pushes each one's next turn
// back (d.Backoff doubled per earlier claim, at most d.MaxBackoff) in the
// same statement: the caller enqueues their deliveries, and a row that is
// still there at its next turn is claimed again. A row held by a delivery
// or by a concurrent claim is skipped.
func (s *Store) ClaimNotificationOutbox(ctx context.Context, d OutboxDrain) ([]NotificationOutbox, error) {
	rows, err := s.NotificationOutboxClaimDue(ctx, NotificationOutboxClaimDueParams{
		MaxSeconds: d.MaxBackoff.Seconds(), BaseSeconds: d.Backoff.Seconds(),
		MinAgeSeconds: d.MinAge.Seconds(), Lim: d.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("claim notification outbox: %w", translate(err, "notification outbox"))
	}
	return rows, nil
}

// DropNotificationOutbox deletes an outbox row whose delivery failed for
// good (a referenced row vanished, the payload breaks a rule): retrying
// cannot deliver it. Dropping a row that is gone is not an error.
func (s *Store) DropNotificationOutbox(ctx context.Context, id uuid.UUID) error {
	if _, err := s.NotificationOutboxDelete(ctx, id); err != nil {
		return fmt.Errorf("drop notification outbox row %s: %w", id, translate(err, "notification outbox"))
	}
	return nil
}

// DefaultNotificationOutboxAge is NOTIFICATION_OUTBOX_AGE's default: how old
// an outbox row must be before the drain enqueues its delivery again.
const DefaultNotificationOutboxAge = 30 * time.Second
