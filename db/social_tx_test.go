package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// TestUndoTakesItsNotificationInOneTransaction: an unlike, an unfollow and
// a comment unlike remove their fact and its notification together. When
// the notification cannot be removed, the fact stays too (the old handlers
// removed the fact, then the notification in a second statement whose
// failure was only logged).
func TestUndoTakesItsNotificationInOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	pool := store.Pool()
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	actor := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID}).ID
	comment := dbtest.Comment(t, store, dbtest.CommentOpts{Author: owner.ID, Video: video})

	do := func() {
		t.Helper()
		_, err := store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: actor.ID, VideoID: video})
		require.NoError(t, err)
		_, err = store.FollowAdd(ctx, db.FollowAddParams{ID: db.NewID(), FollowerID: actor.ID, FollowingID: owner.ID})
		require.NoError(t, err)
		_, err = store.CommentLikeAdd(ctx, db.CommentLikeAddParams{ID: db.NewID(), UserID: actor.ID, CommentID: comment})
		require.NoError(t, err)
		for _, n := range []db.NewNotification{
			{Type: db.NotificationLike, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &video},
			{Type: db.NotificationFollow, RecipientID: owner.ID, ActorID: &actor.ID},
			{Type: db.NotificationCommentLike, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &video, CommentID: &comment},
		} {
			_, err := store.DeliverNotification(ctx, n)
			require.NoError(t, err)
		}
	}
	facts := func() (likes, follows, commentLikes, notes int) {
		t.Helper()
		require.NoError(t, pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM likes WHERE user_id = $1),
			(SELECT count(*) FROM follows WHERE follower_id = $1),
			(SELECT count(*) FROM comment_likes WHERE user_id = $1),
			(SELECT count(*) FROM notifications WHERE user_id = $2)`, actor.ID, owner.ID).
			Scan(&likes, &follows, &commentLikes, &notes))
		return
	}
	undo := func() []error {
		_, e1 := store.UnlikeVideo(ctx, actor.ID, video, owner.ID)
		_, e2 := store.Unfollow(ctx, actor.ID, owner.ID)
		_, e3 := store.UnlikeComment(ctx, actor.ID, comment, owner.ID, video)
		return []error{e1, e2, e3}
	}

	do()
	l, f, cl, n := facts()
	require.Equal(t, [4]int{1, 1, 1, 3}, [4]int{l, f, cl, n})

	// The notifications cannot be deleted: every undo fails whole.
	_, err := pool.Exec(ctx, `CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'notifications are read-only in this test'; END $$;
		CREATE TRIGGER refuse_delete BEFORE DELETE ON notifications FOR EACH ROW EXECUTE FUNCTION refuse_delete()`)
	require.NoError(t, err)
	for i, err := range undo() {
		require.Error(t, err, "undo %d", i)
	}
	l, f, cl, n = facts()
	require.Equal(t, [4]int{1, 1, 1, 3}, [4]int{l, f, cl, n}, "no fact left without its notification")
	var likeCount int32
	require.NoError(t, pool.QueryRow(ctx, `SELECT like_count FROM videos WHERE id = $1`, video).Scan(&likeCount))
	require.Equal(t, int32(1), likeCount, "the counter did not move either")

	// With deletes allowed, each undo takes its fact and its notification.
	_, err = pool.Exec(ctx, `DROP TRIGGER refuse_delete ON notifications`)
	require.NoError(t, err)
	for i, err := range undo() {
		require.NoError(t, err, "undo %d", i)
	}
	l, f, cl, n = facts()
	require.Equal(t, [4]int{0, 0, 0, 0}, [4]int{l, f, cl, n})
	// Undoing again is harmless.
	for i, err := range undo() {
		require.NoError(t, err, "undo %d again", i)
	}
	res, err := store.UnlikeVideo(ctx, actor.ID, video, owner.ID)
	require.NoError(t, err)
	require.False(t, res.Removed)
	require.Zero(t, res.LikeCount)
}
