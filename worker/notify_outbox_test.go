package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

// outboxBench is a notify bundle with real asynq queues on this package's
// Redis: the fast path and the drain enqueue notify:deliver on the default
// queue, and run() delivers the recipient's queued tasks (other tests'
// tasks on that queue name other recipients and are left alone).
type outboxBench struct {
	*notifyBundle
	qrdb  redis.UniversalClient
	tc    *tasks.Client
	insp  *asynq.Inspector
	drain *NotifyOutboxHandler
}

func newOutboxBench(t *testing.T) *outboxBench {
	t.Helper()
	b := &outboxBench{notifyBundle: newNotifyBundle(t), qrdb: newRedis(t)}
	b.insp = asynq.NewInspectorFromRedisClient(b.qrdb)
	qc := asynq.NewClientFromRedisClient(b.qrdb)
	t.Cleanup(func() { _ = qc.Close() })
	b.tc = tasks.NewClient(qc).WithDeleter(b.insp)
	logger, _ := newLogger()
	b.drain = NewNotifyOutboxHandler(b.store, b.tc, logger, time.Millisecond)
	t.Cleanup(func() {
		for _, info := range b.queued(t, asynq.TaskStatePending, asynq.TaskStateArchived) {
			_ = b.insp.DeleteTask(tasks.QueueDefault, info.ID)
		}
	})
	return b
}

// queued lists the notify:deliver tasks of the bench's owner in the given
// states.
func (b *outboxBench) queued(t *testing.T, states ...asynq.TaskState) []*asynq.TaskInfo {
	t.Helper()
	var out []*asynq.TaskInfo
	for _, st := range states {
		var infos []*asynq.TaskInfo
		var err error
		switch st {
		case asynq.TaskStatePending:
			infos, err = b.insp.ListPendingTasks(tasks.QueueDefault, asynq.PageSize(10000))
		case asynq.TaskStateArchived:
			infos, err = b.insp.ListArchivedTasks(tasks.QueueDefault, asynq.PageSize(10000))
		}
		if err != nil && !isQueueNotFound(err) {
			require.NoError(t, err)
		}
		for _, info := range infos {
			var p tasks.NotifyPayload
			if info.Type == tasks.TypeNotify && json.Unmarshal(info.Payload, &p) == nil && p.RecipientID == b.owner.ID {
				out = append(out, info)
			}
		}
	}
	return out
}

func isQueueNotFound(err error) bool { return errors.Is(err, asynq.ErrQueueNotFound) }

// run delivers the owner's pending tasks, as a worker would, and takes
// them off the queue; it returns how many it ran.
func (b *outboxBench) run(t *testing.T) int {
	t.Helper()
	infos := b.queued(t, asynq.TaskStatePending)
	for _, info := range infos {
		require.NoError(t, b.h.ProcessTask(context.Background(), asynq.NewTask(info.Type, info.Payload)))
		require.NoError(t, b.insp.DeleteTask(tasks.QueueDefault, info.ID))
	}
	return len(infos)
}

func (b *outboxBench) outbox(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM notification_outbox WHERE recipient_id = $1`, b.owner.ID).Scan(&n))
	return n
}

// likeGroup is the owner's like notifications of the video: rows and the
// sum of their counts.
func (b *outboxBench) likeGroup(t *testing.T) (rows, count int) {
	t.Helper()
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		`SELECT count(*), COALESCE(sum(actor_count), 0) FROM notifications WHERE user_id = $1 AND type = 'like' AND video_id = $2`,
		b.owner.ID, b.videoID).Scan(&rows, &count))
	return rows, count
}

// TestNotifyOutboxDeliversALostEnqueue: the like committed its outbox row
// but its task never reached Redis (the api died after the commit, or Redis
// lost the task); the drain enqueues it and it is delivered once. A second
// drain finds nothing. A task asynq archived (retries spent) is replaced.
func TestNotifyOutboxDeliversALostEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newOutboxBench(t)

	_, owed, err := b.store.LikeVideo(ctx, b.actor.ID, b.videoID, b.owner.ID)
	require.NoError(t, err)
	require.Len(t, owed, 1)
	// No fast path: nothing is queued.
	require.Empty(t, b.queued(t, asynq.TaskStatePending))
	time.Sleep(5 * time.Millisecond) // older than the drain's age

	require.NoError(t, b.drain.ProcessTask(ctx, tasks.NewNotifyOutboxTask()))
	require.Equal(t, 1, b.run(t), "the drain enqueued the lost delivery")
	rows, count := b.likeGroup(t)
	require.Equal(t, [2]int{1, 1}, [2]int{rows, count})
	require.Zero(t, b.outbox(t))
	require.NoError(t, b.drain.ProcessTask(ctx, tasks.NewNotifyOutboxTask()))
	require.Zero(t, b.run(t), "nothing left to drain")

	// The fast path's task was archived (its retries spent) and the row is
	// still owed: the drain replaces the archived task.
	other := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	_, owed, err = b.store.LikeVideo(ctx, other.ID, b.videoID, b.owner.ID)
	require.NoError(t, err)
	notification.Send(ctx, b.tc, b.h.log, owed)
	pending := b.queued(t, asynq.TaskStatePending)
	require.Len(t, pending, 1)
	require.NoError(t, b.insp.ArchiveTask(tasks.QueueDefault, pending[0].ID))
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, b.drain.ProcessTask(ctx, tasks.NewNotifyOutboxTask()))
	require.Empty(t, b.queued(t, asynq.TaskStateArchived))
	require.Equal(t, 1, b.run(t))
	rows, count = b.likeGroup(t)
	require.Equal(t, [2]int{1, 2}, [2]int{rows, count})
	require.Zero(t, b.outbox(t))
}

// TestNotifyOutboxRacesTheFastPath: 20 likes at once, each enqueued on the
// fast path and delivered twice (a duplicate), while the drain runs over
// and over: one group of exactly 20, nothing left in the outbox.
func TestNotifyOutboxRacesTheFastPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newOutboxBench(t)
	const likers = 20
	actors := make([]db.User, likers)
	for i := range actors {
		actors[i] = dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	}

	stop := make(chan struct{})
	drained := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				drained <- nil
				return
			default:
			}
			if err := b.drain.ProcessTask(ctx, tasks.NewNotifyOutboxTask()); err != nil {
				drained <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 3*likers)
	for _, a := range actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, owed, err := b.store.LikeVideo(ctx, a.ID, b.videoID, b.owner.ID)
			if err != nil {
				errs <- err
				return
			}
			notification.Send(ctx, b.tc, b.h.log, owed)
			// The fast path's delivery and a duplicate of it, at once.
			var inner sync.WaitGroup
			for range 2 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					task, err := tasks.NewNotifyTask(notification.Payload(owed[0]))
					if err == nil {
						err = b.h.ProcessTask(ctx, task)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-drained)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// What the fast path and the drain queued runs too: all repeats.
	b.run(t)

	rows, count := b.likeGroup(t)
	require.Equal(t, 1, rows, "one group")
	require.Equal(t, likers, count, "every like counted once")
	require.Zero(t, b.outbox(t))
	var actorsRows int
	require.NoError(t, b.store.Pool().QueryRow(ctx,
		`SELECT count(*) FROM notification_actors WHERE user_id = $1 AND type = 'like'`, b.owner.ID).Scan(&actorsRows))
	require.Equal(t, likers, actorsRows)
}

// TestNotifyOutboxUndoneBeforeDelivery: a like undone before its delivery
// clears its outbox row and notifies nobody; a comment whose delivery fails
// for good (its video vanished) drops its row too.
func TestNotifyOutboxUndoneBeforeDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newOutboxBench(t)
	_, owed, err := b.store.LikeVideo(ctx, b.actor.ID, b.videoID, b.owner.ID)
	require.NoError(t, err)
	notification.Send(ctx, b.tc, b.h.log, owed)
	_, err = b.store.UnlikeVideo(ctx, b.actor.ID, b.videoID, b.owner.ID)
	require.NoError(t, err)
	require.Equal(t, 1, b.outbox(t))
	require.Equal(t, 1, b.run(t))
	require.Zero(t, b.outbox(t), "the undone like's row is cleared")
	require.Zero(t, b.count(t, b.owner.ID), "and nobody is told")
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, b.drain.ProcessTask(ctx, tasks.NewNotifyOutboxTask()))
	require.Zero(t, b.run(t))

	// An event whose delivery can never succeed (here a message longer
	// than a notification may be) is dropped, not retried for ever.
	ghost := uuid.New()
	_, err = b.store.Pool().Exec(ctx, `INSERT INTO notification_outbox (id, type, recipient_id, ai_job_id, message)
		VALUES ($1, 'ai_job', $2, $3, $4)`, ghost, b.owner.ID, uuid.New(), strings.Repeat("x", 600))
	require.NoError(t, err)
	o, err := b.store.NotificationOutboxGet(ctx, ghost)
	require.NoError(t, err)
	task := asynq.NewTask(tasks.TypeNotify, mustJSON(t, notification.Payload(o)))
	err = b.h.ProcessTask(ctx, task)
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.Zero(t, b.outbox(t), "a payload that can never be delivered is dropped")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}
