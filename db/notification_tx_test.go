package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestNotificationDeleteForFact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	actor := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := store.Pool().Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	videoID := db.NewID()
	exec(`INSERT INTO videos (id, user_id, status) VALUES ($1, $2, 'completed')`, videoID, owner.ID)
	exec(`INSERT INTO likes (id, user_id, video_id) VALUES ($1, $2, $3)`, db.NewID(), actor.ID, videoID)
	exec(`INSERT INTO follows (id, follower_id, following_id) VALUES ($1, $2, $3)`, db.NewID(), actor.ID, owner.ID)
	like := db.NewNotification{Type: db.NotificationLike, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &videoID}
	follow := db.NewNotification{Type: db.NotificationFollow, RecipientID: owner.ID, ActorID: &actor.ID}
	count := func() int64 {
		t.Helper()
		c, err := store.NotificationCountsByUser(ctx, owner.ID)
		require.NoError(t, err)
		return c.Total
	}

	d, err := store.DeliverNotification(ctx, like)
	require.NoError(t, err)
	require.True(t, d.Inserted)
	require.Equal(t, int64(1), d.UnreadCount)
	first := d.Notification
	d, err = store.DeliverNotification(ctx, like)
	require.NoError(t, err)
	require.False(t, d.Inserted, "the same fact delivered again is the same row")
	require.Equal(t, first.ID, d.Notification.ID)
	require.Equal(t, first.Seq, d.Notification.Seq)
	_, err = store.DeliverNotification(ctx, follow)
	require.NoError(t, err)
	require.Equal(t, int64(2), count())

	// Unlike: the like's notification goes, the follow's stays.
	exec(`DELETE FROM likes WHERE user_id = $1 AND video_id = $2`, actor.ID, videoID)
	n, err := store.NotificationDeleteForFact(ctx, db.NotificationLike, actor.ID, owner.ID, &videoID, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, int64(1), count())
	n, err = store.NotificationDeleteForFact(ctx, db.NotificationLike, actor.ID, owner.ID, &videoID, nil)
	require.NoError(t, err)
	require.Zero(t, n, "deleting again removes nothing and is no error")
	other := uuid.New()
	n, err = store.NotificationDeleteForFact(ctx, db.NotificationLike, actor.ID, owner.ID, &other, nil)
	require.NoError(t, err)
	require.Zero(t, n)

	// Unfollow: nil video and comment match the follow's NULLs.
	n, err = store.NotificationDeleteForFact(ctx, db.NotificationFollow, actor.ID, owner.ID, nil, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Zero(t, count())

	// Liked again: notified again, once.
	exec(`INSERT INTO likes (id, user_id, video_id) VALUES ($1, $2, $3)`, db.NewID(), actor.ID, videoID)
	d, err = store.DeliverNotification(ctx, like)
	require.NoError(t, err)
	require.True(t, d.Inserted)
	require.Equal(t, int64(1), count())
}

func TestNotificationFactKeyStopsDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	actor := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	insert := func(typ string, comment *uuid.UUID) error {
		_, err := store.Pool().Exec(ctx, `INSERT INTO notifications (id, user_id, type, actor_id, comment_id) VALUES ($1, $2, $3, $4, $5)`,
			db.NewID(), owner.ID, typ, actor.ID, comment)
		return err
	}
	videoID := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID}).ID
	comment := dbtest.Comment(t, store, dbtest.CommentOpts{Author: owner.ID, Video: videoID})
	require.NoError(t, insert("comment_like", &comment))
	_, ok := db.IsUniqueViolation(insert("comment_like", &comment))
	require.True(t, ok, "two comment_like notifications with a NULL video collide (NULLS NOT DISTINCT)")
	require.NoError(t, insert("system", nil))
	require.NoError(t, insert("system", nil), "system messages are not deduplicated")

	// One open group per target: a second open follow group collides.
	openGroup := func() error {
		_, err := store.Pool().Exec(ctx, `INSERT INTO notifications (id, user_id, type, actor_count, first_at, group_open)
			VALUES ($1, $2, 'follow', 0, now(), true)`, db.NewID(), owner.ID)
		return err
	}
	require.NoError(t, openGroup())
	_, ok = db.IsUniqueViolation(openGroup())
	require.True(t, ok, "two open follow groups collide")

	s, err := store.NotificationSettingsOf(ctx, owner.ID)
	require.NoError(t, err)
	require.True(t, s.Likes && s.Comments && s.Follows && s.Glitches && s.AIJob && s.Email, "no row means all on")
	require.True(t, s.UpdatedAt.IsZero())
}
