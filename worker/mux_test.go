package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestLogTasks(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		handler asynq.HandlerFunc
		level   string
		outcome string
		wantErr bool
	}{
		{"OK", func(context.Context, *asynq.Task) error { return nil }, "INFO", "ok", false},
		// Outside a server there is no retry budget, so an error is final.
		{"FinalError", func(context.Context, *asynq.Task) error { return errors.New("boom") }, "ERROR", "error", true},
		{"SkipRetry", func(context.Context, *asynq.Task) error {
			return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
		}, "ERROR", "skip_retry", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := newLogger()
			mux := asynq.NewServeMux()
			mux.Use(logTasks(logger))
			mux.Handle("test:run", tt.handler)

			err := mux.ProcessTask(context.Background(), asynq.NewTask("test:run", nil))
			require.Equal(t, tt.wantErr, err != nil, "err = %v", err)

			all := logs.Lines(t, "")
			require.Len(t, all, 1, "exactly one line per task")
			rec := all[0]
			require.Equal(t, "task processed", rec["msg"])
			require.Equal(t, tt.level, rec["level"])
			require.Equal(t, tt.outcome, rec["outcome"])
			require.Equal(t, "test:run", rec["task_type"])
			for _, key := range []string{"task_id", "queue", "retry", "max_retry", "duration_ms"} {
				require.Contains(t, rec, key)
			}
			if tt.wantErr {
				require.Contains(t, rec, "error")
			} else {
				require.NotContains(t, rec, "error")
			}
		})
	}

	t.Run("PanicIsLoggedAndRethrown", func(t *testing.T) {
		t.Parallel()
		logger, logs := newLogger()
		mux := asynq.NewServeMux()
		mux.Use(logTasks(logger))
		mux.HandleFunc("test:panic", func(context.Context, *asynq.Task) error { panic("kaboom") })

		require.PanicsWithValue(t, "kaboom", func() {
			_ = mux.ProcessTask(context.Background(), asynq.NewTask("test:panic", nil))
		})
		all := logs.Lines(t, "")
		require.Len(t, all, 1)
		require.Equal(t, "panic", all[0]["outcome"])
		require.Equal(t, "kaboom", all[0]["panic"])
	})

	// Under a real server the line carries asynq's id, queue and retry count,
	// and an error with retries left is a warning.
	t.Run("OnARealServer", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		queue := uniqueQueue(t, rdb)
		logger, logs := newLogger()

		var attempts atomic.Int32
		mux := asynq.NewServeMux()
		mux.Use(logTasks(logger))
		mux.HandleFunc("test:flaky", func(context.Context, *asynq.Task) error {
			if attempts.Add(1) == 1 {
				return errors.New("first attempt fails")
			}
			return nil
		})
		srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
			Queues:                   map[string]int{queue: 1},
			RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 0 },
			DelayedTaskCheckInterval: 100 * time.Millisecond,
			LogLevel:                 asynq.WarnLevel,
		})
		require.NoError(t, srv.Start(mux))
		t.Cleanup(srv.Shutdown)

		info, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("test:flaky", nil),
			asynq.Queue(queue), asynq.MaxRetry(3), asynq.Retention(time.Minute))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return logs.Count("task processed") == 2 }, 15*time.Second, 50*time.Millisecond)

		got := logs.Lines(t, "task processed")
		for i, want := range []struct {
			level, outcome string
			retry          float64
		}{{"WARN", "error", 0}, {"INFO", "ok", 1}} {
			require.Equal(t, want.level, got[i]["level"], "line %d", i)
			require.Equal(t, want.outcome, got[i]["outcome"], "line %d", i)
			require.Equal(t, want.retry, got[i]["retry"], "line %d", i)
			require.Equal(t, float64(3), got[i]["max_retry"], "line %d", i)
			require.Equal(t, info.ID, got[i]["task_id"], "line %d", i)
			require.Equal(t, queue, got[i]["queue"], "line %d", i)
		}
	})
}
