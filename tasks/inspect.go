package tasks

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
//
// It lists the queues through asynq's Inspector but counts each queue's
// tasks itself, from the keys asynq keeps per queue (asynq:{<queue>}:…,
// the layout asynq v0.26 writes and asynqmon reads). asynq's own
// GetQueueInfo also samples the tasks' memory with MEMORY USAGE, and its
// script fails outright when a completed task's hash has expired before
// asynq's janitor took its id out of the completed set (a window of a few
// seconds after each retained task expires, longer when no server runs):
// the admin stats then answered 500. Counting needs none of that.
type Inspector struct {
	in  *asynq.Inspector
	rdb redis.UniversalClient
	now func() time.Time
}

// NewInspector returns an Inspector over rdb, which it never closes.
func NewInspector(rdb redis.UniversalClient) *Inspector {
	return &Inspector{in: asynq.NewInspectorFromRedisClient(rdb), rdb: rdb, now: time.Now}
}

// Queues returns every queue asynq knows, by name. A queue deleted while it
// is read shows as empty.
func (i *Inspector) Queues(ctx context.Context) ([]QueueState, error) {
	names, err := i.in.Queues()
	if err != nil {
		return nil, fmt.Errorf("list asynq queues: %w", err)
	}
	slices.Sort(names)
	now := i.now()
	day := now.UTC().Format(time.DateOnly)
	type counts struct {
		pending, active, scheduled, retry, archived *redis.IntCmd
		processed, failed                           *redis.StringCmd
		paused                                      *redis.IntCmd
		oldest                                      *redis.StringCmd
	}
	cmds := make([]counts, len(names))
	if _, err := i.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n, q := range names {
			k := "asynq:{" + q + "}:"
			cmds[n] = counts{
				pending: p.LLen(ctx, k+"pending"), active: p.LLen(ctx, k+"active"),
				scheduled: p.ZCard(ctx, k+"scheduled"), retry: p.ZCard(ctx, k+"retry"),
				archived:  p.ZCard(ctx, k+"archived"),
				processed: p.Get(ctx, k+"processed:"+day), failed: p.Get(ctx, k+"failed:"+day),
				paused: p.Exists(ctx, k+"paused"), oldest: p.LIndex(ctx, k+"pending", -1),
			}
		}
		return nil
	}); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read asynq queues: %w", err)
	}
	out := make([]QueueState, 0, len(names))
	for n, q := range names {
		c := cmds[n]
		s := QueueState{Queue: q, Pending: int(c.pending.Val()), Active: int(c.active.Val()),
			Scheduled: int(c.scheduled.Val()), Retry: int(c.retry.Val()), Archived: int(c.archived.Val()),
			ProcessedToday: atoi(c.processed.Val()), FailedToday: atoi(c.failed.Val()), Paused: c.paused.Val() == 1}
		s.Size = s.Pending + s.Active + s.Scheduled + s.Retry + s.Archived
		if id := c.oldest.Val(); id != "" {
			// pending_since is the Unix time in nanoseconds at which the
			// task became pending; a task gone since reads as no latency.
			since, err := i.rdb.HGet(ctx, "asynq:{"+q+"}:t:"+id, "pending_since").Int64()
			if err != nil && err != redis.Nil {
				return nil, fmt.Errorf("read asynq queue %s latency: %w", q, err)
			}
			if since > 0 {
				s.Latency = max(now.Sub(time.Unix(0, since)), 0)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
