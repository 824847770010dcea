package scheduler

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/tasks"
)

// runFor is how long each scheduler run lasts: four or five "@every 1s" ticks.
const runFor = 4500 * time.Millisecond

// runAll runs every scheduler for d, all at once, and waits for them to stop.
func runAll(t *testing.T, d time.Duration, scheds ...*Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	errs := make([]error, len(scheds))
	var wg sync.WaitGroup
	for i, s := range scheds {
		wg.Go(func() { errs[i] = s.Run(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// tickEntry is an "@every 1s" entry enqueuing to queue.
func tickEntry(queue string) Entry {
	return Entry{Name: "test:tick", Spec: "@every 1s", Task: func() *asynq.Task {
		return asynq.NewTask("test:tick", nil, asynq.Queue(queue))
	}}
}

// queuedTicks returns the ids of the tasks in queue, sorted.
func queuedTicks(t *testing.T, inspector *asynq.Inspector, queue string) []string {
	t.Helper()
	pending, err := inspector.ListPendingTasks(queue, asynq.PageSize(100))
	require.NoError(t, err)
	var ids []string
	for _, ti := range pending {
		ids = append(ids, ti.ID)
	}
	slices.Sort(ids)
	return ids
}

// requireConsecutive checks that sorted tick ids are one second apart: no
// tick was skipped.
func requireConsecutive(t *testing.T, ids []string) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		prev, err := time.Parse(time.RFC3339, strings.TrimPrefix(ids[i-1], "test:tick:"))
		require.NoError(t, err)
		cur, err := time.Parse(time.RFC3339, strings.TrimPrefix(ids[i], "test:tick:"))
		require.NoError(t, err)
		require.Equal(t, time.Second, cur.Sub(prev), "ticks %s and %s are not consecutive", ids[i-1], ids[i])
	}
}

// attempts returns, from one scheduler's log, the task ids it enqueued and
// the ones it found already enqueued.
func attempts(t *testing.T, logs *testkit.LogBuffer) (enqueued, conflicts []string) {
	t.Helper()
	for _, rec := range logs.Lines(t, "periodic task enqueued") {
		enqueued = append(enqueued, rec["task_id"].(string))
	}
	for _, rec := range logs.Lines(t, "periodic task already enqueued by another scheduler") {
		conflicts = append(conflicts, rec["task_id"].(string))
	}
	for _, rec := range logs.Lines(t, "") {
		require.NotEqual(t, "ERROR", rec["level"], "unexpected error line: %v", rec)
	}
	return enqueued, conflicts
}

// TestReplicasEnqueueEachTickOnce is the reason the package exists: two
// schedulers on one Redis enqueue each tick exactly once, as one does. Three
// setups run side by side over the same seconds, each on its own queue.
func TestReplicasEnqueueEachTickOnce(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	oneQueue, twoQueue, plainQueue := uniqueQueue(t, rdb), uniqueQueue(t, rdb), uniqueQueue(t, rdb)
	newScheduler := func(queue string) (*Scheduler, *testkit.LogBuffer) {
		logger, logs := newLogger()
		s, err := New(rdb, logger, []Entry{tickEntry(queue)})
		require.NoError(t, err)
		return s, logs
	}
	one, oneLogs := newScheduler(oneQueue)
	a, logsA := newScheduler(twoQueue)
	b, logsB := newScheduler(twoQueue)

	// The control: two plain asynq Schedulers, without tick TaskIDs.
	var plain []*asynq.Scheduler
	for range 2 {
		s := asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{LogLevel: asynq.FatalLevel})
		_, err := s.Register("@every 1s", asynq.NewTask("test:tick", nil, asynq.Queue(plainQueue)))
		require.NoError(t, err)
		require.NoError(t, s.Start())
		plain = append(plain, s)
	}
	runAll(t, runFor, one, a, b)
	for _, s := range plain {
		s.Shutdown()
	}

	oneIDs := queuedTicks(t, inspector, oneQueue)
	t.Run("OneScheduler", func(t *testing.T) {
		t.Parallel()
		require.GreaterOrEqual(t, len(oneIDs), 3)
		require.LessOrEqual(t, len(oneIDs), 6)
		requireConsecutive(t, oneIDs)
		enqueued, conflicts := attempts(t, oneLogs)
		require.ElementsMatch(t, oneIDs, enqueued)
		require.Empty(t, conflicts, "alone, nothing is enqueued before it")
	})

	t.Run("TwoSchedulers", func(t *testing.T) {
		t.Parallel()
		ids := queuedTicks(t, inspector, twoQueue)
		require.GreaterOrEqual(t, len(ids), 3)
		require.LessOrEqual(t, len(ids), 6, "a tick was enqueued twice: %v", ids)
		requireConsecutive(t, ids)
		require.InDelta(t, len(oneIDs), len(ids), 1, "two replicas enqueue as much as one")

		enqA, confA := attempts(t, logsA)
		enqB, confB := attempts(t, logsB)
		// Both really fired on (nearly) every tick...
		require.GreaterOrEqual(t, len(enqA)+len(confA), 3, "scheduler A barely ran")
		require.GreaterOrEqual(t, len(enqB)+len(confB), 3, "scheduler B barely ran")
		// ...yet each queued tick was enqueued by exactly one of them, and a
		// tick one of them lost is in the queue, enqueued by the other.
		require.ElementsMatch(t, ids, append(enqA, enqB...))
		lost := append(confA, confB...)
		require.NotEmpty(t, lost, "the schedulers never competed for a tick")
		for _, id := range lost {
			require.Contains(t, ids, id)
		}
	})

	// Without tick TaskIDs the same setup enqueues every tick twice, so the
	// bounds above can fail.
	t.Run("PlainAsynqSchedulersDuplicate", func(t *testing.T) {
		t.Parallel()
		pending, err := inspector.ListPendingTasks(plainQueue, asynq.PageSize(100))
		require.NoError(t, err)
		require.Greater(t, len(pending), 6)
	})
}

func TestRunFailsWithoutRedis(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	logger, _ := newLogger()
	s, err := New(rdb, logger, DefaultEntries(Intervals{ViewFlush: 10 * time.Second, Trending: 5 * time.Minute}))
	require.NoError(t, err)
	require.NoError(t, rdb.Close())
	require.ErrorContains(t, s.Run(context.Background()), "scheduler: reach redis")
}

// TestTwoSchedulersRecomputeTrendingOncePerTick runs the real table twice on
// one Redis with a one-second trending interval: every tick's
// trending:recompute is queued once, so the ranking is computed once per
// tick however many schedulers run. The only test that runs the real table,
// so it owns the "low" queue of this package's Redis database.
func TestTwoSchedulersRecomputeTrendingOncePerTick(t *testing.T) {
	rdb := newRedis(t)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	_ = inspector.DeleteQueue(tasks.QueueLow, true)
	t.Cleanup(func() { _ = inspector.DeleteQueue(tasks.QueueLow, true) })
	var scheds []*Scheduler
	for range 2 {
		logger, _ := newLogger()
		s, err := New(rdb, logger, DefaultEntries(Intervals{ViewFlush: time.Hour, Trending: time.Second}))
		require.NoError(t, err)
		scheds = append(scheds, s)
	}
	runAll(t, runFor, scheds...)

	pending, err := inspector.ListPendingTasks(tasks.QueueLow, asynq.PageSize(100))
	require.NoError(t, err)
	var ids []string
	for _, ti := range pending {
		if ti.Type == tasks.TypeTrendingRecompute {
			ids = append(ids, strings.TrimPrefix(ti.ID, tasks.TypeTrendingRecompute+":"))
		}
	}
	slices.Sort(ids)
	require.GreaterOrEqual(t, len(ids), 3)
	require.LessOrEqual(t, len(ids), 6, "a tick was queued twice: %v", ids)
	for i := 1; i < len(ids); i++ {
		prev, err := time.Parse(time.RFC3339, ids[i-1])
		require.NoError(t, err)
		cur, err := time.Parse(time.RFC3339, ids[i])
		require.NoError(t, err)
		require.Equal(t, time.Second, cur.Sub(prev), "one task per tick: %v", ids)
	}
}
