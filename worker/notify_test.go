package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// notifyRedisDB is the Redis database of the notification tests. Pub/sub
// channels are server-wide, but each test's channels name its own users.
const notifyRedisDB = 10

type notifyBundle struct {
	store   *db.Store
	rdb     *redis.Client
	h       *NotifyHandler
	owner   db.User
	actor   db.User
	videoID uuid.UUID
}

func newNotifyBundle(t *testing.T) *notifyBundle {
	t.Helper()
	store := dbtest.NewStore(t)
	rdb := testkit.Redis(t, notifyRedisDB)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logger, _ := newLogger()
	b := &notifyBundle{
		store: store, rdb: rdb, h: NewNotifyHandler(store, rdb, st, logger),
		owner: dbtest.CreateUser(t, store, dbtest.UserOpts{}),
		actor: dbtest.CreateUser(t, store, dbtest.UserOpts{}),
	}
	b.videoID = b.createVideo(t, b.owner.ID)
	return b
}

func (b *notifyBundle) createVideo(t *testing.T, owner uuid.UUID) uuid.UUID {
	t.Helper()
	return dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: owner, Caption: "sunset #beach"}).ID
}

func (b *notifyBundle) like(t *testing.T, actor, video uuid.UUID) {
	t.Helper()
	dbtest.Like(t, b.store, dbtest.LikeOpts{User: actor, Video: video})
}

func (b *notifyBundle) count(t *testing.T, recipient uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM notifications WHERE user_id = $1`, recipient).Scan(&n))
	return n
}

func (b *notifyBundle) process(t *testing.T, p tasks.NotifyPayload) {
	t.Helper()
	task, err := tasks.NewNotifyTask(p)
	require.NoError(t, err)
	require.NoError(t, b.h.ProcessTask(context.Background(), task))
}

// listen subscribes to recipient's channel and returns the next message
// function. next publishes a sentinel of its own first when wantNone is set,
// so "nothing was pushed" is checked without sleeping: the handler's PUBLISH
// returned before the sentinel was sent, so it would arrive first.
func (b *notifyBundle) listen(t *testing.T, recipient uuid.UUID) (next func() map[string]any, nothing func()) {
	t.Helper()
	ctx := context.Background()
	sub := b.rdb.Subscribe(ctx, notification.Channel(recipient))
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscription confirmation
	require.NoError(t, err)
	ch := sub.Channel()
	next = func() map[string]any {
		t.Helper()
		select {
		case m := <-ch:
			var out map[string]any
			require.NoError(t, json.Unmarshal([]byte(m.Payload), &out), m.Payload)
			return out
		case <-time.After(5 * time.Second):
			t.Fatal("no message published")
			return nil
		}
	}
	nothing = func() {
		t.Helper()
		require.NoError(t, b.rdb.Publish(ctx, notification.Channel(recipient), `{"sentinel":true}`).Err())
		require.Equal(t, map[string]any{"sentinel": true}, next(), "nothing but the sentinel was published")
	}
	return next, nothing
}

func TestNotifyHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LikeIsStoredAndPushed", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		next, nothing := b.listen(t, b.owner.ID)
		b.like(t, b.actor.ID, b.videoID)
		p := tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID}
		b.process(t, p)

		var id uuid.UUID
		var created time.Time
		var seq int64
		require.NoError(t, b.store.Pool().QueryRow(ctx,
			`SELECT id, created_at, seq FROM notifications WHERE user_id = $1`, b.owner.ID).Scan(&id, &created, &seq))
		msg := next()
		n := msg["notification"].(map[string]any)
		video := n["video"].(map[string]any)
		require.Contains(t, video["thumbnail_url"], "http://localhost:8000/storage/thumbnails/"+b.videoID.String()+".jpg")
		video["thumbnail_url"] = "<signed>"
		require.Equal(t, map[string]any{
			"type":         "notification",
			"unread_count": float64(1),
			"notification": map[string]any{
				"id":   id.String(),
				"type": "like",
				"actor": map[string]any{
					"id": b.actor.ID.String(), "username": b.actor.Username, "display_name": *b.actor.DisplayName,
					"profile_image_url": nil, "profile_image": nil,
				},
				"actors": []any{map[string]any{
					"id": b.actor.ID.String(), "username": b.actor.Username, "display_name": *b.actor.DisplayName,
					"profile_image_url": nil, "profile_image": nil,
				}},
				"count":      float64(1),
				"video":      map[string]any{"id": b.videoID.String(), "thumbnail_url": "<signed>", "caption": "sunset #beach"},
				"target_id":  b.videoID.String(),
				"message":    *b.actor.DisplayName + " liked your video",
				"is_read":    false,
				"created_at": created.UTC().Format(time.RFC3339Nano),
				"seq":        float64(seq),
			},
		}, msg)

		// A retried (or repeated) delivery stores no second row, and outside
		// a retry pushes nothing again.
		b.process(t, p)
		require.Equal(t, 1, b.count(t, b.owner.ID))
		nothing()
	})

	t.Run("FollowHasNoTarget", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		next, _ := b.listen(t, b.owner.ID)
		dbtest.Follow(t, b.store, dbtest.FollowOpts{Follower: b.actor.ID, Following: b.owner.ID})
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyFollow, RecipientID: b.owner.ID, ActorID: &b.actor.ID})
		n := next()["notification"].(map[string]any)
		require.Equal(t, "follow", n["type"])
		require.Nil(t, n["target_id"])
		require.Nil(t, n["video"])
		require.Equal(t, *b.actor.DisplayName+" started following you", n["message"])
	})

	t.Run("CommentTargetsTheComment", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		next, nothing := b.listen(t, b.owner.ID)
		commentID := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: b.actor.ID, Video: b.videoID})
		p := tasks.NotifyPayload{Type: tasks.NotifyComment, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID, CommentID: &commentID}
		b.process(t, p)
		n := next()["notification"].(map[string]any)
		require.Equal(t, commentID.String(), n["target_id"])
		require.Equal(t, b.videoID.String(), n["video"].(map[string]any)["id"])
		b.process(t, p)
		require.Equal(t, 1, b.count(t, b.owner.ID), "a retried comment delivery stores one row")

		// A comment deleted before its delivery notifies nobody.
		gone := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: b.actor.ID, Video: b.videoID, Content: "oops"})
		deleted, err := b.store.CommentDelete(context.Background(), gone)
		require.NoError(t, err)
		require.EqualValues(t, 1, deleted)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyComment, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID, CommentID: &gone})
		require.Equal(t, 1, b.count(t, b.owner.ID))
		nothing()
	})

	t.Run("AIJobHasNoActor", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		next, _ := b.listen(t, b.owner.ID)
		jobID := dbtest.AIJob(t, b.store, dbtest.AIJobOpts{User: b.owner.ID}).ID
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyAIJob, RecipientID: b.owner.ID, AIJobID: &jobID, Message: ptr("Your music is ready")})
		n := next()["notification"].(map[string]any)
		require.Nil(t, n["actor"])
		require.Equal(t, jobID.String(), n["target_id"])
		require.Equal(t, "Your music is ready", n["message"])
	})

	t.Run("SettingOffStoresAndPushesNothing", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		_, nothing := b.listen(t, b.owner.ID)
		_, err := b.store.NotificationSettingsUpdate(ctx, db.NotificationSettingsUpdateParams{UserID: b.owner.ID, Likes: ptr(false)})
		require.NoError(t, err)
		b.like(t, b.actor.ID, b.videoID)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID})
		require.Equal(t, 0, b.count(t, b.owner.ID))
		nothing()

		// Other types stay on.
		dbtest.Follow(t, b.store, dbtest.FollowOpts{Follower: b.actor.ID, Following: b.owner.ID})
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyFollow, RecipientID: b.owner.ID, ActorID: &b.actor.ID})
		require.Equal(t, 1, b.count(t, b.owner.ID))
	})

	t.Run("SelfActionStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		_, nothing := b.listen(t, b.owner.ID)
		b.like(t, b.owner.ID, b.videoID)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &b.owner.ID, VideoID: &b.videoID})
		require.Equal(t, 0, b.count(t, b.owner.ID))
		nothing()
	})

	t.Run("UnlikedBeforeDeliveryStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		_, nothing := b.listen(t, b.owner.ID)
		b.like(t, b.actor.ID, b.videoID)
		_, err := b.store.UnlikeVideo(context.Background(), b.actor.ID, b.videoID, b.owner.ID)
		require.NoError(t, err)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID})
		require.Equal(t, 0, b.count(t, b.owner.ID))

		// Unfollowed before delivery, likewise.
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyFollow, RecipientID: b.owner.ID, ActorID: &b.actor.ID})
		require.Equal(t, 0, b.count(t, b.owner.ID))
		nothing()
	})

	t.Run("LikeOfSomeoneElsesVideoIsNotTheRecipients", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		other := b.createVideo(t, b.actor.ID)
		third := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		b.like(t, third.ID, other)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &third.ID, VideoID: &other})
		require.Equal(t, 0, b.count(t, b.owner.ID))
	})

	t.Run("BlockEitherWayStoresNothing", func(t *testing.T) {
		t.Parallel()
		for _, recipientBlocks := range []bool{true, false} {
			b := newNotifyBundle(t)
			_, nothing := b.listen(t, b.owner.ID)
			blocker, blocked := b.owner.ID, b.actor.ID
			if !recipientBlocks {
				blocker, blocked = blocked, blocker
			}
			dbtest.Block(t, b.store, dbtest.BlockOpts{Blocker: blocker, Blocked: blocked})
			b.like(t, b.actor.ID, b.videoID)
			b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID})
			require.Equal(t, 0, b.count(t, b.owner.ID))
			nothing()
		}
	})

	t.Run("BadPayloadIsNotRetried", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		err := b.h.ProcessTask(ctx, asynq.NewTask(tasks.TypeNotify, []byte(`{"type":"like"}`)))
		require.ErrorIs(t, err, asynq.SkipRetry)
	})

	t.Run("ThroughTheMux", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		logger, _ := newLogger()
		mux := NewMux(Deps{Store: b.store, Redis: b.rdb, Logger: logger})
		next, _ := b.listen(t, b.owner.ID)
		dbtest.Follow(t, b.store, dbtest.FollowOpts{Follower: b.actor.ID, Following: b.owner.ID})
		task, err := tasks.NewNotifyTask(tasks.NotifyPayload{Type: tasks.NotifyFollow, RecipientID: b.owner.ID, ActorID: &b.actor.ID})
		require.NoError(t, err)
		require.NoError(t, mux.ProcessTask(ctx, task))
		require.Equal(t, "follow", next()["notification"].(map[string]any)["type"])
	})
}
