package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
)

// TestTrendingFeed is the only api test that touches the trending keys, so
// it owns them in the package's Redis database.
func TestTrendingFeed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	require.NoError(t, e.rdb.Del(ctx, "lokiz:trending:current").Err())
	token, _ := e.register("trend_viewer")
	_, author := e.register("trend_author")
	now := time.Now()
	v1 := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-4 * time.Minute)})
	v2 := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-3 * time.Minute)})
	v3 := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-2 * time.Minute)})
	hidden := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-time.Minute)})
	get := func(query string) response {
		t.Helper()
		res := e.do(req{method: "GET", path: "/v1/videos/feed?" + query, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		return res
	}

	// No ranking yet: the latest feed answers, says so, and its cursor
	// keeps working under algorithm=trending; a first ranking is queued.
	res := get("algorithm=trending&page_size=2")
	require.Equal(t, "latest", res.Body["algorithm"])
	require.EqualValues(t, 2, res.Body["page_size"])
	require.Equal(t, []string{hidden, v3}, videoIDs(res))
	res = get("algorithm=trending&page_size=2&cursor=" + url.QueryEscape(res.Body["next_cursor"].(string)))
	require.Equal(t, []string{v2, v1}, videoIDs(res))
	info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueLow, "trending:bootstrap")
	require.NoError(t, err)
	require.Equal(t, tasks.TypeTrendingRecompute, info.Type)

	// A published ranking is served in rank order; a video hidden since
	// it was computed drops out, the ranks after it stay.
	ranking := trending.New(e.rdb)
	parse := func(ss ...string) []uuid.UUID {
		out := make([]uuid.UUID, len(ss))
		for i, s := range ss {
			out[i] = uuid.MustParse(s)
		}
		return out
	}
	require.NoError(t, ranking.Publish(ctx, "s1", parse(v1, hidden, v3, v2)))
	dbtest.SetVideo(t, e.store, uuid.MustParse(hidden), dbtest.VideoChange{Public: new(false)})
	res = get("algorithm=trending&page_size=2")
	require.Equal(t, "trending", res.Body["algorithm"])
	require.EqualValues(t, 2, res.Body["page_size"])
	require.Equal(t, []string{v1}, videoIDs(res))
	require.Equal(t, true, res.Body["has_more"])
	require.Equal(t, false, res.Body["videos"].([]any)[0].(map[string]any)["is_liked"], "viewer flags are resolved")
	next := res.Body["next_cursor"].(string)

	// A newer ranking does not reorder a feed being paged.
	require.NoError(t, ranking.Publish(ctx, "s2", parse(v2, v3, v1)))
	res = get("algorithm=trending&page_size=2&cursor=" + url.QueryEscape(next))
	require.Equal(t, []string{v3, v2}, videoIDs(res))
	require.Equal(t, false, res.Body["has_more"])
	require.Nil(t, res.Body["next_cursor"])
	require.Equal(t, []string{v2, v3, v1}, videoIDs(get("algorithm=trending")), "a fresh load reads the newest ranking")

	// Blocking the author hides the author's videos from the ranking too.
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + author, token: token}).Status)
	require.Empty(t, videoIDs(get("algorithm=trending")))

	pre := e.do(req{method: "GET", path: "/v1/videos/prefetch?algorithm=trending&count=1"})
	require.Equal(t, http.StatusOK, pre.Status, "%s", pre.Raw)
	require.Equal(t, v2, pre.Body["items"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, "trending", pre.Body["algorithm"])

	// A cursor into a ranking that expired, or one we never issued, is a
	// clear 422.
	gone := e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=trending&cursor=dHxnb25lfDIw"}) // "t|gone|20"
	require.Equal(t, http.StatusUnprocessableEntity, gone.Status, "%s", gone.Raw)
	require.Contains(t, string(gone.Raw), "expired")
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=trending&cursor=nonsense"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=trending&page_size=99"}).Status)
	crafted := e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=trending&cursor=dHxnb25lfDA"}) // "t|gone|0"
	require.Equal(t, http.StatusUnprocessableEntity, crafted.Status, "%s", crafted.Raw)

	// An empty ranking (no public video in the window) serves latest.
	require.NoError(t, ranking.Publish(ctx, "s-empty", nil))
	res = e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=trending"}) // signed out: the viewer blocked the author
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "latest", res.Body["algorithm"])
	require.Equal(t, []string{v3, v2, v1}, videoIDs(res), "the video made private stays out")
}

// TestTrendingCursorProperty pages the trending feed with random page sizes
// while another goroutine keeps publishing reshuffled rankings and adding
// likes: the pages hold every ranked video exactly once, in the order of
// the ranking the first page came from.
func TestTrendingCursorProperty(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, author := e.register("trend_prop")
	var ranked []uuid.UUID
	for i := range 30 {
		ranked = append(ranked, uuid.MustParse(e.video(author, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Duration(i) * time.Second)})))
	}
	rand.Shuffle(len(ranked), func(i, j int) { ranked[i], ranked[j] = ranked[j], ranked[i] })
	ranking := trending.New(e.rdb)
	require.NoError(t, ranking.Publish(ctx, "prop-first", ranked))

	// The churn starts once the first page has pinned the first ranking.
	stop := make(chan struct{})
	churn := make(chan error, 1)
	startChurn := func() {
		go func() {
			var err error
			defer func() { churn <- err }() // also when a fixture fails t and ends the goroutine
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				other := slices.Clone(ranked)
				rand.Shuffle(len(other), func(i, j int) { other[i], other[j] = other[j], other[i] })
				if err = ranking.Publish(ctx, fmt.Sprintf("prop-%d", n), other); err != nil {
					return
				}
				dbtest.AddVideoCounts(t, e.store, other[0], dbtest.VideoCounts{Likes: 1})
				time.Sleep(time.Millisecond)
			}
		}()
	}

	var got []uuid.UUID
	path := fmt.Sprintf("/v1/videos/feed?algorithm=trending&page_size=%d", 1+rand.IntN(7))
	for pages := 0; ; pages++ {
		require.Less(t, pages, 40)
		res := e.do(req{method: "GET", path: path})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, v := range res.Body["videos"].([]any) {
			got = append(got, uuid.MustParse(v.(map[string]any)["id"].(string)))
		}
		if pages == 0 {
			startChurn()
		}
		if res.Body["has_more"] != true {
			break
		}
		path = fmt.Sprintf("/v1/videos/feed?algorithm=trending&page_size=%d&cursor=%s", 1+rand.IntN(7), url.QueryEscape(res.Body["next_cursor"].(string)))
	}
	close(stop)
	require.NoError(t, <-churn)
	require.Equal(t, ranked, got)
}
