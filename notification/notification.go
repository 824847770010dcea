// Package notification is what the api and the worker share about
// notifications: the JSON shape clients see (in the list and in the realtime
// push), the text each type shows, and the Redis channel the worker
// publishes on and the api's WebSocket subscribes to.
package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// ChannelPrefix starts the Redis pub/sub channel of each user's pushes.
const ChannelPrefix = "lokiz:notifications:"

// Channel is the Redis channel on which userID's new notifications are
// published, across api replicas.
func Channel(userID uuid.UUID) string { return ChannelPrefix + userID.String() }

// EventType is the type of a pushed notification event.
const EventType = "notification"

// UnreadCountEventType is the type of the event published when a read mark
// changes the recipient's unread count.
const UnreadCountEventType = "unread_count"

// VideoSummary is the small video card a notification embeds.
type VideoSummary struct {
	ID           uuid.UUID `json:"id"`
	ThumbnailURL *string   `json:"thumbnail_url"`
	Caption      string    `json:"caption"`
}

// Notification is one notification as clients see it.
type Notification struct {
	ID   uuid.UUID `json:"id"`
	Type string    `json:"type"`
	// Actor is nil for notifications nobody caused (ai_job, system) and
	// when the actor's account is gone.
	Actor *lokiz.UserBasic `json:"actor"`
	// Video is nil when the notification names no video or it was deleted.
	Video *VideoSummary `json:"video"`
	// TargetID is the comment for comment types, the AI job for ai_job, the
	// video otherwise, and nil for follow and system.
	TargetID  *uuid.UUID `json:"target_id"`
	Message   string     `json:"message"`
	IsRead    bool       `json:"is_read"`
	CreatedAt time.Time  `json:"created_at"`
	// Seq is the notification's position among its recipient's changes:
	// it grows each time the item is stored or changes. A WebSocket client
	// that reconnects passes the highest Seq it saw as ?since=.
	Seq int64 `json:"seq"`
}

// Event is the message published on Channel: the new notification and the
// recipient's unread count including it.
type Event struct {
	Type         string       `json:"type"`
	Notification Notification `json:"notification"`
	UnreadCount  int64        `json:"unread_count"`
}

// URLFunc renders a stored object key as a URL, nil for no key.
type URLFunc func(key *string) *string

// Render turns a stored notification into its client shape; url renders
// the media keys (profile image, thumbnail).
func Render(v db.NotificationView, url URLFunc) Notification {
	n := Notification{
		ID:        v.ID,
		Type:      v.Type,
		IsRead:    v.IsRead,
		CreatedAt: v.CreatedAt.UTC(),
		Seq:       v.Seq,
	}
	actorName := "Someone"
	if v.ActorID != nil && v.ActorUsername != nil {
		img := url(v.ActorProfileImageKey)
		n.Actor = &lokiz.UserBasic{
			ID: *v.ActorID, Username: *v.ActorUsername, DisplayName: v.ActorDisplayName,
			ProfileImageURL: img, ProfileImage: img,
		}
		actorName = *v.ActorUsername
		if v.ActorDisplayName != nil && *v.ActorDisplayName != "" {
			actorName = *v.ActorDisplayName
		}
	}
	if v.VideoSummaryID != nil {
		caption := ""
		if v.VideoCaption != nil {
			caption = *v.VideoCaption
		}
		n.Video = &VideoSummary{ID: *v.VideoSummaryID, ThumbnailURL: url(v.VideoThumbnailKey), Caption: caption}
	}
	switch v.Type {
	case db.NotificationComment, db.NotificationCommentLike:
		n.TargetID = v.CommentID
	case db.NotificationAIJob:
		n.TargetID = v.AIJobID
	case db.NotificationFollow, db.NotificationSystem:
	default:
		n.TargetID = v.VideoID
	}
	n.Message = Message(v.Type, actorName, v.Message)
	return n
}

// Message is the text a notification shows: the stored message when the
// event carried one, else a sentence made from the type and the actor's
// current name.
func Message(typ, actorName string, stored *string) string {
	if stored != nil && *stored != "" {
		return *stored
	}
	switch typ {
	case db.NotificationLike:
		return actorName + " liked your video"
	case db.NotificationComment:
		return actorName + " commented on your video"
	case db.NotificationCommentLike:
		return actorName + " liked your comment"
	case db.NotificationFollow:
		return actorName + " started following you"
	case db.NotificationGlitch:
		return actorName + " glitched your video"
	case db.NotificationAIJob:
		return "Your AI job has finished"
	}
	return "You have a new notification"
}

// UnreadCountEvent is the message published on Channel when the recipient
// marked notifications read: the unread count after the mark.
type UnreadCountEvent struct {
	Type        string `json:"type"`
	UnreadCount int64  `json:"unread_count"`
}

// PublishUnreadCount tells userID's open sockets, on every api replica, that
// the unread count is now unread. Like Publish, at most once: a client that
// missed it reads the count on reconnect.
func PublishUnreadCount(ctx context.Context, rdb redis.UniversalClient, userID uuid.UUID, unread int64) error {
	raw, err := json.Marshal(UnreadCountEvent{Type: UnreadCountEventType, UnreadCount: unread})
	if err != nil {
		return fmt.Errorf("encode unread count event: %w", err)
	}
	if err := rdb.Publish(ctx, Channel(userID), raw).Err(); err != nil {
		return fmt.Errorf("publish unread count: %w", err)
	}
	return nil
}

// Publish sends n to the recipient's channel. Delivery is at most once and
// only to subscribers listening now: the stored row is the record, the push
// only makes it appear at once.
func Publish(ctx context.Context, rdb redis.UniversalClient, recipientID uuid.UUID, n Notification, unread int64) error {
	raw, err := json.Marshal(Event{Type: EventType, Notification: n, UnreadCount: unread})
	if err != nil {
		return fmt.Errorf("encode notification event: %w", err)
	}
	if err := rdb.Publish(ctx, Channel(recipientID), raw).Err(); err != nil {
		return fmt.Errorf("publish notification %s: %w", n.ID, err)
	}
	return nil
}
