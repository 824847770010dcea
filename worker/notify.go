package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// pushURLTTL is how long the media URLs inside a pushed notification stay
// valid; clients refetch the list for fresh ones.
const pushURLTTL = 24 * time.Hour

// pushPrivateURLTTL is the lifetime of a pushed video thumbnail's URL, as
// PRIVATE_MEDIA_URL_TTL's default.
const pushPrivateURLTTL = 5 * time.Minute

// NotifyHandler runs notify:deliver. It decides from the current state, not
// from the event: a self-action, a block either way, the recipient's setting
// being off, or the fact being undone since (unliked, unfollowed, comment
// deleted) store nothing and push nothing. Otherwise the event is stored
// once (a retry finds it): a like, follow or glitch joins the open group of
// its target, anything else is a row of its own (db.DeliverNotification).
// What changed is published on notification.Channel(recipient): a group
// whole, with its id, new seq, count and latest actors.
//
// A task that names its outbox row (payload outbox_id, migration 00032)
// deletes it in the transaction that stores the notification or finds it
// must store nothing, and drops it when the delivery fails for good; a
// transient failure leaves it for asynq's retries and then the drain.
type NotifyHandler struct {
	store   *db.Store
	rdb     redis.UniversalClient
	storage storage.Store
	log     *slog.Logger
	// groupWindow is how long a group takes new actors after its first
	// event; zero means db.DefaultNotificationGroupWindow.
	groupWindow time.Duration
}

// NewNotifyHandler returns the handler.
func NewNotifyHandler(store *db.Store, rdb redis.UniversalClient, st storage.Store, logger *slog.Logger) *NotifyHandler {
	return &NotifyHandler{store: store, rdb: rdb, storage: st, log: logger}
}

// WithGroupWindow sets how long a group takes new actors after its first
// event (NOTIFICATION_GROUP_WINDOW); zero or less keeps the default. It
// returns h.
func (h *NotifyHandler) WithGroupWindow(d time.Duration) *NotifyHandler {
	h.groupWindow = d
	return h
}

// ProcessTask implements asynq.Handler.
func (h *NotifyHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseNotify(t)
	if err != nil {
		// A payload that breaks a rule is never delivered: it is not owed.
		if p.OutboxID != nil {
			if derr := h.store.DropNotificationOutbox(ctx, *p.OutboxID); derr != nil {
				return fmt.Errorf("%w (and %w)", derr, err) // retried: the drop is
			}
		}
		return err
	}
	d, err := h.store.DeliverNotification(ctx, db.NewNotification{
		Type: p.Type, RecipientID: p.RecipientID, ActorID: p.ActorID,
		VideoID: p.VideoID, CommentID: p.CommentID, AIJobID: p.AIJobID, Message: p.Message,
		GroupWindow: h.groupWindow, OutboxID: p.OutboxID,
	})
	if err != nil {
		if code := lokiz.ErrorCode(err); code == lokiz.ENOTFOUND || code == lokiz.EINVALID {
			// A referenced row vanished between check and insert, or the
			// payload breaks a rule: retrying cannot help, so the event is
			// no longer owed either.
			if p.OutboxID != nil {
				if derr := h.store.DropNotificationOutbox(ctx, *p.OutboxID); derr != nil {
					return fmt.Errorf("%w (and %w)", err, derr)
				}
			}
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	}
	if d.Skip != "" {
		h.log.DebugContext(ctx, "notification skipped", "type", p.Type, "user_id", p.RecipientID, "reason", string(d.Skip))
		return nil
	}
	// What an earlier attempt stored is pushed again only on a retry, whose
	// earlier attempt may have failed to publish (the item as it is now,
	// perhaps grown since); a second event for the same fact (liked again
	// while the first is still in its group) stays quiet.
	if !d.Inserted {
		if retry, _ := asynq.GetRetryCount(ctx); retry == 0 {
			return nil
		}
	}
	n := notification.Render(d.Notification, h.mediaURL(ctx, d.Notification.VideoThumbnailKey))
	if err := notification.Publish(ctx, h.rdb, p.RecipientID, n, d.UnreadCount); err != nil {
		return err
	}
	h.enqueueEmail(ctx, p) // worker/email.go
	return nil
}

// mediaURL renders keys the way the api does; a key that does not render
// shows no image rather than failing the push. The video's thumbnail, which
// may be a private video's, gets a signed URL that lives
// pushPrivateURLTTL, never a CDN URL.
func (h *NotifyHandler) mediaURL(ctx context.Context, thumbnail *string) notification.URLFunc {
	return func(key *string) *string {
		if key == nil || *key == "" || h.storage == nil {
			return nil
		}
		url, ttl := h.storage.URL, pushURLTTL
		if thumbnail != nil && *key == *thumbnail {
			url, ttl = h.storage.SignedURL, pushPrivateURLTTL
		}
		u, err := url(ctx, *key, ttl)
		if err != nil {
			h.log.WarnContext(ctx, "render media url", "key", *key, "error", err)
			return nil
		}
		return &u
	}
}
