package worker

import (
	"context"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tasks"
)

// runWorker runs w until the test ends and checks that it stopped cleanly.
func runWorker(t *testing.T, w *Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("worker did not shut down")
		}
	})
}

func TestWorker(t *testing.T) {
	t.Parallel()

	// The whole path: a real client enqueues on real Redis, the asynq server
	// runs the handler against real Postgres, the task completes.
	t.Run("RunsCreditsAuditEndToEnd", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		queue := uniqueQueue(t, rdb)
		store := dbtest.NewStore(t)
		logger, logs := newLogger()

		dbtest.CreateUser(t, store, dbtest.UserOpts{})
		bad := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		dbtest.SkewCredits(t, store, bad.ID, 1-bad.Credits)

		runWorker(t, New(Deps{Redis: rdb, Store: store, Logger: logger}, Config{
			Concurrency:     2,
			ShutdownTimeout: 2 * time.Second,
			Queues:          map[string]int{queue: 1},
		}))

		// Retention keeps the completed task visible to the inspector.
		info, err := asynq.NewClientFromRedisClient(rdb).Enqueue(tasks.NewCreditsAuditTask(),
			asynq.Queue(queue), asynq.Retention(time.Minute))
		require.NoError(t, err)
		inspector := asynq.NewInspectorFromRedisClient(rdb)
		require.Eventually(t, func() bool {
			ti, err := inspector.GetTaskInfo(queue, info.ID)
			return err == nil && ti.State == asynq.TaskStateCompleted
		}, 15*time.Second, 50*time.Millisecond)

		done := logs.Lines(t, "task processed")
		require.Len(t, done, 1)
		require.Equal(t, "ok", done[0]["outcome"])
		require.Equal(t, info.ID, done[0]["task_id"])
		require.Equal(t, tasks.TypeCreditsAudit, done[0]["task_type"])
		require.Equal(t, queue, done[0]["queue"])
		require.Equal(t, float64(3), done[0]["max_retry"])

		found := logs.Lines(t, "credit ledger mismatch")
		require.Len(t, found, 1)
		require.Equal(t, bad.ID.String(), found[0]["user_id"])
		require.Equal(t, float64(1), found[0]["balance"])
		require.Equal(t, info.ID, found[0]["task_id"])
	})

	t.Run("DefaultsToTheQueueWeights", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		logger, _ := newLogger()
		runWorker(t, New(Deps{Redis: rdb, Store: dbtest.NewStore(t), Logger: logger}, Config{ShutdownTimeout: time.Second}))

		inspector := asynq.NewInspectorFromRedisClient(rdb)
		require.Eventually(t, func() bool {
			servers, err := inspector.Servers()
			if err != nil {
				return false
			}
			for _, s := range servers {
				if s.PID == os.Getpid() && maps.Equal(s.Queues, tasks.QueueWeights()) {
					return true
				}
			}
			return false
		}, 10*time.Second, 50*time.Millisecond)

		// The queues are listed for the dashboard before any task exists.
		queues, err := inspector.Queues()
		require.NoError(t, err)
		for q := range tasks.QueueWeights() {
			require.Contains(t, queues, q)
		}
	})

	t.Run("RunFailsWithoutRedis", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		require.NoError(t, rdb.Close())
		logger, _ := newLogger()
		err := New(Deps{Redis: rdb, Logger: logger}, Config{}).Run(context.Background())
		require.ErrorContains(t, err, "worker: reach redis")
	})
}
