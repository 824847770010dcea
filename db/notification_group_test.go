package db_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

type groupBundle struct {
	store *db.Store
	owner db.User
	video uuid.UUID
}

func newGroupBundle(t *testing.T) *groupBundle {
	t.Helper()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	return &groupBundle{store: store, owner: owner, video: dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID}).ID}
}

func (b *groupBundle) users(t *testing.T, n int) []db.User {
	t.Helper()
	out := make([]db.User, n)
	for i := range out {
		out[i] = dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	}
	return out
}

func (b *groupBundle) likeEvent(actor uuid.UUID) db.NewNotification {
	return db.NewNotification{Type: db.NotificationLike, RecipientID: b.owner.ID, ActorID: &actor, VideoID: &b.video}
}

// like makes actor like the video and delivers its notification.
func (b *groupBundle) like(t *testing.T, actor uuid.UUID) db.NotificationDelivery {
	t.Helper()
	dbtest.Like(t, b.store, dbtest.LikeOpts{User: actor, Video: b.video})
	d, err := b.store.DeliverNotification(context.Background(), b.likeEvent(actor))
	require.NoError(t, err)
	require.Empty(t, d.Skip)
	return d
}

func (b *groupBundle) list(t *testing.T) []db.NotificationView {
	t.Helper()
	rows, err := b.store.NotificationListByUser(context.Background(), db.NotificationListByUserParams{UserID: b.owner.ID, Lim: 100})
	require.NoError(t, err)
	return rows
}

func (b *groupBundle) counts(t *testing.T) db.NotificationCountsByUserRow {
	t.Helper()
	c, err := b.store.NotificationCountsByUser(context.Background(), b.owner.ID)
	require.NoError(t, err)
	return c
}

// actorIDs decodes a view's group_actors into ids, newest first.
func actorIDs(t *testing.T, v db.NotificationView) []uuid.UUID {
	t.Helper()
	var actors []struct {
		ID uuid.UUID `json:"id"`
	}
	if len(v.GroupActors) > 0 {
		require.NoError(t, json.Unmarshal(v.GroupActors, &actors))
	}
	ids := make([]uuid.UUID, len(actors))
	for i, a := range actors {
		ids[i] = a.ID
	}
	return ids
}

// TestNotificationGroupConcurrentLikes: 100 users like one video at once;
// their 100 deliveries, racing, make one group of 100 with one unread item,
// every delivery taking its own seq; delivering all 100 again changes nothing.
func TestNotificationGroupConcurrentLikes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	likers := b.users(t, 100)
	for _, u := range likers {
		dbtest.Like(t, b.store, dbtest.LikeOpts{User: u.ID, Video: b.video})
	}
	deliverAll := func() []db.NotificationDelivery {
		out := make([]db.NotificationDelivery, len(likers))
		errs := make([]error, len(likers))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range likers {
			wg.Go(func() {
				<-start
				out[i], errs[i] = b.store.DeliverNotification(ctx, b.likeEvent(u.ID))
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		return out
	}

	ds := deliverAll()
	seqs := map[int64]bool{}
	for _, d := range ds {
		require.True(t, d.Inserted, "each new liker grows the group")
		require.Equal(t, ds[0].Notification.ID, d.Notification.ID, "one group")
		require.Equal(t, int64(1), d.UnreadCount, "a growing group is one unread item")
		require.False(t, seqs[d.Notification.Seq], "each growth takes a new seq")
		seqs[d.Notification.Seq] = true
	}
	rows := b.list(t)
	require.Len(t, rows, 1)
	g := rows[0]
	require.Equal(t, int64(100), g.GroupCount)
	require.Equal(t, db.NotificationCountsByUserRow{Total: 1, Unread: 1}, b.counts(t))
	var set, stored int64
	require.NoError(t, b.store.Pool().QueryRow(ctx,
		`SELECT (SELECT count(*) FROM notification_actors WHERE notification_id = $1), actor_count FROM notifications WHERE id = $1`,
		g.ID).Scan(&set, &stored))
	require.Equal(t, [2]int64{100, 100}, [2]int64{set, stored}, "the count is the size of the actor set")
	maxSeq := int64(0)
	for s := range seqs {
		maxSeq = max(maxSeq, s)
	}
	require.Equal(t, maxSeq, g.Seq, "the group carries the seq of its last growth")

	// The latest three actors, newest first, are the last three to join.
	latest := make([]uuid.UUID, 0, 3)
	dbRows, err := b.store.Pool().Query(ctx,
		`SELECT actor_id FROM notification_actors WHERE notification_id = $1 ORDER BY acted_at DESC, actor_id DESC LIMIT 3`, g.ID)
	require.NoError(t, err)
	for dbRows.Next() {
		var id uuid.UUID
		require.NoError(t, dbRows.Scan(&id))
		latest = append(latest, id)
	}
	require.NoError(t, dbRows.Err())
	require.Equal(t, latest, actorIDs(t, g))
	require.Equal(t, latest[0], *g.ActorID, "actor is the latest actor")

	again := deliverAll()
	for _, d := range again {
		require.False(t, d.Inserted, "a repeated delivery of a fact never counts twice")
		require.Equal(t, g.ID, d.Notification.ID)
	}
	rows = b.list(t)
	require.Len(t, rows, 1)
	require.Equal(t, int64(100), rows[0].GroupCount)
	require.Equal(t, g.Seq, rows[0].Seq, "a repeat takes no seq")
}

// TestNotificationGroupUnlikeShrinks: an unlike takes its actor out of the
// group (count down, latest actor and newest time recomputed, a new seq);
// the last unlike deletes the group.
func TestNotificationGroupUnlikeShrinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 3)
	var d db.NotificationDelivery
	for _, a := range u {
		d = b.like(t, a.ID)
	}
	g := d.Notification
	require.Equal(t, int64(3), g.GroupCount)
	require.Equal(t, []uuid.UUID{u[2].ID, u[1].ID, u[0].ID}, actorIDs(t, g))
	require.Equal(t, int64(3), g.GroupCount)

	_, err := b.store.UnlikeVideo(ctx, u[2].ID, b.video, b.owner.ID)
	require.NoError(t, err)
	rows := b.list(t)
	require.Len(t, rows, 1)
	require.Equal(t, g.ID, rows[0].ID, "the group keeps its id")
	require.Equal(t, int64(2), rows[0].GroupCount)
	require.Equal(t, u[1].ID, *rows[0].ActorID, "the latest actor is recomputed")
	require.Equal(t, []uuid.UUID{u[1].ID, u[0].ID}, actorIDs(t, rows[0]))
	require.Greater(t, rows[0].Seq, g.Seq, "a shrink is a change the recipient should see")
	require.True(t, rows[0].CreatedAt.Before(g.CreatedAt), "the newest time goes back to the newest remaining like")

	// Delivering the undone like late stores nothing.
	late, err := b.store.DeliverNotification(ctx, b.likeEvent(u[2].ID))
	require.NoError(t, err)
	require.Equal(t, db.NotificationSkipGone, late.Skip)

	for _, a := range u[:2] {
		_, err := b.store.UnlikeVideo(ctx, a.ID, b.video, b.owner.ID)
		require.NoError(t, err)
	}
	require.Empty(t, b.list(t), "an emptied group disappears")
	require.Equal(t, db.NotificationCountsByUserRow{}, b.counts(t))
}

// TestNotificationGroupReadStartsNew: reading a group closes it; the next
// like starts a new group, and a like that was read stays in the old one.
func TestNotificationGroupReadStartsNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 3)
	require.True(t, b.like(t, u[0].ID).Opened, "the first like opens the group")
	grown := b.like(t, u[1].ID)
	require.True(t, grown.Inserted)
	require.False(t, grown.Opened, "the second grows it")
	g1 := grown.Notification
	require.Equal(t, int64(2), g1.GroupCount)
	n, err := b.store.NotificationMarkRead(ctx, db.NotificationMarkReadParams{ID: g1.ID, UserID: b.owner.ID})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	d := b.like(t, u[2].ID)
	require.True(t, d.Inserted)
	require.True(t, d.Opened)
	require.NotEqual(t, g1.ID, d.Notification.ID, "a like after the read starts a new group")
	require.Equal(t, int64(1), d.Notification.GroupCount)
	require.Equal(t, int64(1), d.UnreadCount)

	// A retried delivery of a like already in the read group changes nothing.
	dup, err := b.store.DeliverNotification(ctx, b.likeEvent(u[1].ID))
	require.NoError(t, err)
	require.False(t, dup.Inserted)
	require.Equal(t, g1.ID, dup.Notification.ID)

	// Unlike and like again: the actor leaves the read group and joins the open one.
	_, err = b.store.UnlikeVideo(ctx, u[0].ID, b.video, b.owner.ID)
	require.NoError(t, err)
	d = b.like(t, u[0].ID)
	require.True(t, d.Inserted)
	require.Equal(t, int64(2), d.Notification.GroupCount)
	rows := b.list(t)
	require.Len(t, rows, 2)
	require.Equal(t, d.Notification.ID, rows[0].ID, "newest first")
	require.Equal(t, int64(1), rows[1].GroupCount, "the read group lost the actor")
	require.Equal(t, db.NotificationCountsByUserRow{Total: 2, Unread: 1}, b.counts(t))

	// Mark all read, then a like: a third group.
	_, err = b.store.NotificationMarkAllRead(ctx, b.owner.ID)
	require.NoError(t, err)
	_, err = b.store.UnlikeVideo(ctx, u[1].ID, b.video, b.owner.ID)
	require.NoError(t, err)
	d = b.like(t, u[1].ID)
	require.Equal(t, int64(1), d.Notification.GroupCount)
	rows = b.list(t)
	require.Len(t, rows, 2, "the first group lost its last actor and is gone; a third one opened")
	require.Equal(t, d.Notification.ID, rows[0].ID)
	require.NotEqual(t, g1.ID, rows[1].ID)
	require.Equal(t, int64(2), rows[1].GroupCount)
}

// TestNotificationGroupWindow: a group older than the window takes no new
// actor even while unread; the next like opens a new group.
func TestNotificationGroupWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 3)
	g := b.like(t, u[0].ID).Notification
	_, err := b.store.Pool().Exec(ctx, `UPDATE notifications SET first_at = now() - interval '2 hours' WHERE id = $1`, g.ID)
	require.NoError(t, err)

	dbtest.Like(t, b.store, dbtest.LikeOpts{User: u[1].ID, Video: b.video})
	ev := b.likeEvent(u[1].ID)
	ev.GroupWindow = 3 * time.Hour
	d, err := b.store.DeliverNotification(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, g.ID, d.Notification.ID, "within the window the group grows")

	dbtest.Like(t, b.store, dbtest.LikeOpts{User: u[2].ID, Video: b.video})
	ev = b.likeEvent(u[2].ID)
	ev.GroupWindow = time.Hour
	d, err = b.store.DeliverNotification(ctx, ev)
	require.NoError(t, err)
	require.NotEqual(t, g.ID, d.Notification.ID, "past the window a new group opens")
	require.Equal(t, int64(2), d.UnreadCount, "the old group stays unread")
	var open bool
	require.NoError(t, b.store.Pool().QueryRow(ctx, `SELECT group_open FROM notifications WHERE id = $1`, g.ID).Scan(&open))
	require.False(t, open)
}

// TestNotificationGroupFollowsAndGlitches: follows group per recipient,
// glitches per video (an actor who glitches again moves to the front and is
// counted once); comments stay one notification each.
func TestNotificationGroupFollowsAndGlitches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 3)

	var follow db.NotificationDelivery
	for _, a := range u {
		dbtest.Follow(t, b.store, dbtest.FollowOpts{Follower: a.ID, Following: b.owner.ID})
		var err error
		follow, err = b.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationFollow, RecipientID: b.owner.ID, ActorID: &a.ID})
		require.NoError(t, err)
		require.True(t, follow.Inserted)
	}
	require.Equal(t, int64(3), follow.Notification.GroupCount)
	removed, err := b.store.Unfollow(ctx, u[0].ID, b.owner.ID)
	require.NoError(t, err)
	require.True(t, removed)

	glitch := func(actor uuid.UUID, job uuid.UUID) db.NotificationDelivery {
		t.Helper()
		d, err := b.store.DeliverNotification(ctx, db.NewNotification{
			Type: db.NotificationGlitch, RecipientID: b.owner.ID, ActorID: &actor, VideoID: &b.video, AIJobID: &job})
		require.NoError(t, err)
		return d
	}
	jobs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	require.True(t, glitch(u[0].ID, jobs[0]).Inserted)
	g := glitch(u[1].ID, jobs[1])
	require.Equal(t, int64(2), g.Notification.GroupCount)
	again := glitch(u[0].ID, jobs[2])
	require.True(t, again.Inserted, "a second glitch is a new event")
	require.Equal(t, g.Notification.ID, again.Notification.ID)
	require.Equal(t, int64(2), again.Notification.GroupCount, "counted once per actor")
	require.Equal(t, []uuid.UUID{u[0].ID, u[1].ID}, actorIDs(t, again.Notification), "moved to the front")
	require.Greater(t, again.Notification.Seq, g.Notification.Seq)
	dup := glitch(u[0].ID, jobs[2])
	require.False(t, dup.Inserted, "the same glitch delivered again changes nothing")
	require.Equal(t, again.Notification.Seq, dup.Notification.Seq)

	for _, a := range u[:2] {
		c := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: a.ID, Video: b.video})
		d, err := b.store.DeliverNotification(ctx, db.NewNotification{
			Type: db.NotificationComment, RecipientID: b.owner.ID, ActorID: &a.ID, VideoID: &b.video, CommentID: &c})
		require.NoError(t, err)
		require.True(t, d.Inserted)
		require.Equal(t, int64(1), d.Notification.GroupCount)
		require.Empty(t, actorIDs(t, d.Notification))
	}
	byType := map[string][]db.NotificationView{}
	for _, r := range b.list(t) {
		byType[r.Type] = append(byType[r.Type], r)
	}
	require.Len(t, byType[db.NotificationFollow], 1)
	require.Equal(t, int64(2), byType[db.NotificationFollow][0].GroupCount, "the unfollow left the group")
	require.Len(t, byType[db.NotificationGlitch], 1)
	require.Len(t, byType[db.NotificationComment], 2, "comments stay individual")
	require.Equal(t, db.NotificationCountsByUserRow{Total: 4, Unread: 4}, b.counts(t))
}

// TestNotificationGroupBlocks: an actor on either side of a block with the
// recipient is left out of the group's actors and count; a group with no
// other actor is hidden from the list and the counts.
func TestNotificationGroupBlocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 3)
	var g db.NotificationView
	for _, a := range u {
		g = b.like(t, a.ID).Notification
	}
	dbtest.Block(t, b.store, dbtest.BlockOpts{Blocker: b.owner.ID, Blocked: u[2].ID})
	rows := b.list(t)
	require.Len(t, rows, 1)
	require.Equal(t, int64(2), rows[0].GroupCount)
	require.Equal(t, u[1].ID, *rows[0].ActorID, "the blocked latest actor is not shown")
	require.Equal(t, []uuid.UUID{u[1].ID, u[0].ID}, actorIDs(t, rows[0]))

	dbtest.Block(t, b.store, dbtest.BlockOpts{Blocker: u[1].ID, Blocked: b.owner.ID})
	rows = b.list(t)
	require.Equal(t, int64(1), rows[0].GroupCount, "a block the other way hides the actor too")
	require.Equal(t, u[0].ID, *rows[0].ActorID)

	dbtest.Block(t, b.store, dbtest.BlockOpts{Blocker: b.owner.ID, Blocked: u[0].ID})
	require.Empty(t, b.list(t), "a group of blocked actors only is hidden")
	require.Equal(t, db.NotificationCountsByUserRow{}, b.counts(t))
	_, err := b.store.NotificationGetForUser(ctx, db.NotificationGetForUserParams{ID: g.ID, UserID: b.owner.ID})
	require.True(t, db.IsNotFound(err))

	_, err = b.store.Pool().Exec(ctx, `DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2`, b.owner.ID, u[2].ID)
	require.NoError(t, err)
	rows = b.list(t)
	require.Len(t, rows, 1)
	require.Equal(t, int64(1), rows[0].GroupCount)
	require.Equal(t, u[2].ID, *rows[0].ActorID, "unblocked, the actor is back")
}

// TestNotificationGroupErase: an erased account leaves the groups it was in.
func TestNotificationGroupErase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 2)
	for _, a := range u {
		b.like(t, a.ID)
	}
	require.NoError(t, b.store.EraseUserRest(ctx, u[1].ID))
	rows := b.list(t)
	require.Len(t, rows, 1)
	require.Equal(t, int64(1), rows[0].GroupCount)
	require.Equal(t, u[0].ID, *rows[0].ActorID)
	require.NoError(t, b.store.EraseUserRest(ctx, u[0].ID))
	require.Empty(t, b.list(t))
}

// TestNotificationGroupLikesAndUnlikesRace: deliveries and unlikes of one
// group racing each other leave the count equal to the likes that remain.
func TestNotificationGroupLikesAndUnlikesRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newGroupBundle(t)
	u := b.users(t, 60)
	for _, a := range u[:20] {
		b.like(t, a.ID) // in the group before the race
	}
	for _, a := range u[20:] {
		dbtest.Like(t, b.store, dbtest.LikeOpts{User: a.ID, Video: b.video})
	}
	errs := make([]error, len(u))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, a := range u {
		wg.Go(func() {
			<-start
			switch {
			case i < 10: // unlike a grouped like
				_, errs[i] = b.store.UnlikeVideo(ctx, a.ID, b.video, b.owner.ID)
			case i >= 20:
				_, errs[i] = b.store.DeliverNotification(ctx, b.likeEvent(a.ID))
			}
		})
	}
	undoErrs := make([]error, 10)
	for i, a := range u[20:30] { // unlikes racing their own likes' deliveries
		wg.Go(func() {
			<-start
			_, undoErrs[i] = b.store.UnlikeVideo(ctx, a.ID, b.video, b.owner.ID)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range append(errs, undoErrs...) {
		require.NoError(t, err)
	}
	rows := b.list(t)
	require.Len(t, rows, 1)
	var likes, set, stored int64
	require.NoError(t, b.store.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM likes WHERE video_id = $1),
		(SELECT count(*) FROM notification_actors WHERE notification_id = $2),
		(SELECT actor_count FROM notifications WHERE id = $2)`, b.video, rows[0].ID).Scan(&likes, &set, &stored))
	require.Equal(t, int64(40), likes)
	require.Equal(t, [3]int64{40, 40, 40}, [3]int64{likes, set, stored})
	require.Equal(t, int64(40), rows[0].GroupCount)
}
