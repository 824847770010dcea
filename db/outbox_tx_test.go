package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func outboxRows(t *testing.T, store *db.Store, recipient uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM notification_outbox WHERE recipient_id = $1`, recipient).Scan(&n))
	return n
}

// TestActionsOweTheirNotificationInTheirTransaction: a like, follow, comment
// and comment like write their outbox row in their own transaction. When
// the row cannot be written the action rolls back whole (no like, no
// counter moved); otherwise each returns its row, and a repeat or a
// self-action owes nothing.
func TestActionsOweTheirNotificationInTheirTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	pool := store.Pool()
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	actor := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID}).ID
	comment := dbtest.Comment(t, store, dbtest.CommentOpts{Author: owner.ID, Video: video})

	act := func() ([]db.NotificationOutbox, []error) {
		var rows []db.NotificationOutbox
		_, r1, e1 := store.LikeVideo(ctx, actor.ID, video, owner.ID)
		_, r2, e2 := store.Follow(ctx, actor.ID, owner.ID)
		_, r3, e3 := store.CreateComment(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: actor.ID, VideoID: video, Content: "hi"}, owner.ID)
		_, r4, e4 := store.LikeComment(ctx, actor.ID, comment, owner.ID, video)
		for _, r := range [][]db.NotificationOutbox{r1, r2, r3, r4} {
			rows = append(rows, r...)
		}
		return rows, []error{e1, e2, e3, e4}
	}
	facts := func() (likes, follows, comments, commentLikes, likeCount int) {
		t.Helper()
		require.NoError(t, pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM likes WHERE user_id = $1),
			(SELECT count(*) FROM follows WHERE follower_id = $1),
			(SELECT count(*) FROM comments WHERE user_id = $1),
			(SELECT count(*) FROM comment_likes WHERE user_id = $1),
			(SELECT like_count FROM videos WHERE id = $2)`, actor.ID, video).
			Scan(&likes, &follows, &comments, &commentLikes, &likeCount))
		return
	}

	// The outbox refuses rows: every action fails whole.
	_, err := pool.Exec(ctx, `CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'the outbox is read-only in this test'; END $$;
		CREATE TRIGGER refuse_outbox BEFORE INSERT ON notification_outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox()`)
	require.NoError(t, err)
	rows, errs := act()
	for i, err := range errs {
		require.Error(t, err, "action %d", i)
	}
	require.Empty(t, rows)
	l, f, c, cl, lc := facts()
	require.Equal(t, [5]int{0, 0, 0, 0, 0}, [5]int{l, f, c, cl, lc}, "no action committed without its outbox row")
	require.Zero(t, outboxRows(t, store, owner.ID))

	_, err = pool.Exec(ctx, `DROP TRIGGER refuse_outbox ON notification_outbox`)
	require.NoError(t, err)
	rows, errs = act()
	for i, err := range errs {
		require.NoError(t, err, "action %d", i)
	}
	l, f, c, cl, lc = facts()
	require.Equal(t, [5]int{1, 1, 1, 1, 1}, [5]int{l, f, c, cl, lc})
	require.Len(t, rows, 4)
	types := map[string]db.NotificationOutbox{}
	for _, r := range rows {
		require.Equal(t, owner.ID, r.RecipientID)
		require.Equal(t, actor.ID, *r.ActorID)
		types[r.Type] = r
	}
	require.Equal(t, video, *types[db.NotificationLike].VideoID)
	require.Nil(t, types[db.NotificationFollow].VideoID)
	require.NotNil(t, types[db.NotificationComment].CommentID)
	require.Equal(t, comment, *types[db.NotificationCommentLike].CommentID)
	require.Equal(t, 4, outboxRows(t, store, owner.ID))

	// A repeat owes nothing new (the comment is a new comment: it does).
	rows, errs = act()
	for i, err := range errs {
		require.NoError(t, err, "repeat %d", i)
	}
	require.Len(t, rows, 1)
	require.Equal(t, db.NotificationComment, rows[0].Type)
	require.Equal(t, 5, outboxRows(t, store, owner.ID))

	// Nobody is owed a notification of their own action.
	res, own, err := store.LikeVideo(ctx, owner.ID, video, owner.ID)
	require.NoError(t, err)
	require.True(t, res.Created)
	require.Empty(t, own)
	_, own, err = store.CreateComment(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: owner.ID, VideoID: video, Content: "me"}, owner.ID)
	require.NoError(t, err)
	require.Empty(t, own)
	require.Equal(t, 5, outboxRows(t, store, owner.ID))
}

// TestDeliverySettlesItsOutboxRow: the delivery deletes its outbox row in
// its own transaction: when it stores the notification, when a repeat
// finds it stored (counted once), and when the facts no longer hold
// (undone, blocked). A delivery that fails leaves the row.
func TestDeliverySettlesItsOutboxRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	pool := store.Pool()
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	a1 := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	a2 := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	a3 := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID}).ID

	deliver := func(o db.NotificationOutbox) (db.NotificationDelivery, error) {
		return store.DeliverNotification(ctx, db.NewNotification{Type: o.Type, RecipientID: o.RecipientID,
			ActorID: o.ActorID, VideoID: o.VideoID, CommentID: o.CommentID, AIJobID: o.AIJobID, Message: o.Message,
			OutboxID: &o.ID})
	}
	groupCount := func() int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT COALESCE(sum(actor_count), 0) FROM notifications
			WHERE user_id = $1 AND type = 'like'`, owner.ID).Scan(&n))
		return n
	}

	_, rows, err := store.LikeVideo(ctx, a1.ID, video, owner.ID)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	d, err := deliver(rows[0])
	require.NoError(t, err)
	require.True(t, d.Inserted)
	require.Zero(t, outboxRows(t, store, owner.ID), "delivered and cleared together")
	// The same row delivered again (the drain raced the fast path): once.
	d, err = deliver(rows[0])
	require.NoError(t, err)
	require.False(t, d.Inserted)
	require.Equal(t, 1, groupCount())

	// Unliked before the delivery: the row goes, nothing is stored.
	_, rows, err = store.LikeVideo(ctx, a2.ID, video, owner.ID)
	require.NoError(t, err)
	_, err = store.UnlikeVideo(ctx, a2.ID, video, owner.ID)
	require.NoError(t, err)
	d, err = deliver(rows[0])
	require.NoError(t, err)
	require.Equal(t, db.NotificationSkipGone, d.Skip)
	require.Zero(t, outboxRows(t, store, owner.ID))
	require.Equal(t, 1, groupCount())

	// Blocked before the delivery: the row goes, nothing is stored.
	_, rows, err = store.Follow(ctx, a3.ID, owner.ID)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	_, _, err = store.BlockUser(ctx, owner.ID, a3.ID)
	require.NoError(t, err)
	d, err = deliver(rows[0])
	require.NoError(t, err)
	require.NotEmpty(t, d.Skip)
	require.Zero(t, outboxRows(t, store, owner.ID))

	// A delivery that fails rolls back whole: the row stays for the drain.
	_, rows, err = store.LikeVideo(ctx, a3.ID, video, owner.ID)
	require.NoError(t, err)
	_, err = store.BlockRemove(ctx, db.BlockRemoveParams{BlockerID: owner.ID, BlockedID: a3.ID})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE FUNCTION refuse_actor() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'no new actors in this test'; END $$;
		CREATE TRIGGER refuse_actor BEFORE INSERT ON notification_actors FOR EACH ROW EXECUTE FUNCTION refuse_actor()`)
	require.NoError(t, err)
	_, err = deliver(rows[0])
	require.Error(t, err)
	require.Equal(t, 1, outboxRows(t, store, owner.ID), "not delivered, still owed")
	_, err = pool.Exec(ctx, `DROP TRIGGER refuse_actor ON notification_actors`)
	require.NoError(t, err)
	d, err = deliver(rows[0])
	require.NoError(t, err)
	require.True(t, d.Inserted)
	require.Zero(t, outboxRows(t, store, owner.ID))
	require.Equal(t, 2, groupCount())
}

// TestClaimNotificationOutbox: the drain claims the rows older than its age,
// oldest first, in batches; a claimed row waits its backoff (doubling,
// capped) before it is claimed again, so the rows behind it go first.
func TestClaimNotificationOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	pool := store.Pool()
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID}).ID
	var ids []uuid.UUID
	for i := range 3 {
		actor := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		_, rows, err := store.LikeVideo(ctx, actor.ID, video, owner.ID)
		require.NoError(t, err)
		ids = append(ids, rows[0].ID)
		// Oldest first: row i is (3-i) minutes old.
		_, err = pool.Exec(ctx, `UPDATE notification_outbox SET created_at = now() - make_interval(mins => $2),
			next_attempt_at = now() - make_interval(mins => $2) WHERE id = $1`, rows[0].ID, 3-i)
		require.NoError(t, err)
	}
	drain := db.OutboxDrain{MinAge: time.Hour, Limit: 2, Backoff: time.Minute, MaxBackoff: 3 * time.Minute}
	claimed, err := store.ClaimNotificationOutbox(ctx, drain)
	require.NoError(t, err)
	require.Empty(t, claimed, "younger than the age: the fast path's")

	drain.MinAge = 30 * time.Second
	claimed, err = store.ClaimNotificationOutbox(ctx, drain)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	require.Equal(t, []uuid.UUID{ids[0], ids[1]}, []uuid.UUID{claimed[0].ID, claimed[1].ID})
	for _, c := range claimed {
		require.EqualValues(t, 1, c.Attempts)
		require.WithinDuration(t, time.Now().Add(time.Minute), c.NextAttemptAt, 10*time.Second)
	}
	claimed, err = store.ClaimNotificationOutbox(ctx, drain)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "the claimed rows wait; the one behind them goes")
	require.Equal(t, ids[2], claimed[0].ID)
	claimed, err = store.ClaimNotificationOutbox(ctx, drain)
	require.NoError(t, err)
	require.Empty(t, claimed)

	// Their turns come: the backoff doubles, up to its cap.
	for range 2 {
		_, err = pool.Exec(ctx, `UPDATE notification_outbox SET next_attempt_at = now() WHERE id = $1`, ids[0])
		require.NoError(t, err)
		claimed, err = store.ClaimNotificationOutbox(ctx, drain)
		require.NoError(t, err)
		require.Len(t, claimed, 1)
	}
	require.EqualValues(t, 3, claimed[0].Attempts)
	require.WithinDuration(t, time.Now().Add(3*time.Minute), claimed[0].NextAttemptAt, 10*time.Second, "4 min, capped at 3")

	require.NoError(t, store.DropNotificationOutbox(ctx, ids[0]))
	require.NoError(t, store.DropNotificationOutbox(ctx, ids[0]), "dropping a gone row is no error")
	require.Equal(t, 2, outboxRows(t, store, owner.ID))
}
