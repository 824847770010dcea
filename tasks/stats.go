package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// TypeStatsFlush stores the active-user counts of yesterday and today so far
// in platform_daily_stats (package activity). Rewriting a day is harmless,
// so it has no TaskID of its own beyond the scheduler's.
const TypeStatsFlush = "stats:flush"

// NewStatsFlushTask returns a stats:flush task on QueueLow with 3 retries
// and a 2-minute timeout.
func NewStatsFlushTask() *asynq.Task {
	return newTask(TypeStatsFlush, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(2*time.Minute))
}
