package tasks

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/internal/testkit"
)

func TestNotifyTask(t *testing.T) {
	t.Parallel()
	recipient := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	actor := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e3")
	video := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e4")
	comment := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e5")
	job := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e6")
	msg := "Your glitch is ready"

	t.Run("GoldenJSON", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name string
			p    NotifyPayload
			json string
		}{
			{"Like", NotifyPayload{Type: NotifyLike, RecipientID: recipient, ActorID: &actor, VideoID: &video},
				`{"type":"like","recipient_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","actor_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e3","video_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e4"}`},
			{"Comment", NotifyPayload{Type: NotifyComment, RecipientID: recipient, ActorID: &actor, VideoID: &video, CommentID: &comment},
				`{"type":"comment","recipient_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","actor_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e3","video_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e4","comment_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e5"}`},
			{"Follow", NotifyPayload{Type: NotifyFollow, RecipientID: recipient, ActorID: &actor},
				`{"type":"follow","recipient_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","actor_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e3"}`},
			{"AIJob", NotifyPayload{Type: NotifyAIJob, RecipientID: recipient, AIJobID: &job, Message: &msg},
				`{"type":"ai_job","recipient_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","ai_job_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e6","message":"Your glitch is ready"}`},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				task, err := NewNotifyTask(tt.p)
				require.NoError(t, err)
				require.Equal(t, "notify:deliver", task.Type())
				require.JSONEq(t, tt.json, string(task.Payload()))
				got, err := ParseNotify(task)
				require.NoError(t, err)
				require.Equal(t, tt.p, got)
			})
		}
	})

	t.Run("TaskIDIsTheEventIdentity", func(t *testing.T) {
		t.Parallel()
		p := NotifyPayload{Type: NotifyLike, RecipientID: recipient, ActorID: &actor, VideoID: &video}
		require.Equal(t, "notify:deliver:like:01a213f3-8e0d-7cf5-b72f-2f83111593e2:01a213f3-8e0d-7cf5-b72f-2f83111593e3:01a213f3-8e0d-7cf5-b72f-2f83111593e4:-:-", p.taskID())
		f := NotifyPayload{Type: NotifyFollow, RecipientID: recipient, ActorID: &actor}
		require.NotEqual(t, p.taskID(), f.taskID())
		require.Equal(t, 30*time.Second, NotifyTimeout)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		bad := []NotifyPayload{
			{Type: "poke", RecipientID: recipient, ActorID: &actor},
			{Type: NotifyLike, RecipientID: recipient, ActorID: &actor},
			{Type: NotifyLike, ActorID: &actor, VideoID: &video},
			{Type: NotifyComment, RecipientID: recipient, ActorID: &actor, VideoID: &video},
			{Type: NotifyFollow, RecipientID: recipient},
			{Type: NotifyAIJob, RecipientID: recipient},
		}
		for _, p := range bad {
			_, err := NewNotifyTask(p)
			require.Error(t, err, "%+v", p)
		}
		_, err := ParseNotify(asynq.NewTask(TypeNotify, []byte(`{"type":"like","recipient_id":"nope"}`)))
		require.ErrorIs(t, err, asynq.SkipRetry)
		_, err = ParseNotify(asynq.NewTask(TypeNotify, []byte(`{"type":"follow","recipient_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2"}`)))
		require.ErrorIs(t, err, asynq.SkipRetry)
	})
}

// notifyRedisDB is the Redis database of the notification tests.
const notifyRedisDB = 10

func TestEnqueueNotify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testkit.Redis(t, notifyRedisDB)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	c := NewClient(qc)
	recipient, actor := uuid.New(), uuid.New()
	p := NotifyPayload{Type: NotifyFollow, RecipientID: recipient, ActorID: &actor}
	t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteTask(QueueDefault, p.taskID()) })

	require.NoError(t, c.EnqueueNotify(ctx, p))
	require.NoError(t, c.EnqueueNotify(ctx, p), "the same event while queued is a no-op, not an error")
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(QueueDefault, p.taskID())
	require.NoError(t, err)
	require.Equal(t, TypeNotify, info.Type)
	require.Equal(t, 5, info.MaxRetry)
	require.Equal(t, NotifyTimeout, info.Timeout)

	require.Error(t, c.EnqueueNotify(ctx, NotifyPayload{Type: NotifyFollow, RecipientID: recipient}),
		"a payload without its ids is never enqueued")
}
