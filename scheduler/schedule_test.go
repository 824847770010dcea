package scheduler

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/tasks"
)

func TestDefaultEntries(t *testing.T) {
	t.Parallel()

	entries := DefaultEntries(Intervals{ViewFlush: 10 * time.Second, Trending: 5 * time.Minute})
	logger, _ := newLogger()
	_, err := New(newRedis(t), logger, entries)
	require.NoError(t, err, "the table must be valid")

	byName := map[string]Entry{}
	for _, e := range entries {
		require.Equal(t, e.Name, e.Task().Type(), "an entry is named for its task type")
		byName[e.Name] = e
	}
	require.Equal(t, "0 * * * *", byName[tasks.TypeCreditsAudit].Spec)
	require.Equal(t, "*/5 * * * *", byName[tasks.TypeVideosReconcile].Spec)
	require.Equal(t, "* * * * *", byName[tasks.TypeAIReconcile].Spec)
	require.Equal(t, "* * * * *", byName[tasks.TypeVideosPurge].Spec, "deleted videos left by a lost video:purge are swept every minute")
	require.Equal(t, "*/5 * * * *", byName[tasks.TypeFramesReconcile].Spec)
	require.Equal(t, "*/10 * * * *", byName[tasks.TypeAccountsReconcile].Spec)
	require.Equal(t, "*/5 * * * *", byName[tasks.TypePaymentsReconcile].Spec, "a lost payment webhook is recovered within minutes")
	require.Equal(t, "7 * * * *", byName[tasks.TypeStatsFlush].Spec, "active users reach Postgres hourly: a Redis loss costs at most an hour")
	require.Equal(t, "@every 10s", byName[tasks.TypeViewsFlush].Spec)
	require.Equal(t, "@every 5m0s", byName[tasks.TypeTrendingRecompute].Spec)
	require.Equal(t, "*/15 * * * *", byName[tasks.TypeSubscriptionsRenew].Spec, "Toss billing keys due are charged every 15 minutes")
	require.Equal(t, "*/10 * * * *", byName[tasks.TypeSubscriptionsExpire].Spec)
	require.Equal(t, "* * * * *", byName[tasks.TypeBansExpire].Spec, "a timed ban ends within a minute of its end")
	require.Equal(t, "* * * * *", byName[tasks.TypeNotifyOutbox].Spec, "a notification whose task was lost is enqueued again within a minute or two")
}

// TestDefaultEntriesReconcileInterval: RECONCILE_INTERVAL moves the
// reconcilers (and the notification outbox drain) to "@every", and nothing
// else.
func TestDefaultEntriesReconcileInterval(t *testing.T) {
	t.Parallel()
	base := DefaultEntries(Intervals{ViewFlush: 10 * time.Second, Trending: 5 * time.Minute})
	fast := DefaultEntries(Intervals{ViewFlush: 10 * time.Second, Trending: 5 * time.Minute, Reconcile: 5 * time.Second})
	require.Len(t, fast, len(base))
	reconcilers := map[string]bool{tasks.TypeVideosReconcile: true, tasks.TypeAIReconcile: true,
		tasks.TypeFramesReconcile: true, tasks.TypePaymentsReconcile: true, tasks.TypeNotifyOutbox: true}
	for i, e := range fast {
		require.Equal(t, base[i].Name, e.Name)
		if reconcilers[e.Name] {
			require.Equal(t, "@every 5s", e.Spec, e.Name)
		} else {
			require.Equal(t, base[i].Spec, e.Spec, e.Name)
		}
	}
}

func TestNewRejectsBadEntries(t *testing.T) {
	t.Parallel()

	shared := asynq.NewTask("test:shared", nil)
	ok := func() *asynq.Task { return asynq.NewTask("test:ok", nil) }
	tests := []struct {
		name    string
		entries []Entry
		err     string
	}{
		{"EmptyName", []Entry{{Spec: "@hourly", Task: ok}}, "empty name"},
		{"DuplicateName", []Entry{{Name: "a", Spec: "@hourly", Task: ok}, {Name: "a", Spec: "@daily", Task: ok}}, "duplicate name"},
		{"BadSpec", []Entry{{Name: "a", Spec: "every hour", Task: ok}}, "spec"},
		{"NilTask", []Entry{{Name: "a", Spec: "@hourly"}}, "nil Task"},
		{"TaskReturnsNil", []Entry{{Name: "a", Spec: "@hourly", Task: func() *asynq.Task { return nil }}}, "returned nil"},
		{"SharedTask", []Entry{
			{Name: "a", Spec: "@hourly", Task: func() *asynq.Task { return shared }},
			{Name: "b", Spec: "@daily", Task: func() *asynq.Task { return shared }},
		}, "another entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, _ := newLogger()
			_, err := New(newRedis(t), logger, tt.entries)
			require.ErrorContains(t, err, tt.err)
		})
	}
}
