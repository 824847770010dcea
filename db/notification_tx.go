package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Notification types (the CHECK of notifications.type).
const (
	NotificationLike        = "like"
	NotificationComment     = "comment"
	NotificationCommentLike = "comment_like"
	NotificationFollow      = "follow"
	NotificationGlitch      = "glitch"
	NotificationAIJob       = "ai_job"
	NotificationSystem      = "system"
)

// NotificationSkip says why a delivery stored nothing; "" means it stored
// (or found) the notification.
type NotificationSkip string

// The reasons DeliverNotification stores nothing.
const (
	// NotificationSkipSelf: the actor is the recipient.
	NotificationSkipSelf NotificationSkip = "self"
	// NotificationSkipBlocked: one of actor and recipient blocked the other.
	NotificationSkipBlocked NotificationSkip = "blocked"
	// NotificationSkipDisabled: the recipient turned this type off.
	NotificationSkipDisabled NotificationSkip = "disabled"
	// NotificationSkipGone: the fact is undone (unliked, unfollowed, the
	// comment deleted, the video deleted) or never belonged to the recipient.
	NotificationSkipGone NotificationSkip = "gone"
	// NotificationSkipInactive: the recipient's account is disabled or gone.
	NotificationSkipInactive NotificationSkip = "inactive"
)

// NewNotification is one event to deliver. Type is one of the Notification*
// constants; the ids a type does not use are nil.
type NewNotification struct {
	Type        string
	RecipientID uuid.UUID
	ActorID     *uuid.UUID
	VideoID     *uuid.UUID
	CommentID   *uuid.UUID
	AIJobID     *uuid.UUID
	Message     *string
}

// NotificationDelivery is the outcome of DeliverNotification.
type NotificationDelivery struct {
	// Skip is why nothing was stored; "" when Notification is set.
	Skip NotificationSkip
	// Inserted is true when this call stored the row, false when an earlier
	// delivery of the same fact or event already had.
	Inserted bool
	// Notification is the stored row as the api lists it.
	Notification NotificationView
	// UnreadCount is the recipient's unread count after the delivery.
	UnreadCount int64
}

// DeliverNotification stores n unless the current state says not to: the
// actor is the recipient, a block stands between them, the recipient turned
// the type off, or the fact behind it no longer exists. The checks and the
// insert run in one transaction that holds the fact row FOR SHARE, so an
// undo racing the delivery waits for it and then removes the notification
// (NotificationDeleteForFact). Delivering the same fact or event twice stores
// one row (the unique indexes of migration 00003); the second call returns it
// with Inserted false.
func (s *Store) DeliverNotification(ctx context.Context, n NewNotification) (NotificationDelivery, error) {
	if n.ActorID != nil && *n.ActorID == n.RecipientID {
		return NotificationDelivery{Skip: NotificationSkipSelf}, nil
	}
	var out NotificationDelivery
	err := s.InTx(ctx, func(q *Queries) error {
		out = NotificationDelivery{}
		check, err := q.NotificationDeliverable(ctx, NotificationDeliverableParams{
			RecipientID: n.RecipientID, ActorID: n.ActorID, Type: n.Type,
			VideoID: n.VideoID, CommentID: n.CommentID, AIJobID: n.AIJobID,
		})
		if err != nil {
			return err
		}
		switch {
		case !check.RecipientActive:
			out.Skip = NotificationSkipInactive
		case check.Blocked:
			out.Skip = NotificationSkipBlocked
		case !check.Enabled:
			out.Skip = NotificationSkipDisabled
		case !check.FactExists:
			out.Skip = NotificationSkipGone
		}
		if out.Skip != "" {
			return nil
		}
		id, err := q.NotificationInsert(ctx, NotificationInsertParams{
			ID: NewID(), UserID: n.RecipientID, Type: n.Type, ActorID: n.ActorID,
			VideoID: n.VideoID, CommentID: n.CommentID, AIJobID: n.AIJobID, Message: n.Message,
		})
		switch {
		case err == nil:
			out.Inserted = true
			out.Notification, err = q.NotificationGetForUser(ctx, NotificationGetForUserParams{ID: id, UserID: n.RecipientID})
		case IsNotFound(err): // ON CONFLICT DO NOTHING: already delivered
			out.Notification, err = q.NotificationGetByFact(ctx, NotificationGetByFactParams{
				UserID: n.RecipientID, Type: n.Type, ActorID: n.ActorID,
				VideoID: n.VideoID, CommentID: n.CommentID, AIJobID: n.AIJobID,
			})
		}
		if err != nil {
			return err
		}
		counts, err := q.NotificationCountsByUser(ctx, n.RecipientID)
		out.UnreadCount = counts.Unread
		return err
	})
	if err != nil {
		return NotificationDelivery{}, fmt.Errorf("deliver %s notification to %s: %w", n.Type, n.RecipientID, translate(err, "notification"))
	}
	return out, nil
}

// NotificationDeleteForFact removes the notification of an undone fact: the
// like (actor liked video of recipient), the follow (video and comment nil)
// or the comment like (comment). Call it after the unlike or unfollow commits,
// or in its transaction through Queries. It returns how many rows it removed
// (0 or 1); removing nothing is not an error.
func (s *Store) NotificationDeleteForFact(ctx context.Context, typ string, actorID, recipientID uuid.UUID, videoID, commentID *uuid.UUID) (int64, error) {
	n, err := s.Queries.NotificationDeleteForFact(ctx, NotificationDeleteForFactParams{
		UserID: recipientID, Type: typ, ActorID: &actorID, VideoID: videoID, CommentID: commentID,
	})
	if err != nil {
		return 0, fmt.Errorf("delete %s notification: %w", typ, translate(err, "notification"))
	}
	return n, nil
}

// NotificationSettingsOf returns the user's settings; a user who never
// changed one has every toggle on and a zero UpdatedAt.
func (s *Store) NotificationSettingsOf(ctx context.Context, userID uuid.UUID) (NotificationSetting, error) {
	st, err := s.NotificationSettingsGet(ctx, userID)
	if IsNotFound(err) {
		return NotificationSetting{
			UserID: userID, Likes: true, Comments: true, Follows: true, Glitches: true, AIJob: true, Email: true,
		}, nil
	}
	if err != nil {
		return NotificationSetting{}, fmt.Errorf("notification settings: %w", translate(err, "notification settings"))
	}
	return st, nil
}
