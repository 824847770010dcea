package tasks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/tasks"
)

func TestCreditsAuditTask(t *testing.T) {
	t.Parallel()

	t.Run("PayloadAndType", func(t *testing.T) {
		t.Parallel()
		task := tasks.NewCreditsAuditTask()
		require.Equal(t, "credits:audit", task.Type())
		require.JSONEq(t, `{}`, string(task.Payload()))
	})

	// Options are private to asynq.Task, so read them back the way the worker
	// sees them: from the task as stored in Redis.
	t.Run("Options", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		client := asynq.NewClientFromRedisClient(rdb)
		info, err := client.EnqueueContext(context.Background(), tasks.NewCreditsAuditTask())
		require.NoError(t, err)
		t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteTask(info.Queue, info.ID) })

		require.Equal(t, tasks.QueueLow, info.Queue)
		require.Equal(t, 3, info.MaxRetry)
		require.Equal(t, 2*time.Minute, info.Timeout)
		require.Equal(t, `{}`, string(info.Payload))
	})

	t.Run("Parse", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			payload string
			ok      bool
		}{
			{"Constructor", string(tasks.NewCreditsAuditTask().Payload()), true},
			{"Empty", "", true},
			{"UnknownFieldsFromANewerRelease", `{"since":"2026-01-01T00:00:00Z"}`, true},
			{"NotJSON", `not json`, false},
			{"Array", `[]`, false},
			{"String", `"x"`, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := tasks.ParseCreditsAudit(asynq.NewTask(tasks.TypeCreditsAudit, []byte(tt.payload)))
				if tt.ok {
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				require.True(t, errors.Is(err, asynq.SkipRetry), "a bad payload must not be retried: %v", err)
			})
		}
	})

	t.Run("EnqueueThroughClient", func(t *testing.T) {
		t.Parallel()
		rdb := newRedis(t)
		rec := &recordingEnqueuer{next: asynq.NewClientFromRedisClient(rdb)}
		require.NoError(t, tasks.NewClient(rec).EnqueueCreditsAudit(context.Background()))
		require.Len(t, rec.infos, 1)
		info := rec.infos[0]
		t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteTask(info.Queue, info.ID) })
		require.Equal(t, tasks.TypeCreditsAudit, info.Type)
		require.Equal(t, tasks.QueueLow, info.Queue)
	})
}

// recordingEnqueuer passes tasks on to a real client and keeps what it returned.
type recordingEnqueuer struct {
	next  tasks.Enqueuer
	infos []*asynq.TaskInfo
}

var _ tasks.Enqueuer = (*recordingEnqueuer)(nil)

func (r *recordingEnqueuer) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	info, err := r.next.EnqueueContext(ctx, task, opts...)
	if err == nil {
		r.infos = append(r.infos, info)
	}
	return info, err
}
