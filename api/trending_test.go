package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

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
	v1 := e.insertVideo(author, "completed", true, false, now.Add(-4*time.Minute))
	v2 := e.insertVideo(author, "completed", true, false, now.Add(-3*time.Minute))
	v3 := e.insertVideo(author, "completed", true, false, now.Add(-2*time.Minute))
	hidden := e.insertVideo(author, "completed", true, false, now.Add(-time.Minute))
	ids := func(res response) []string {
		out := []string{}
		for _, v := range res.Body["videos"].([]any) {
			out = append(out, v.(map[string]any)["id"].(string))
		}
		return out
	}
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
	require.Equal(t, []string{hidden, v3}, ids(res))
	res = get("algorithm=trending&page_size=2&cursor=" + url.QueryEscape(res.Body["next_cursor"].(string)))
	require.Equal(t, []string{v2, v1}, ids(res))
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
	_, err = e.store.Pool().Exec(ctx, `UPDATE videos SET is_public = false WHERE id = $1`, hidden)
	require.NoError(t, err)
	res = get("algorithm=trending&page_size=2")
	require.Equal(t, "trending", res.Body["algorithm"])
	require.EqualValues(t, 2, res.Body["page_size"])
	require.Equal(t, []string{v1}, ids(res))
	require.Equal(t, true, res.Body["has_more"])
	require.Equal(t, false, res.Body["videos"].([]any)[0].(map[string]any)["is_liked"], "viewer flags are resolved")
	next := res.Body["next_cursor"].(string)

	// A newer ranking does not reorder a feed being paged.
	require.NoError(t, ranking.Publish(ctx, "s2", parse(v2, v3, v1)))
	res = get("algorithm=trending&page_size=2&cursor=" + url.QueryEscape(next))
	require.Equal(t, []string{v3, v2}, ids(res))
	require.Equal(t, false, res.Body["has_more"])
	require.Nil(t, res.Body["next_cursor"])
	require.Equal(t, []string{v2, v3, v1}, ids(get("algorithm=trending")), "a fresh load reads the newest ranking")

	// Blocking the author hides the author's videos from the ranking too.
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + author, token: token}).Status)
	require.Empty(t, ids(get("algorithm=trending")))

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
}
