package scheduler

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
)

// Two replicas run the same table: each tick is enqueued once, and
// asynq's Inspector (what asynqmon's Schedulers page reads) lists the cron
// table of each replica with its next enqueue times while they run, and
// nothing once they stop.
func TestReplicasPublishTheirTableToAsynqmon(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	queue := uniqueQueue(t, rdb)
	table := func() []Entry {
		return []Entry{
			tickEntry(queue),
			{Name: "test:audit", Spec: "*/5 * * * *", Task: func() *asynq.Task {
				return asynq.NewTask("test:audit", []byte(`{"k":1}`), asynq.Queue(queue))
			}},
		}
	}
	var scheds []*Scheduler
	for range 2 {
		logger, _ := newLogger()
		s, err := New(rdb, logger, table())
		require.NoError(t, err)
		s.beatEvery = 200 * time.Millisecond // the page is at most this stale
		scheds = append(scheds, s)
	}
	ids := make([]string, len(scheds))
	for i, s := range scheds {
		ids[i] = s.hb.id
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, len(scheds))
	for i, s := range scheds {
		wg.Go(func() { errs[i] = s.Run(ctx) })
	}
	time.Sleep(2500 * time.Millisecond) // two "@every 1s" ticks, and the first beat
	now := time.Now()
	entries, err := inspector.SchedulerEntries()
	require.NoError(t, err)
	cancel()
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	var asynqIDs []string
	for _, s := range scheds {
		for _, e := range s.ordered {
			asynqIDs = append(asynqIDs, e.asynqID)
		}
	}
	var got []string
	audit, err := cron.ParseStandard("*/5 * * * *")
	require.NoError(t, err)
	for _, e := range entries {
		if !slices.Contains(asynqIDs, e.ID) {
			continue // another test's scheduler on this Redis
		}
		got = append(got, e.ID)
		switch e.Task.Type() {
		case "test:tick":
			require.Equal(t, "@every 1s", e.Spec)
			require.True(t, e.Next.After(now.Add(-300*time.Millisecond)) && e.Next.Before(now.Add(1200*time.Millisecond)), "next %s, now %s", e.Next, now)
			require.False(t, e.Prev.IsZero(), "the replica has run the entry")
			require.WithinDuration(t, now, e.Prev, 2*time.Second)
		case "test:audit":
			require.Equal(t, "*/5 * * * *", e.Spec)
			require.Equal(t, `{"k":1}`, string(e.Task.Payload()))
			require.True(t, e.Next.Equal(audit.Next(now)), "next %s, want %s", e.Next, audit.Next(now))
			require.True(t, e.Prev.IsZero(), "not run yet: %s", e.Prev)
		}
		var opts []string
		for _, o := range e.Opts {
			opts = append(opts, o.String())
		}
		require.Equal(t, []string{asynq.Retention(map[string]time.Duration{"test:tick": time.Minute, "test:audit": 10 * time.Minute}[e.Task.Type()]).String()}, opts)
	}
	require.ElementsMatch(t, asynqIDs, got, "each replica lists both entries once")

	// Each tick was enqueued once.
	ticks := queuedTicks(t, inspector, queue)
	require.GreaterOrEqual(t, len(ticks), 1)
	require.LessOrEqual(t, len(ticks), 3, "a tick was enqueued twice: %v", ticks)
	requireConsecutive(t, ticks)

	// A stopped replica removes its entries.
	left, err := inspector.SchedulerEntries()
	require.NoError(t, err)
	for _, e := range left {
		require.NotContains(t, asynqIDs, e.ID, "entry of a stopped replica still listed")
	}
	for _, id := range ids {
		n, err := rdb.Exists(context.Background(), schedulerEntriesKey(id)).Result()
		require.NoError(t, err)
		require.Zero(t, n)
	}
}
