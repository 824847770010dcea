package worker

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/activity"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tasks"
)

func TestStatsFlushStoresYesterdayAndToday(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	logger, _ := newLogger()
	prefix := "test:" + uuid.NewString() + ":"
	mux := NewMux(Deps{Store: store, Redis: rdb, Logger: logger, ActivityPrefix: prefix})

	// The mux serves stats:flush.
	require.NoError(t, mux.ProcessTask(ctx, tasks.NewStatsFlushTask()))

	// The handler on a fixed clock: the day and the day before are stored.
	today := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	tr := activity.New(activity.Config{Redis: rdb, Store: store, Prefix: prefix, Now: func() time.Time { return today.Add(3 * time.Hour) }})
	require.NoError(t, rdb.PFAdd(ctx, tr.Key(today.AddDate(0, 0, -1)), "a", "b", "c").Err())
	tr.Touch(uuid.New())
	tr.Wait()
	h := NewStatsFlushHandler(tr, func() time.Time { return today.Add(3 * time.Hour) }, logger)
	for range 2 { // idempotent: the second run leaves the same rows
		require.NoError(t, h.ProcessTask(ctx, tasks.NewStatsFlushTask()))
		rows, err := store.PlatformDays(ctx, db.PlatformDaysParams{First: today.AddDate(0, 0, -1), Last: today})
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, int64(3), rows[0].Dau)
		require.Equal(t, int64(1), rows[1].Dau)
		require.Equal(t, int64(4), rows[1].Wau)
		require.Equal(t, int64(4), rows[1].Mau)
	}
}
