package tasks

import (
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// QueueState is one asynq queue as the admin stats show it: its depth by
// task state and today's processed and failed counts (asynq resets them
// daily, UTC).
type QueueState struct {
	Queue                                             string
	Size, Pending, Active, Scheduled, Retry, Archived int
	ProcessedToday, FailedToday                       int
	Latency                                           time.Duration
	Paused                                            bool
}

// Inspector reads the state of the queues.
type Inspector struct{ in *asynq.Inspector }

// NewInspector returns an Inspector over rdb, which it never closes.
func NewInspector(rdb redis.UniversalClient) *Inspector {
	return &Inspector{in: asynq.NewInspectorFromRedisClient(rdb)}
}

// Queues returns every queue asynq knows, by name.
func (i *Inspector) Queues() ([]QueueState, error) {
	names, err := i.in.Queues()
	if err != nil {
		return nil, fmt.Errorf("list asynq queues: %w", err)
	}
	slices.Sort(names)
	out := make([]QueueState, 0, len(names))
	for _, q := range names {
		info, err := i.in.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("read asynq queue %s: %w", q, err)
		}
		out = append(out, QueueState{
			Queue: q, Size: info.Size, Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled,
			Retry: info.Retry, Archived: info.Archived, ProcessedToday: info.Processed, FailedToday: info.Failed,
			Latency: info.Latency, Paused: info.Paused,
		})
	}
	return out, nil
}
