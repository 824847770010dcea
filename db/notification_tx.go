package db

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// DefaultNotificationGroupWindow is how long a group stays open after its
// first event when NewNotification.GroupWindow is zero
// (NOTIFICATION_GROUP_WINDOW's default).
const DefaultNotificationGroupWindow = 24 * time.Hour

// NotificationGrouped reports whether notifications of typ are grouped:
// likes per video, follows per recipient and glitches per video (migration
// 00024 states the rule). Comments, comment likes, AI jobs and system
// messages stay one notification each.
func NotificationGrouped(typ string) bool {
	return typ == NotificationLike || typ == NotificationFollow || typ == NotificationGlitch
}

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
	// GroupWindow is how long after its first event a group takes new
	// actors (likes, follows, glitches); zero means
	// DefaultNotificationGroupWindow.
	GroupWindow time.Duration
	// OutboxID, when set, is the outbox row this delivery settles
	// (migration 00032): DeliverNotification deletes it in the transaction
	// that stores the notification, or that finds it must store nothing.
	OutboxID *uuid.UUID
}

// NotificationDelivery is the outcome of DeliverNotification.
type NotificationDelivery struct {
	// Skip is why nothing was stored; "" when Notification is set.
	Skip NotificationSkip
	// Inserted is true when this call changed what the recipient sees: it
	// stored a new notification, opened a group, or added its actor to an
	// open group (or moved a glitch's actor to the front). It is false when
	// an earlier delivery of the same fact or event already had.
	Inserted bool
	// Opened is true when Inserted made a new item (a single notification
	// or a new group) rather than growing an open group.
	Opened bool
	// Notification is the stored row (for a group, the whole group as it is
	// now) as the api lists it.
	Notification NotificationView
	// UnreadCount is the recipient's unread count after the delivery; a
	// group that grows was unread already and adds nothing.
	UnreadCount int64
}

// DeliverNotification stores n unless the current state says not to: the
// actor is the recipient, a block stands between them, the recipient turned
// the type off, or the fact behind it no longer exists. The checks and the
// write run in one transaction that holds the fact row FOR SHARE, so an
// undo racing the delivery waits for it and then removes what it stored
// (NotificationDeleteForFact).
//
// A like, follow or glitch joins the open group of its target (see
// NotificationGrouped and migration 00024): the group is locked, the actor
// added, and the group takes a new seq and the newest time; with no open
// group, or one older than n.GroupWindow, a new group is opened. Any other
// type is a row of its own. Delivering the same fact or event twice changes
// nothing the second time: it returns the notification with Inserted false.
//
// With n.OutboxID set, the outbox row is deleted in the same transaction,
// whatever the outcome but an error: "delivered" and "no longer owed"
// commit together.
func (s *Store) DeliverNotification(ctx context.Context, n NewNotification) (NotificationDelivery, error) {
	if n.ActorID != nil && *n.ActorID == n.RecipientID {
		if n.OutboxID != nil {
			if err := s.DropNotificationOutbox(ctx, *n.OutboxID); err != nil {
				return NotificationDelivery{}, err
			}
		}
		return NotificationDelivery{Skip: NotificationSkipSelf}, nil
	}
	if NotificationGrouped(n.Type) && n.ActorID == nil {
		return NotificationDelivery{}, fmt.Errorf("deliver %s notification: %w", n.Type, errGroupNeedsActor)
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
		if n.OutboxID != nil {
			// Locks the row: a drain claiming it skips it, and a repeat of
			// this delivery waits for this one.
			if _, err := q.NotificationOutboxDelete(ctx, *n.OutboxID); err != nil {
				return err
			}
		}
		if out.Skip != "" {
			return nil
		}
		var id uuid.UUID
		if NotificationGrouped(n.Type) {
			id, out.Inserted, out.Opened, err = joinGroup(ctx, q, n)
		} else {
			id, out.Inserted, err = insertSingle(ctx, q, n)
			out.Opened = out.Inserted
		}
		if err != nil {
			return err
		}
		// As the recipient sees it (the actor was just checked, so it is
		// visible); a group whole, with its count and latest actors.
		out.Notification, err = q.NotificationGetForUser(ctx, NotificationGetForUserParams{ID: id, UserID: n.RecipientID})
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

var errGroupNeedsActor = errors.New("a grouped notification needs an actor")

// insertSingle stores a notification that is not grouped, once per fact or
// event (the unique indexes of migrations 00003 and 00024).
func insertSingle(ctx context.Context, q *Queries, n NewNotification) (uuid.UUID, bool, error) {
	id, err := q.NotificationInsert(ctx, NotificationInsertParams{
		ID: NewID(), UserID: n.RecipientID, Type: n.Type, ActorID: n.ActorID,
		VideoID: n.VideoID, CommentID: n.CommentID, AIJobID: n.AIJobID, Message: n.Message,
	})
	if err == nil {
		return id, true, nil
	}
	if !IsNotFound(err) {
		return uuid.Nil, false, err
	}
	// ON CONFLICT DO NOTHING: already delivered.
	v, err := q.NotificationGetByFact(ctx, NotificationGetByFactParams{
		UserID: n.RecipientID, Type: n.Type, ActorID: n.ActorID,
		VideoID: n.VideoID, CommentID: n.CommentID, AIJobID: n.AIJobID,
	})
	return v.ID, false, err
}

// groupAttempts bounds how often joinGroup looks for the open group again
// after a concurrent delivery opened one first; each retry finds that one.
const groupAttempts = 5

// joinGroup adds n's actor to the open group of its target, opening one
// when there is none or it is older than the window. It returns the group
// whether this call changed it, and whether it opened it.
func joinGroup(ctx context.Context, q *Queries, n NewNotification) (id uuid.UUID, changed, opened bool, err error) {
	// Likes and follows carry no event id: the fact is the actor and target.
	var event *uuid.UUID
	if n.Type == NotificationGlitch {
		event = n.AIJobID
	}
	target := n.VideoID
	if n.Type == NotificationFollow {
		target = nil
	}
	fact := NotificationGroupOfFactParams{UserID: n.RecipientID, Type: n.Type, ActorID: *n.ActorID, VideoID: target, AIJobID: event}
	if id, err := q.NotificationGroupOfFact(ctx, fact); err == nil {
		return id, false, false, nil // delivered before: a retry or a second event for the fact
	} else if !IsNotFound(err) {
		return uuid.Nil, false, false, err
	}
	window := n.GroupWindow
	if window <= 0 {
		window = DefaultNotificationGroupWindow
	}
	for range groupAttempts {
		id, opened = uuid.Nil, false
		g, err := q.NotificationGroupLockOpen(ctx, NotificationGroupLockOpenParams{
			UserID: n.RecipientID, Type: n.Type, VideoID: target, WindowSeconds: window.Seconds(),
		})
		switch {
		case err == nil && g.Fresh:
			id = g.ID
		case err == nil: // open but too old: closed, and a new one opened below
			if err := q.NotificationGroupClose(ctx, g.ID); err != nil {
				return uuid.Nil, false, false, err
			}
		case !IsNotFound(err):
			return uuid.Nil, false, false, err
		}
		if id == uuid.Nil {
			id, err = q.NotificationGroupInsert(ctx, NotificationGroupInsertParams{
				ID: NewID(), UserID: n.RecipientID, Type: n.Type, VideoID: target,
			})
			if IsNotFound(err) {
				continue // a concurrent delivery opened the group first: lock that one
			}
			if err != nil {
				return uuid.Nil, false, false, err
			}
			opened = true
		}
		added, err := q.NotificationActorAdd(ctx, NotificationActorAddParams{
			NotificationID: id, ActorID: *n.ActorID, UserID: n.RecipientID, Type: n.Type, VideoID: target, AIJobID: event,
		})
		if err != nil {
			return uuid.Nil, false, false, err
		}
		if added == 1 {
			return id, true, opened, nil
		}
		if n.Type == NotificationGlitch && !opened {
			// The actor glitched this video before, within this group: the
			// new glitch moves them to the front; the count stays.
			moved, err := q.NotificationActorRefresh(ctx, NotificationActorRefreshParams{
				NotificationID: id, ActorID: *n.ActorID, AIJobID: event,
			})
			if err != nil {
				return uuid.Nil, false, false, err
			}
			if moved == 1 {
				return id, true, false, nil
			}
		}
		// The fact is held by another group (a concurrent repeat of this
		// delivery committed first): nothing changes.
		if opened {
			if err := q.NotificationGroupDeleteEmpty(ctx, id); err != nil {
				return uuid.Nil, false, false, err
			}
		}
		id, err = q.NotificationGroupOfFact(ctx, fact)
		return id, false, false, err
	}
	return uuid.Nil, false, false, fmt.Errorf("no open %s group found after %d attempts", n.Type, groupAttempts)
}

// NotificationDeleteForFact removes the notification of an undone fact: the
// like (actor liked video of recipient), the follow (video and comment nil)
// or the comment like (comment). A like or follow takes its actor out of
// its group: the count goes down, the latest actors and the newest time are
// recomputed, the group takes a new seq, and a group left empty is deleted.
// Call it after the unlike or unfollow commits, or in its transaction
// (deleteForFact). It returns how many rows it removed (0 or 1); removing
// nothing is not an error.
func (s *Store) NotificationDeleteForFact(ctx context.Context, typ string, actorID, recipientID uuid.UUID, videoID, commentID *uuid.UUID) (int64, error) {
	n, err := deleteForFact(ctx, s.Queries, typ, actorID, recipientID, videoID, commentID)
	if err != nil {
		return 0, fmt.Errorf("delete %s notification: %w", typ, translate(err, "notification"))
	}
	return n, nil
}

// deleteForFact is NotificationDeleteForFact through q.
func deleteForFact(ctx context.Context, q *Queries, typ string, actorID, recipientID uuid.UUID, videoID, commentID *uuid.UUID) (int64, error) {
	if NotificationGrouped(typ) {
		if typ == NotificationFollow {
			videoID = nil
		}
		return q.NotificationActorRemoveFact(ctx, NotificationActorRemoveFactParams{
			UserID: recipientID, Type: typ, ActorID: actorID, VideoID: videoID,
		})
	}
	return q.NotificationDeleteForFact(ctx, NotificationDeleteForFactParams{
		UserID: recipientID, Type: typ, ActorID: &actorID, VideoID: videoID, CommentID: commentID,
	})
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
