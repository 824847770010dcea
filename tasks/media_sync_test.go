package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/tasks"
)

// TestMediaSyncTasks: one TaskID per target and per change, on the default
// queue; the payload names the target and the change.
func TestMediaSyncTasks(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	at := time.Unix(1_780_000_000, 123_456_000)
	rdb := newRedis(t)
	client := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	for _, tc := range []struct {
		task   *asynq.Task
		typ    string
		video  uuid.UUID
		user   uuid.UUID
		prefix string
	}{
		{tasks.NewVideoMediaSyncTask(id, at), "video:media_sync", id, uuid.Nil, "video:media_sync:"},
		{tasks.NewUserMediaSyncTask(id, at), "user:media_sync", uuid.Nil, id, "user:media_sync:"},
	} {
		require.Equal(t, tc.typ, tc.task.Type())
		p, err := tasks.ParseMediaSyncPayload(tc.task)
		require.NoError(t, err)
		require.Equal(t, tasks.MediaSyncPayload{VideoID: tc.video, UserID: tc.user, Change: at.UnixNano()}, p)

		info, err := client.EnqueueContext(context.Background(), tc.task)
		require.NoError(t, err)
		t.Cleanup(func() { _ = insp.DeleteTask(info.Queue, info.ID) })
		require.Equal(t, tc.prefix+id.String()+":1780000000123456000", info.ID)
		require.Equal(t, tasks.QueueDefault, info.Queue)
		require.Equal(t, 10, info.MaxRetry)
		_, err = client.EnqueueContext(context.Background(), tc.task)
		require.ErrorIs(t, err, asynq.ErrTaskIDConflict, "the same change is enqueued once")

		// Another change of the same target is another task.
		next := tasks.NewVideoMediaSyncTask(id, at.Add(time.Microsecond))
		if tc.typ == "user:media_sync" {
			next = tasks.NewUserMediaSyncTask(id, at.Add(time.Microsecond))
		}
		later, err := client.EnqueueContext(context.Background(), next)
		require.NoError(t, err)
		t.Cleanup(func() { _ = insp.DeleteTask(later.Queue, later.ID) })
	}

	for _, bad := range []*asynq.Task{
		asynq.NewTask(tasks.TypeVideoMediaSync, []byte(`{"user_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","change":1}`)),
		asynq.NewTask(tasks.TypeUserMediaSync, []byte(`{"video_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","change":1}`)),
		asynq.NewTask(tasks.TypeVideoMediaSync, []byte(`not json`)),
	} {
		_, err := tasks.ParseMediaSyncPayload(bad)
		require.ErrorIs(t, err, asynq.SkipRetry, "%s", bad.Payload())
	}
}
