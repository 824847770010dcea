package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/tasks"
)

// collect subscribes to recipient's channel and returns a function that
// waits for n events and returns them.
func (b *notifyBundle) collect(t *testing.T, recipient uuid.UUID) func(n int) []notification.Event {
	t.Helper()
	ctx := context.Background()
	sub := b.rdb.Subscribe(ctx, notification.Channel(recipient))
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx)
	require.NoError(t, err)
	ch := sub.Channel(redis.WithChannelSize(1000))
	return func(n int) []notification.Event {
		t.Helper()
		out := make([]notification.Event, 0, n)
		deadline := time.After(30 * time.Second)
		for len(out) < n {
			select {
			case m := <-ch:
				var ev notification.Event
				require.NoError(t, json.Unmarshal([]byte(m.Payload), &ev), m.Payload)
				out = append(out, ev)
			case <-deadline:
				t.Fatalf("%d of %d events published", len(out), n)
			}
		}
		return out
	}
}

func (b *notifyBundle) likers(t *testing.T, n int) []db.User {
	t.Helper()
	out := make([]db.User, n)
	for i := range out {
		out[i] = dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		b.like(t, out[i].ID, b.videoID)
	}
	return out
}

// requireGrowth checks the events of one group's growth: the same id every
// time, one unread item, and, in seq order, counts 1..n (each growth took
// a new seq while the group was locked).
func requireGrowth(t *testing.T, events []notification.Event, n int) notification.Notification {
	t.Helper()
	require.Len(t, events, n)
	sort.Slice(events, func(i, j int) bool { return events[i].Notification.Seq < events[j].Notification.Seq })
	for i, ev := range events {
		require.Equal(t, events[0].Notification.ID, ev.Notification.ID, "one group, one id")
		require.Equal(t, int64(1), ev.UnreadCount, "a growing group is one unread item")
		require.Equal(t, int64(i+1), ev.Notification.Count, "growth %d", i)
		if i > 0 {
			require.Greater(t, ev.Notification.Seq, events[i-1].Notification.Seq)
		}
	}
	return events[n-1].Notification
}

func TestNotifyHandlerGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LikesGrowOneGroup", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		collect := b.collect(t, b.owner.ID)
		likers := b.likers(t, 3)
		for _, u := range likers {
			b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &u.ID, VideoID: &b.videoID})
		}
		last := requireGrowth(t, collect(3), 3)
		require.Equal(t, *likers[2].DisplayName+" and 2 others liked your video", last.Message)
		require.Equal(t, likers[2].ID, last.Actor.ID, "actor is the latest")
		require.Len(t, last.Actors, 3)
		for i, a := range last.Actors {
			require.Equal(t, likers[2-i].ID, a.ID, "newest first")
		}
		require.Equal(t, 1, b.count(t, b.owner.ID))

		// Unlike and like again while the group is open: the actor leaves and
		// comes back as the latest; the count never goes past the likers.
		_, err := b.store.UnlikeVideo(ctx, likers[0].ID, b.videoID, b.owner.ID)
		require.NoError(t, err)
		b.like(t, likers[0].ID, b.videoID)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &likers[0].ID, VideoID: &b.videoID})
		ev := collect(1)[0]
		require.Equal(t, last.ID, ev.Notification.ID)
		require.Equal(t, int64(3), ev.Notification.Count)
		require.Equal(t, likers[0].ID, ev.Notification.Actor.ID)
		require.Greater(t, ev.Notification.Seq, last.Seq)
	})

	t.Run("ConcurrentLikesThroughTheHandler", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		collect := b.collect(t, b.owner.ID)
		likers := b.likers(t, 100)
		errs := make([]error, len(likers))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range likers {
			task, err := tasks.NewNotifyTask(tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &u.ID, VideoID: &b.videoID})
			require.NoError(t, err)
			wg.Go(func() {
				<-start
				errs[i] = b.h.ProcessTask(ctx, task)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		last := requireGrowth(t, collect(100), 100)
		require.Len(t, last.Actors, notification.LatestActors)
		require.Contains(t, last.Message, " and 99 others liked your video")
		require.Equal(t, 1, b.count(t, b.owner.ID))
		counts, err := b.store.NotificationCountsByUser(ctx, b.owner.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), counts.Unread)
	})

	t.Run("ThroughTheWorker", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		collect := b.collect(t, b.owner.ID)
		likers := b.likers(t, 20)
		queue := "notify-group-" + uuid.NewString()
		logger, _ := newLogger()
		w := New(Deps{Store: b.store, Redis: b.rdb, Logger: logger, NotificationGroupWindow: time.Hour},
			Config{Concurrency: 10, Queues: map[string]int{queue: 1}, ShutdownTimeout: 5 * time.Second})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(runCtx) }()
		t.Cleanup(func() {
			stop()
			require.NoError(t, <-done)
		})
		qc := asynq.NewClientFromRedisClient(b.rdb)
		for _, u := range likers {
			task, err := tasks.NewNotifyTask(tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &u.ID, VideoID: &b.videoID})
			require.NoError(t, err)
			_, err = qc.EnqueueContext(ctx, task, asynq.Queue(queue), asynq.TaskID(fmt.Sprintf("%s:%s", queue, u.ID)))
			require.NoError(t, err)
		}
		last := requireGrowth(t, collect(20), 20)
		require.Contains(t, last.Message, " and 19 others liked your video")
		require.Equal(t, 1, b.count(t, b.owner.ID))
	})

	t.Run("ReadGroupThenNewGroup", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		collect := b.collect(t, b.owner.ID)
		likers := b.likers(t, 2)
		p0 := tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &likers[0].ID, VideoID: &b.videoID}
		b.process(t, p0)
		first := collect(1)[0].Notification
		_, err := b.store.NotificationMarkAllRead(ctx, b.owner.ID)
		require.NoError(t, err)
		b.process(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: b.owner.ID, ActorID: &likers[1].ID, VideoID: &b.videoID})
		ev := collect(1)[0]
		require.NotEqual(t, first.ID, ev.Notification.ID, "a like after the read starts a new group")
		require.Equal(t, int64(1), ev.Notification.Count)
		require.Equal(t, int64(1), ev.UnreadCount)
		require.Equal(t, 2, b.count(t, b.owner.ID))

		// The first like delivered again: no change, nothing pushed.
		_, nothing := b.listen(t, b.owner.ID)
		b.process(t, p0)
		nothing()
	})

	t.Run("CommentsStayIndividual", func(t *testing.T) {
		t.Parallel()
		b := newNotifyBundle(t)
		collect := b.collect(t, b.owner.ID)
		for range 2 {
			c := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: b.actor.ID, Video: b.videoID})
			b.process(t, tasks.NotifyPayload{Type: tasks.NotifyComment, RecipientID: b.owner.ID, ActorID: &b.actor.ID, VideoID: &b.videoID, CommentID: &c})
		}
		evs := collect(2)
		require.NotEqual(t, evs[0].Notification.ID, evs[1].Notification.ID)
		require.Equal(t, int64(2), evs[1].UnreadCount)
		for _, ev := range evs {
			require.Equal(t, int64(1), ev.Notification.Count)
			require.Len(t, ev.Notification.Actors, 1)
		}
	})
}
