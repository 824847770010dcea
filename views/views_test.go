package views

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
)

// redisDB is this package's own Redis database. The keys are global
// (one pending hash per deployment), so the tests here run one at a time.
const redisDB = 7

func setup(t *testing.T) (*Counter, *Flusher, *db.Store, redis.UniversalClient) {
	t.Helper()
	rdb := testkit.Redis(t, redisDB)
	require.NoError(t, rdb.FlushDB(context.Background()).Err())
	store := dbtest.NewStore(t)
	return NewCounter(rdb, "test-secret", 24*time.Hour), NewFlusher(rdb, store), store, rdb
}

func newVideo(t *testing.T, store *db.Store) uuid.UUID {
	t.Helper()
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	id := db.NewID()
	_, err := store.Pool().Exec(context.Background(),
		`INSERT INTO videos (id, user_id, status) VALUES ($1, $2, 'completed')`, id, owner.ID)
	require.NoError(t, err)
	return id
}

func viewCount(t *testing.T, store *db.Store, id uuid.UUID) int64 {
	t.Helper()
	var n int64
	require.NoError(t, store.Pool().QueryRow(context.Background(), "SELECT view_count FROM videos WHERE id = $1", id).Scan(&n))
	return n
}

func TestViewerID(t *testing.T) {
	c := NewCounter(nil, "secret", time.Hour)
	u := uuid.New()
	require.Equal(t, "u:"+u.String(), c.ViewerID(&u, "1.2.3.4", "ua"))
	a := c.ViewerID(nil, "1.2.3.4", "Mozilla")
	require.Regexp(t, `^a:[0-9a-f]{32}$`, a)
	require.Equal(t, a, c.ViewerID(nil, "1.2.3.4", "Mozilla"))
	require.NotEqual(t, a, c.ViewerID(nil, "1.2.3.5", "Mozilla"))
	require.NotEqual(t, a, c.ViewerID(nil, "1.2.3.4", "Chrome"))
	require.NotContains(t, a, "1.2.3.4")
	require.NotEqual(t, a, NewCounter(nil, "other-secret", time.Hour).ViewerID(nil, "1.2.3.4", "Mozilla"), "keyed")
}

func TestRecordAndFlush(t *testing.T) {
	c, f, store, _ := setup(t)
	ctx := context.Background()
	video := newVideo(t, store)

	counted, pending, err := c.Record(ctx, View{VideoID: video, Viewer: "u:a", Source: "feed", WatchTimeMS: 1500})
	require.NoError(t, err)
	require.True(t, counted)
	require.Equal(t, int64(1), pending)
	counted, pending, err = c.Record(ctx, View{VideoID: video, Viewer: "u:a", Source: "feed"})
	require.NoError(t, err)
	require.False(t, counted, "one count per viewer per window")
	require.Equal(t, int64(1), pending)
	counted, pending, err = c.Record(ctx, View{VideoID: video, Viewer: "u:b", Source: "search"})
	require.NoError(t, err)
	require.True(t, counted)
	require.Equal(t, int64(2), pending)
	_, _, err = c.Record(ctx, View{VideoID: video, Viewer: "u:c"})
	require.NoError(t, err)

	res, err := f.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, FlushResult{Batches: 1, Views: 3}, res)
	require.Equal(t, int64(3), viewCount(t, store, video))
	p, err := c.Pending(ctx, video)
	require.NoError(t, err)
	require.Equal(t, int64(0), p[video])

	var views, feed, search, other, watch int64
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT views, views_feed, views_search, views_other, watch_time_ms
		FROM video_daily_stats WHERE video_id = $1 AND day = current_date`, video).Scan(&views, &feed, &search, &other, &watch))
	require.Equal(t, []int64{3, 1, 1, 1, 1500}, []int64{views, feed, search, other, watch})

	// Nothing pending: a flush is a no-op.
	res, err = f.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, FlushResult{}, res)
	require.Equal(t, int64(3), viewCount(t, store, video))
}

func TestFlushIsExactlyOnce(t *testing.T) {
	c, f, store, rdb := setup(t)
	ctx := context.Background()
	video := newVideo(t, store)
	for i := range 5 {
		_, _, err := c.Record(ctx, View{VideoID: video, Viewer: fmt.Sprintf("u:%d", i)})
		require.NoError(t, err)
	}

	// A flush that crashed after taking the batch but before Postgres: the
	// batch waits in flight; the views still show in responses.
	lost := batchPrefix + db.NewID().String()
	require.NoError(t, takeScript.Run(ctx, rdb, []string{pendingKey, lost, inflightKey}).Err())
	p, err := c.Pending(ctx, video)
	require.NoError(t, err)
	require.Equal(t, int64(5), p[video], "in-flight views are still reported")

	res, err := f.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, FlushResult{Batches: 1, Views: 5}, res, "the next flush replays the orphaned batch")
	require.Equal(t, int64(5), viewCount(t, store, video))

	// A flush that crashed after the commit but before deleting the batch:
	// the same batch shows up again. Applying it again changes nothing.
	fields := map[string]any{"t:" + video.String(): 5, "d:" + video.String() + ":2026-01-01:feed": 5}
	require.NoError(t, rdb.HSet(ctx, lost, fields).Err())
	require.NoError(t, rdb.SAdd(ctx, inflightKey, lost).Err())
	res, err = f.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, FlushResult{Replayed: 1}, res)
	require.Equal(t, int64(5), viewCount(t, store, video), "a replayed batch is not counted twice")
	n, err := rdb.Exists(ctx, lost).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the replayed batch is cleaned up")
}

// TestConcurrentViewsWithRunningFlushers: 1,000 distinct viewers at once,
// each twice, while two flushers run in a loop; the count is exact.
func TestConcurrentViewsWithRunningFlushers(t *testing.T) {
	c, f, store, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	video := newVideo(t, store)

	var flushErrs []error
	var mu sync.Mutex
	var flushers sync.WaitGroup
	for range 2 {
		flushers.Add(1)
		go func() {
			defer flushers.Done()
			for ctx.Err() == nil {
				if _, err := f.Flush(context.Background()); err != nil {
					mu.Lock()
					flushErrs = append(flushErrs, err)
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	const viewers = 1000
	var wg sync.WaitGroup
	var counted sync.Map
	for i := range viewers {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, _, err := c.Record(context.Background(), View{VideoID: video, Viewer: fmt.Sprintf("a:%d", i), Source: "feed"})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					if _, dup := counted.LoadOrStore(i, true); dup {
						t.Errorf("viewer %d counted twice", i)
					}
				}
			}()
		}
	}
	wg.Wait()
	cancel()
	flushers.Wait()
	require.Empty(t, flushErrs)
	_, err := f.Flush(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(viewers), viewCount(t, store, video))
	var daily int64
	require.NoError(t, store.Pool().QueryRow(context.Background(),
		"SELECT coalesce(sum(views), 0) FROM video_daily_stats WHERE video_id = $1", video).Scan(&daily))
	require.Equal(t, int64(viewers), daily)
}

func TestParseBatchRejectsGarbage(t *testing.T) {
	_, err := parseBatch(map[string]string{"t:not-a-uuid": "1"})
	require.Error(t, err)
	_, err = parseBatch(map[string]string{"x:" + uuid.NewString(): "1"})
	require.Error(t, err)
	_, err = parseBatch(map[string]string{"t:" + uuid.NewString(): "many"})
	require.Error(t, err)
}

// TestAnonymousCapPerIP: anonymous viewers from one client count at most
// AnonPerIP times per video in the window, concurrently too; viewers that
// are users, other clients and other videos are not held back by it.
func TestAnonymousCapPerIP(t *testing.T) {
	c, _, store, _ := setup(t)
	ctx := context.Background()
	video, other := newVideo(t, store), newVideo(t, store)
	var wg sync.WaitGroup
	var counted sync.Map
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ua := fmt.Sprint("agent-", i)
			ok, _, err := c.Record(ctx, View{VideoID: video, Viewer: c.ViewerID(nil, "192.0.2.1", ua), Client: "192.0.2.1", AnonPerIP: 3})
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				counted.Store(ua, true)
			}
		}()
	}
	wg.Wait()
	n := 0
	counted.Range(func(any, any) bool { n++; return true })
	require.Equal(t, 3, n, "50 User-Agents from one IP count 3 times")

	ok, _, err := c.Record(ctx, View{VideoID: other, Viewer: c.ViewerID(nil, "192.0.2.1", "agent-x"), Client: "192.0.2.1", AnonPerIP: 3})
	require.NoError(t, err)
	require.True(t, ok, "the cap is per video")
	ok, _, err = c.Record(ctx, View{VideoID: video, Viewer: c.ViewerID(nil, "192.0.2.2", "agent-x"), Client: "192.0.2.2", AnonPerIP: 3})
	require.NoError(t, err)
	require.True(t, ok, "and per IP")
	for i := range 5 {
		u := uuid.New()
		ok, _, err := c.Record(ctx, View{VideoID: video, Viewer: c.ViewerID(&u, "192.0.2.1", "agent-0"), Client: "192.0.2.1", AnonPerIP: 3})
		require.NoError(t, err)
		require.True(t, ok, "user %d is not capped", i)
	}
	_, pending, err := c.Record(ctx, View{VideoID: video, Viewer: c.ViewerID(nil, "192.0.2.1", "agent-late"), Client: "192.0.2.1", AnonPerIP: 3})
	require.NoError(t, err)
	require.Equal(t, int64(3+1+5), pending)
}

// TestFlushCountriesAndWatchViews: a view that reports a watch time counts
// as one that did (watch_views), and a view with a country counts for it;
// views without one are left out of the countries (the api shows them as
// unknown).
func TestFlushCountriesAndWatchViews(t *testing.T) {
	c, f, store, _ := setup(t)
	ctx := context.Background()
	video := newVideo(t, store)
	for i, v := range []View{
		{Viewer: "u:a", WatchTimeMS: 1000, Country: "kr"},
		{Viewer: "u:b", WatchTimeMS: 3000, Country: "KR"},
		{Viewer: "u:c", Country: "US"},
		{Viewer: "u:d", Country: "XX"},
		{Viewer: "u:e", Country: "not a country"},
		{Viewer: "u:a", WatchTimeMS: 9000, Country: "JP"}, // a repeat: not counted at all
	} {
		v.VideoID = video
		counted, _, err := c.Record(ctx, v)
		require.NoError(t, err)
		require.Equal(t, i < 5, counted, i)
	}
	_, err := f.Flush(ctx)
	require.NoError(t, err)

	var views, watch, watchViews int64
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT views, watch_time_ms, watch_views
		FROM video_daily_stats WHERE video_id = $1`, video).Scan(&views, &watch, &watchViews))
	require.Equal(t, []int64{5, 4000, 2}, []int64{views, watch, watchViews})
	rows, err := store.StatsCountries(ctx, []uuid.UUID{video})
	require.NoError(t, err)
	require.Equal(t, []db.StatsCountriesRow{{Country: "KR", Views: 2}, {Country: "US", Views: 1}}, rows)
}

func TestNormalizeCountry(t *testing.T) {
	for in, want := range map[string]string{"kr": "KR", " US ": "US", "XX": "", "T1": "", "": "", "KOR": "", "1A": "", "é": ""} {
		require.Equal(t, want, NormalizeCountry(in), in)
	}
}
