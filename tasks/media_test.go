package tasks

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestVideoFinalizeTask(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	task := NewVideoFinalizeTask(id)
	require.Equal(t, "video:finalize", task.Type())
	require.JSONEq(t, `{"video_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2"}`, string(task.Payload()))
	p, err := ParseVideoPayload(task)
	require.NoError(t, err)
	require.Equal(t, id, p.VideoID)

	_, err = ParseVideoPayload(asynq.NewTask(TypeVideoFinalize, []byte(`{"video_id":"nope"}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
	_, err = ParseVideoPayload(asynq.NewTask(TypeVideoFinalize, []byte(`{}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.Equal(t, 15*time.Minute, VideoFinalizeTimeout)
}

func TestPeriodicMediaTasks(t *testing.T) {
	t.Parallel()
	require.Equal(t, "videos:reconcile", NewVideosReconcileTask().Type())
	require.Equal(t, "views:flush", NewViewsFlushTask().Type())
	require.Equal(t, "trending:recompute", NewTrendingRecomputeTask().Type())
}

func TestVideoPurgeTasks(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	task := NewVideoPurgeTask(id)
	require.Equal(t, "video:purge", task.Type())
	p, err := ParseVideoPayload(task)
	require.NoError(t, err)
	require.Equal(t, id, p.VideoID)
	require.Equal(t, "videos:purge", NewVideosPurgeTask().Type())
}
