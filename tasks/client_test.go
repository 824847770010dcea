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

var _ tasks.Enqueuer = (*asynq.Client)(nil)

func TestClientEnqueue(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		client  *tasks.Client
		queue   string
		inspect *asynq.Inspector
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		rdb := newRedis(t)
		return &testBundle{
			client:  tasks.NewClient(asynq.NewClientFromRedisClient(rdb)),
			queue:   uniqueQueue(t, rdb),
			inspect: asynq.NewInspectorFromRedisClient(rdb),
		}
	}

	t.Run("TaskIDConflictIsSuccess", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		for range 3 {
			require.NoError(t, b.client.Enqueue(ctx, asynq.NewTask("test:once", nil), asynq.Queue(b.queue), asynq.TaskID("test:once:1")))
		}
		pending, err := b.inspect.ListPendingTasks(b.queue)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		require.Equal(t, "test:once:1", pending[0].ID)
	})

	t.Run("DuplicateTaskIsSuccess", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		for range 3 {
			require.NoError(t, b.client.Enqueue(ctx, asynq.NewTask("test:unique", []byte(`{"id":1}`)), asynq.Queue(b.queue), asynq.Unique(time.Minute)))
		}
		pending, err := b.inspect.ListPendingTasks(b.queue)
		require.NoError(t, err)
		require.Len(t, pending, 1)
	})

	t.Run("OtherErrorsAreReturned", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.client.Enqueue(context.Background(), asynq.NewTask("test:bad", nil), asynq.Queue(b.queue), asynq.TaskID("  "))
		require.ErrorContains(t, err, "enqueue test:bad")
		require.ErrorContains(t, err, "task ID cannot be empty")
	})

	t.Run("RedisDownIsReturned", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		client := tasks.NewClient(asynq.NewClientFromRedisClient(rdb))
		require.NoError(t, rdb.Close())
		err := client.Enqueue(context.Background(), asynq.NewTask("test:closed", nil), asynq.Queue("never_used"))
		require.ErrorContains(t, err, "enqueue test:closed")
	})
}

func TestClientCancelDeletesQueuedAIRun(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	queue := uniqueQueue(t, rdb)
	inspect := asynq.NewInspectorFromRedisClient(rdb)
	client := tasks.NewClient(asynq.NewClientFromRedisClient(rdb)).WithDeleter(inspect)
	ctx := context.Background()

	job, other := uuid.New(), uuid.New()
	require.NoError(t, client.Enqueue(ctx, tasks.NewAIRunTask(job, queue)))
	require.NoError(t, client.Enqueue(ctx, tasks.NewAIRunTask(other, queue)))

	require.NoError(t, client.DeleteAIRun(job, queue))
	pending, err := inspect.ListPendingTasks(queue)
	require.NoError(t, err)
	require.Len(t, pending, 1, "only the canceled job's run is gone")
	require.Equal(t, tasks.TypeAIRun+":"+other.String(), pending[0].ID)

	require.NoError(t, client.DeleteAIRun(job, queue), "a run no longer queued is not an error")
	require.NoError(t, client.DeleteAIRun(uuid.New(), "test_never_used"), "nor is a queue that never existed")

	err = tasks.NewClient(asynq.NewClientFromRedisClient(rdb)).DeleteAIRun(other, queue)
	require.ErrorContains(t, err, "no deleter", "a client without a deleter says so")
}
