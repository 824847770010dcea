package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func TestHashtags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, owner := e.register("tagger")
	a := e.video(owner, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Minute)})
	b := e.video(owner, dbtest.VideoOpts{})
	for id, caption := range map[string]string{a: "one #Dance #cook", b: "two #dance"} {
		res := e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: token, body: map[string]any{"caption": caption}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	// An old tag use falls out of the trending window.
	dbtest.BackdateTagUses(t, e.store, "cook", 30*24*time.Hour)

	res := e.do(req{method: "GET", path: "/v1/hashtags/trending?limit=10"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	tags := res.Body["hashtags"].([]any)
	require.Len(t, tags, 1)
	require.Equal(t, "dance", tags[0].(map[string]any)["name"])
	require.Equal(t, float64(2), tags[0].(map[string]any)["recent_uses"])

	res = e.do(req{method: "GET", path: "/v1/hashtags/%23DANCE/videos?page_size=1"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, b, res.Body["videos"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, true, res.Body["has_more"])
	res = e.do(req{method: "GET", path: "/v1/hashtags/dance/videos?page_size=1&cursor=" + res.Body["next_cursor"].(string)})
	require.Equal(t, a, res.Body["videos"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/hashtags/nosuchtag/videos"}).Status)

	res = e.do(req{method: "POST", path: "/v1/hashtags/batch-stats", body: map[string]any{"hashtag_names": []string{"#Dance", "unknown"}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	dance := res.Body["hashtags"].(map[string]any)["dance"].(map[string]any)
	require.Equal(t, float64(2), dance["video_count"])
	require.Equal(t, float64(2), dance["use_count"])
	require.Equal(t, 2.0, dance["trending_score"])
	require.NotNil(t, dance["latest_thumbnail"])
	require.Equal(t, map[string]any{"video_count": float64(0), "total_views": float64(0), "latest_thumbnail": nil,
		"trending_score": float64(0), "use_count": float64(0)}, res.Body["hashtags"].(map[string]any)["unknown"])
	many := make([]string, 51)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/hashtags/batch-stats", body: map[string]any{"hashtag_names": many}}).Status)
}

func TestMyStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("statsme")
	fanToken, fan := e.register("statsfan")
	id := e.video(me, dbtest.VideoOpts{})
	e.video(me, dbtest.VideoOpts{Deleted: true})
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + id, token: fanToken}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + me, token: fanToken}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: fanToken, body: map[string]any{"content": "hi"}}).Status)
	glitch := e.video(fan, dbtest.VideoOpts{})
	dbtest.GlitchEdge(t, e.store, dbtest.GlitchEdgeOpts{Source: uuid.MustParse(id), Glitch: uuid.MustParse(glitch), Type: "animate"})

	res := e.do(req{method: "GET", path: "/v1/users/me/stats", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	want := map[string]any{
		"total_videos": float64(1), "total_views": float64(0), "total_likes": float64(1), "total_comments": float64(1),
		"total_followers": float64(1), "total_following": float64(0), "total_glitches_created": float64(0),
		"total_glitches_received": float64(1), "credits_used": float64(0), "credits_remaining": float64(100),
	}
	got := map[string]any{}
	for k := range want { // the series beside the totals: TestMyStatsSeriesAndPendingViews
		got[k] = res.Body[k]
	}
	require.Equal(t, want, got)
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/users/me/stats"}).Status)
}
