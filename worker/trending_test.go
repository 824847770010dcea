package worker

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
)

// TestTrendingRecompute is the only worker test that touches the trending
// keys, so it owns them in the package's Redis database.
func TestTrendingRecompute(t *testing.T) {
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	logger, logs := newLogger()
	ranking := trending.New(rdb)
	h := NewTrendingHandler(store, ranking, logger)
	author := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	banned := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	dbtest.SetUser(t, store, banned.ID, dbtest.UserChange{Active: new(false)})

	type video struct {
		owner                               uuid.UUID
		age                                 time.Duration
		views, likes, comments, shares, gls int
		public, deleted                     bool
		status                              string
	}
	insert := func(v video) uuid.UUID {
		vid := dbtest.Video(t, store, dbtest.VideoOpts{Owner: v.owner, Status: v.status, Private: !v.public, CreatedAt: time.Now().Add(-v.age),
			ViewCount: int64(v.views), LikeCount: int32(v.likes), CommentCount: int32(v.comments), ShareCount: int32(v.shares), GlitchCount: int32(v.gls)})
		if v.deleted {
			dbtest.SetVideo(t, store, vid.ID, dbtest.VideoChange{Deleted: new(true)})
		}
		return vid.ID
	}
	// Same engagement, different age: the newer ranks higher.
	fresh := insert(video{owner: author.ID, age: time.Hour, likes: 10, public: true})
	older := insert(video{owner: author.ID, age: 30 * time.Hour, likes: 10, public: true})
	// Heavier engagement outweighs a few hours of age.
	viral := insert(video{owner: author.ID, age: 5 * time.Hour, views: 500, likes: 80, comments: 20, shares: 10, gls: 5, public: true})
	// A glitch counts for more than a view.
	glitched := insert(video{owner: author.ID, age: 30 * time.Hour, gls: 2, public: true})
	viewed := insert(video{owner: author.ID, age: 30 * time.Hour, views: 6, public: true})
	// Never ranked: private, deleted, unfinished, too old, banned author.
	insert(video{owner: author.ID, age: time.Hour, likes: 1000, public: false})
	insert(video{owner: author.ID, age: time.Hour, likes: 1000, public: true, deleted: true})
	insert(video{owner: author.ID, age: time.Hour, likes: 1000, public: true, status: "processing"})
	insert(video{owner: author.ID, age: 8 * 24 * time.Hour, likes: 1000, public: true})
	insert(video{owner: banned.ID, age: time.Hour, likes: 1000, public: true})

	// Keyword counts: today's and the window's first day are kept, the day
	// before it is forgotten.
	dbtest.KeywordDay(t, store, dbtest.KeywordDayOpts{Keyword: "today"})
	dbtest.KeywordDay(t, store, dbtest.KeywordDayOpts{Keyword: "first", DaysAgo: lokiz.KeywordDays - 1})
	dbtest.KeywordDay(t, store, dbtest.KeywordDayOpts{Keyword: "gone", DaysAgo: lokiz.KeywordDays})

	require.NoError(t, h.ProcessTask(ctx, tasks.NewTrendingRecomputeTask()))
	var kept []string
	rows, err := store.Pool().Query(ctx, `SELECT normalized FROM search_keyword_days ORDER BY day`)
	require.NoError(t, err)
	for rows.Next() {
		var q string
		require.NoError(t, rows.Scan(&q))
		kept = append(kept, q)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"first", "today"}, kept)
	snap, err := ranking.Current(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, snap)
	ids, more, err := ranking.Page(ctx, snap, 0, 10)
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []uuid.UUID{viral, fresh, older, glitched, viewed}, ids)
	require.Contains(t, logs.String(), "trending published")

	ids, more, err = ranking.Page(ctx, snap, 1, 2)
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []uuid.UUID{fresh, older}, ids)

	// Running again (a retry, or two scheduler ticks) publishes the same
	// order under a new snapshot; the old one stays readable for cursors.
	time.Sleep(2 * time.Millisecond)
	require.NoError(t, h.ProcessTask(ctx, tasks.NewTrendingRecomputeTask()))
	snap2, err := ranking.Current(ctx)
	require.NoError(t, err)
	require.NotEqual(t, snap, snap2)
	again, _, err := ranking.Page(ctx, snap2, 0, 10)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{viral, fresh, older, glitched, viewed}, again)
	_, _, err = ranking.Page(ctx, snap, 0, 1)
	require.NoError(t, err)
	ttl, err := rdb.TTL(ctx, "lokiz:trending:snapshot:"+snap).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 50*time.Minute)

	_, _, err = ranking.Page(ctx, "never-published", 0, 1)
	require.ErrorIs(t, err, trending.ErrSnapshotGone)
}
