package activity_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/activity"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
)

// redisDB is this package's test database; every test also takes its own
// key prefix, so tests running in parallel never share a key.
const redisDB = 11

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func newTracker(t *testing.T, store *db.Store, clk *clock) *activity.Tracker {
	t.Helper()
	return activity.New(activity.Config{Redis: testkit.Redis(t, redisDB), Store: store,
		Prefix: "test:" + uuid.NewString() + ":", Now: clk.now})
}

func TestTouchCountsAUserOncePerDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	clk := &clock{}
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clk.set(day.Add(9 * time.Hour))
	tr := newTracker(t, store, clk)

	a, b := uuid.New(), uuid.New()
	for range 5 {
		tr.Touch(a)
	}
	clk.add(time.Hour) // past the dedup window: added again, still one user
	tr.Touch(a)
	tr.Touch(b)
	tr.Wait()
	c, err := tr.Counts(ctx, clk.now())
	require.NoError(t, err)
	require.Equal(t, activity.Counts{Day: day, DAU: 2, WAU: 2, MAU: 2}, c)

	// The next day: a comes back, c is new. DAU is the day's users, WAU and
	// MAU the union (a once).
	clk.set(day.AddDate(0, 0, 1).Add(time.Hour))
	cUser := uuid.New()
	tr.Touch(a)
	tr.Touch(cUser)
	tr.Wait()
	c, err = tr.Counts(ctx, clk.now())
	require.NoError(t, err)
	require.Equal(t, int64(2), c.DAU)
	require.Equal(t, int64(3), c.WAU)
	require.Equal(t, int64(3), c.MAU)

	// Eight days later the first day has left the week, not the month.
	c, err = tr.Counts(ctx, day.AddDate(0, 0, 7))
	require.NoError(t, err)
	require.Equal(t, activity.Counts{Day: day.AddDate(0, 0, 7), DAU: 0, WAU: 2, MAU: 3}, c)
}

func TestTouchSkipsTheRedisCallWithinTheWindow(t *testing.T) {
	t.Parallel()
	store := dbtest.NewStore(t)
	clk := &clock{}
	clk.set(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	rdb := testkit.Redis(t, redisDB)
	prefix := "test:" + uuid.NewString() + ":"
	tr := activity.New(activity.Config{Redis: rdb, Store: store, Prefix: prefix, Now: clk.now})
	u := uuid.New()
	tr.Touch(u)
	tr.Wait()
	key := tr.Key(clk.now())
	require.NoError(t, rdb.Del(context.Background(), key).Err())
	tr.Touch(u) // within the window: no PFADD
	tr.Wait()
	n, err := rdb.Exists(context.Background(), key).Result()
	require.NoError(t, err)
	require.Zero(t, n)
	clk.add(activity.DefaultDedup)
	tr.Touch(u)
	tr.Wait()
	require.Equal(t, int64(1), rdb.PFCount(context.Background(), key).Val())
}

func TestFlushIsIdempotentAndSurvivesARedisLoss(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	clk := &clock{}
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	clk.set(day.Add(time.Hour))
	rdb := testkit.Redis(t, redisDB)
	tr := newTracker(t, store, clk)
	users := make([]uuid.UUID, 40)
	for i := range users {
		users[i] = uuid.New()
		tr.Touch(users[i])
	}
	tr.Wait()
	clk.set(day.AddDate(0, 0, 1).Add(time.Hour))
	for _, u := range users[:10] {
		tr.Touch(u)
	}
	tr.Touch(uuid.New())
	tr.Wait()

	first, err := tr.Flush(ctx, day)
	require.NoError(t, err)
	require.Equal(t, activity.Counts{Day: day, DAU: 40, WAU: 40, MAU: 40}, first)
	second, err := tr.Flush(ctx, day.AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Equal(t, activity.Counts{Day: day.AddDate(0, 0, 1), DAU: 11, WAU: 41, MAU: 41}, second)
	again, err := tr.Flush(ctx, day.AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Equal(t, second, again)

	rows, err := store.PlatformDays(ctx, db.PlatformDaysParams{First: day, Last: day.AddDate(0, 0, 1)})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, []int64{40, 11}, []int64{rows[0].Dau, rows[1].Dau})
	require.Equal(t, int64(41), rows[1].Wau)

	// Redis loses both days: the counts come back from the stored sketches,
	// still a union.
	require.NoError(t, rdb.Del(ctx, tr.Key(day), tr.Key(day.AddDate(0, 0, 1))).Err())
	c, err := tr.Counts(ctx, day.AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Equal(t, second, c)

	// A day Redis lost and refilled with one returning user keeps the
	// stored users when flushed again.
	require.NoError(t, rdb.Del(ctx, tr.Key(day.AddDate(0, 0, 1))).Err())
	require.NoError(t, rdb.PFAdd(ctx, tr.Key(day.AddDate(0, 0, 1)), users[0].String()).Err())
	c, err = tr.Flush(ctx, day.AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Equal(t, second, c)

	// A day nobody was active is stored as zero.
	empty, err := tr.Flush(ctx, day.AddDate(0, 0, 7)) // the week from day+1
	require.NoError(t, err)
	require.Equal(t, int64(0), empty.DAU)
	require.Equal(t, int64(11), empty.WAU)
}

func TestFlushCountsTheDaysNewUsersAndVideos(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	clk := &clock{}
	now := time.Now().UTC()
	clk.set(now)
	tr := newTracker(t, store, clk)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	dbtest.Video(t, store, dbtest.VideoOpts{Owner: u.ID})
	_, err := tr.Flush(ctx, now)
	require.NoError(t, err)
	rows, err := store.PlatformDays(ctx, db.PlatformDaysParams{First: activity.Day(now), Last: activity.Day(now)})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	var wantUsers, wantVideos int64
	day := activity.Day(now)
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE created_at >= $1 AND created_at < $2),
		(SELECT count(*) FROM videos WHERE created_at >= $1 AND created_at < $2)`, day, day.AddDate(0, 0, 1)).Scan(&wantUsers, &wantVideos))
	require.Positive(t, wantUsers)
	require.Equal(t, wantUsers, rows[0].NewUsers)
	require.Equal(t, wantVideos, rows[0].NewVideos)
}
