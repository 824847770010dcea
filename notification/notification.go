// Package notification is what the api and the worker share about
// notifications: the JSON shape clients see (in the list and in the realtime
// push), the text each type shows, and the Redis channel the worker
// publishes on and the api's WebSocket subscribes to.
package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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

// Notification is one notification as clients see it. Likes of a video,
// follows and glitches of a video are groups (migration 00024): one item
// that grows while it is unread and young, keeping its ID; Count is how
// many users it names and Actors the latest few. Any other type has Count 1.
type Notification struct {
	ID   uuid.UUID `json:"id"`
	Type string    `json:"type"`
	// Actor is the latest actor (of a group: the newest the recipient may
	// see); nil for notifications nobody caused (ai_job, system) and when
	// the actor's account is gone.
	Actor *lokiz.UserBasic `json:"actor"`
	// Actors are the latest actors, newest first, at most LatestActors:
	// [Actor] for a single notification with an actor, empty without one.
	Actors []lokiz.UserBasic `json:"actors"`
	// Count is how many users the item names: the actors of a group the
	// recipient may see (users on either side of a block are left out),
	// 1 for any other notification.
	Count int64 `json:"count"`
	// Video is nil when the notification names no video or it was deleted.
	Video *VideoSummary `json:"video"`
	// TargetID is the comment for comment types, the AI job for ai_job, the
	// video otherwise, and nil for follow and system.
	TargetID *uuid.UUID `json:"target_id"`
	Message  string     `json:"message"`
	IsRead   bool       `json:"is_read"`
	// CreatedAt is when the item was stored; for a group, the time of its
	// newest event (it moves as the group grows).
	CreatedAt time.Time `json:"created_at"`
	// Seq is the notification's position among its recipient's changes:
	// it grows each time the item is stored or changes. A WebSocket client
	// that reconnects passes the highest Seq it saw as ?since=.
	Seq int64 `json:"seq"`
}

// LatestActors is how many actors a group shows (notification_views).
const LatestActors = 3

// Event is the message published on Channel: the new or grown notification
// (a group whole, with the same id as before) and the recipient's unread
// count including it; a group that grows was unread already and does not
// add to it.
type Event struct {
	Type         string       `json:"type"`
	Notification Notification `json:"notification"`
	UnreadCount  int64        `json:"unread_count"`
}

// URLFunc renders a stored object key as a URL, nil for no key.
type URLFunc func(key *string) *string

// groupActor is one element of notification_views.group_actors.
type groupActor struct {
	ID              uuid.UUID `json:"id"`
	Username        string    `json:"username"`
	DisplayName     *string   `json:"display_name"`
	ProfileImageKey *string   `json:"profile_image_key"`
}

// Render turns a stored notification into its client shape; url renders
// the media keys (profile image, thumbnail).
func Render(v db.NotificationView, url URLFunc) Notification {
	n := Notification{
		ID:        v.ID,
		Type:      v.Type,
		Actors:    []lokiz.UserBasic{},
		Count:     v.GroupCount,
		IsRead:    v.IsRead,
		CreatedAt: v.CreatedAt.UTC(),
		Seq:       v.Seq,
	}
	actorName := "Someone"
	if v.ActorID != nil && v.ActorUsername != nil {
		n.Actor = userBasic(*v.ActorID, *v.ActorUsername, v.ActorDisplayName, v.ActorProfileImageKey, url)
		actorName = displayName(*v.ActorUsername, v.ActorDisplayName)
	}
	var group []groupActor
	if len(v.GroupActors) > 0 && json.Unmarshal(v.GroupActors, &group) == nil {
		for _, a := range group {
			n.Actors = append(n.Actors, *userBasic(a.ID, a.Username, a.DisplayName, a.ProfileImageKey, url))
		}
	} else if n.Actor != nil {
		n.Actors = append(n.Actors, *n.Actor)
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
	n.Message = GroupMessage(v.Type, actorName, n.Count, v.Message)
	return n
}

func userBasic(id uuid.UUID, username string, display, imageKey *string, url URLFunc) *lokiz.UserBasic {
	img := url(imageKey)
	return &lokiz.UserBasic{ID: id, Username: username, DisplayName: display, ProfileImageURL: img, ProfileImage: img}
}

// displayName is how a message names a user: the display name when set.
func displayName(username string, display *string) string {
	if display != nil && *display != "" {
		return *display
	}
	return username
}

// Message is the text a notification shows: the stored message when the
// event carried one, else a sentence made from the type and the actor's
// current name.
func Message(typ, actorName string, stored *string) string {
	return GroupMessage(typ, actorName, 1, stored)
}

// GroupMessage is Message for an item that names count users, actorName
// the latest: "mina and 12 others liked your video". A count below 2 is
// Message's sentence.
func GroupMessage(typ, actorName string, count int64, stored *string) string {
	if stored != nil && *stored != "" {
		return *stored
	}
	who := actorName
	switch {
	case count == 2:
		who = actorName + " and 1 other"
	case count > 2:
		who = actorName + " and " + strconv.FormatInt(count-1, 10) + " others"
	}
	switch typ {
	case db.NotificationLike:
		return who + " liked your video"
	case db.NotificationComment:
		return who + " commented on your video"
	case db.NotificationCommentLike:
		return who + " liked your comment"
	case db.NotificationFollow:
		return who + " started following you"
	case db.NotificationGlitch:
		return who + " glitched your video"
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
