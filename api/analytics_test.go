package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func statsPath(id string) string { return "/v1/videos/" + id + "/stats" }

// TestVideoStatsWhoMayCall: the owner and an admin get 200; another user
// 403 on a video they can see and 404 on one they cannot (private, deleted,
// unknown); signed out 401; a malformed id 422.
func TestVideoStatsWhoMayCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerTok, owner := e.register("stats_owner")
	otherTok, _ := e.register("stats_other")
	admin := dbtest.CreateUser(t, e.store, dbtest.UserOpts{Role: "admin"})
	adminTok := e.tokenFor(admin.ID)
	public := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})
	deleted := e.video(owner, dbtest.VideoOpts{Deleted: true})

	for _, id := range []string{public, private} {
		res := e.do(req{method: "GET", path: statsPath(id), token: ownerTok})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, id, res.Body["video_id"])
		res = e.do(req{method: "GET", path: statsPath(id), token: adminTok})
		require.Equal(t, http.StatusOK, res.Status, "admin: %s", res.Raw)
	}
	res := e.do(req{method: "GET", path: statsPath(public), token: otherTok})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	for _, id := range []string{private, deleted, uuid.NewString()} {
		res = e.do(req{method: "GET", path: statsPath(id), token: otherTok})
		require.Equal(t, http.StatusNotFound, res.Status, "%s", res.Raw)
	}
	res = e.do(req{method: "GET", path: statsPath(deleted), token: ownerTok})
	require.Equal(t, http.StatusNotFound, res.Status)
	res = e.do(req{method: "GET", path: statsPath(public)})
	require.Equal(t, http.StatusUnauthorized, res.Status)
	res = e.do(req{method: "GET", path: statsPath("not-a-uuid"), token: ownerTok})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
}

// seriesOf returns a by-day series as date → value, checking it is 30
// consecutive UTC days ending today.
func seriesOf(t *testing.T, body map[string]any, name, field string) map[string]int64 {
	t.Helper()
	items := body[name].([]any)
	require.Len(t, items, 30, name)
	today := time.Now().UTC()
	out := map[string]int64{}
	for i, it := range items {
		m := it.(map[string]any)
		want := today.AddDate(0, 0, i-29).Format(time.DateOnly)
		require.Equal(t, want, m["date"], "%s day %d", name, i)
		out[m["date"].(string)] = int64(m[field].(float64))
	}
	return out
}

func day(offset int) string { return time.Now().UTC().AddDate(0, 0, offset).Format(time.DateOnly) }

// TestVideoStatsSeries: views (flushed rows), likes and comments land on
// their days, every other day of the 30 is zero, likes and comments equal
// a direct count, pending views join total_views, and sources, watch time
// and demographics come from what the view reports said.
func TestVideoStatsSeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.TrustedCountryHeader = "X-Country" })
	ctx := context.Background()
	ownerTok, owner := e.register("series_owner")
	aTok, _ := e.register("series_a")
	bTok, _ := e.register("series_b")
	v := e.video(owner, dbtest.VideoOpts{DurationSeconds: 10})
	vid := uuid.MustParse(v)

	for _, tok := range []string{aTok, bTok} {
		res := e.do(req{method: "POST", path: "/v1/likes/videos/" + v, token: tok})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		res = e.do(req{method: "POST", path: "/v1/comments/videos/" + v, token: tok, body: map[string]any{"content": "nice"}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	}
	res := e.do(req{method: "DELETE", path: "/v1/likes/videos/" + v, token: bTok})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)

	// What earlier flushes wrote: two days ago, and 40 days ago (outside).
	_, err := e.store.Pool().Exec(ctx, `INSERT INTO video_daily_stats
		(video_id, day, views, views_feed, views_search, views_other, watch_time_ms, watch_views)
		VALUES ($1, $2, 5, 3, 1, 1, 12000, 2), ($1, $3, 7, 0, 0, 7, 0, 0)`, vid, day(-2), day(-40))
	require.NoError(t, err)
	_, err = e.store.Pool().Exec(ctx, `INSERT INTO video_daily_countries (video_id, day, country, views)
		VALUES ($1, $2, 'KR', 3), ($1, $2, 'US', 1)`, vid, day(-2))
	require.NoError(t, err)
	_, err = e.store.Pool().Exec(ctx, `UPDATE videos SET view_count = 12 WHERE id = $1`, vid)
	require.NoError(t, err)
	// One view not flushed yet.
	res = e.do(req{method: "POST", path: "/v1/videos/" + v + "/view", token: aTok,
		body: map[string]any{"source": "feed", "watch_time_ms": 4000}, headers: map[string]string{"X-Country": "kr"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, true, res.Body["counted"])
	// A second viewer reports far more than the 10 s video: it counts as 10 s.
	res = e.do(req{method: "POST", path: "/v1/videos/" + v + "/view", token: bTok,
		body: map[string]any{"watch_time_ms": 86_000_000}, headers: map[string]string{"X-Country": "XX"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	pendingHash := e.rdb.HGetAll(ctx, "lokiz:{views}:pending").Val()
	require.Equal(t, "14000", pendingHash["w:"+v+":"+day(0)], "4 s + 10 s (capped)")
	require.Equal(t, "2", pendingHash["n:"+v+":"+day(0)])
	require.Equal(t, "1", pendingHash["c:"+v+":"+day(0)+":KR"], "XX is no country")
	_, hasXX := pendingHash["c:"+v+":"+day(0)+":XX"]
	require.False(t, hasXX)

	res = e.do(req{method: "GET", path: statsPath(v), token: ownerTok})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	b := res.Body
	views := seriesOf(t, b, "views_by_day", "views")
	likes := seriesOf(t, b, "likes_by_day", "likes")
	comments := seriesOf(t, b, "comments_by_day", "comments")
	for d, n := range views {
		if d == day(-2) {
			require.EqualValues(t, 5, n)
		} else {
			require.Zero(t, n, d)
		}
	}
	var directLikes, directComments int64
	require.NoError(t, e.store.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM likes WHERE video_id = $1 AND (created_at AT TIME ZONE 'UTC')::date = $2::date),
		(SELECT count(*) FROM comments WHERE video_id = $1 AND (created_at AT TIME ZONE 'UTC')::date = $2::date)`,
		vid, day(0)).Scan(&directLikes, &directComments))
	require.EqualValues(t, 1, directLikes)
	require.EqualValues(t, 2, directComments)
	for d := range likes {
		wantL, wantC := int64(0), int64(0)
		if d == day(0) {
			wantL, wantC = directLikes, directComments
		}
		require.Equal(t, wantL, likes[d], d)
		require.Equal(t, wantC, comments[d], d)
	}
	require.Equal(t, day(-29), b["from"])
	require.Equal(t, day(0), b["to"])
	require.EqualValues(t, 14, b["total_views"], "12 flushed + 2 pending")
	require.EqualValues(t, 2, b["pending_views"])
	require.EqualValues(t, 1, b["total_likes"])
	require.EqualValues(t, 2, b["total_comments"])
	require.Equal(t, map[string]any{"feed": 3.0, "search": 1.0, "profile": 0.0, "share": 0.0, "external": 0.0, "other": 8.0},
		b["traffic_sources"])
	require.Equal(t, map[string]any{"total_watch_time_ms": 12000.0, "views_with_watch_time": 2.0,
		"average_watch_time_ms": 6000.0, "average_watch_percentage": 60.0}, b["watch"])
	require.Equal(t, map[string]any{
		"countries":  map[string]any{"KR": 3.0, "US": 1.0, "unknown": 8.0},
		"age_groups": map[string]any{"unknown": 12.0},
		"genders":    map[string]any{"unknown": 12.0},
	}, b["demographics"])

	// A fresh video: 30 zero days, no averages, empty demographics.
	fresh := e.video(owner, dbtest.VideoOpts{})
	res = e.do(req{method: "GET", path: statsPath(fresh), token: ownerTok})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	for _, s := range [][2]string{{"views_by_day", "views"}, {"likes_by_day", "likes"}, {"comments_by_day", "comments"}} {
		for d, n := range seriesOf(t, res.Body, s[0], s[1]) {
			require.Zero(t, n, "%s %s", s[0], d)
		}
	}
	w := res.Body["watch"].(map[string]any)
	require.Nil(t, w["average_watch_percentage"])
	require.Nil(t, w["average_watch_time_ms"])
	require.Empty(t, res.Body["demographics"].(map[string]any)["countries"])
}

// TestMyStatsSeriesAndPendingViews: /users/me/stats sums the series over
// the caller's videos (a deleted one left out, another creator's too), and
// total_views includes the views not yet flushed.
func TestMyStatsSeriesAndPendingViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	meTok, me := e.register("mystats_me")
	fanTok, fan := e.register("mystats_fan")
	v1 := e.video(me, dbtest.VideoOpts{ViewCount: 4})
	v2 := e.video(me, dbtest.VideoOpts{ViewCount: 6})
	gone := e.video(me, dbtest.VideoOpts{Deleted: true, ViewCount: 100})
	theirs := e.video(fan, dbtest.VideoOpts{})
	_, err := e.store.Pool().Exec(ctx, `INSERT INTO video_daily_stats (video_id, day, views, views_feed, views_share)
		VALUES ($1, $4, 4, 4, 0), ($2, $4, 5, 0, 5), ($2, $5, 1, 0, 1), ($3, $4, 100, 100, 0)`,
		uuid.MustParse(v1), uuid.MustParse(v2), uuid.MustParse(gone), day(-1), day(-5))
	require.NoError(t, err)
	for _, v := range []string{v1, v2, theirs} {
		res := e.do(req{method: "POST", path: "/v1/likes/videos/" + v, token: fanTok})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		res = e.do(req{method: "POST", path: "/v1/videos/" + v + "/view", token: fanTok})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + v2, token: meTok, body: map[string]any{"content": "mine"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)

	res = e.do(req{method: "GET", path: "/v1/users/me/stats", token: meTok})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	b := res.Body
	require.EqualValues(t, 12, b["total_views"], "4 + 6 flushed, 2 pending; the deleted video's left out")
	require.EqualValues(t, 2, b["pending_views"])
	require.EqualValues(t, 2, b["total_likes"])
	views := seriesOf(t, b, "views_by_day", "views")
	likes := seriesOf(t, b, "likes_by_day", "likes")
	comments := seriesOf(t, b, "comments_by_day", "comments")
	require.EqualValues(t, 9, views[day(-1)])
	require.EqualValues(t, 1, views[day(-5)])
	require.EqualValues(t, 2, likes[day(0)])
	require.EqualValues(t, 1, comments[day(0)])
	var sumLikes, sumComments int64
	for d := range likes {
		sumLikes += likes[d]
		sumComments += comments[d]
	}
	require.EqualValues(t, b["total_likes"], sumLikes)
	require.EqualValues(t, b["total_comments"], sumComments)
	require.Equal(t, map[string]any{"feed": 4.0, "search": 0.0, "profile": 0.0, "share": 6.0, "external": 0.0, "other": 0.0},
		b["traffic_sources"])

	res = e.do(req{method: "GET", path: "/v1/users/me/stats"})
	require.Equal(t, http.StatusUnauthorized, res.Status)
}

// aiVideo makes a video the way the AI pipeline does: a job, its private
// result video, and CompleteAIJob naming the video.
func aiVideo(t *testing.T, e *testEnv, owner uuid.UUID, jobType string, source *uuid.UUID) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	job := db.NewID()
	_, err := e.store.Pool().Exec(ctx, `INSERT INTO ai_jobs (id, user_id, job_type, status, started_at, source_video_id)
		VALUES ($1, $2, $3, 'processing', now(), $4)`, job, owner, jobType, source)
	require.NoError(t, err)
	v := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner, OriginalVideoID: source})
	c := db.AIJobCompletion{ID: job, VideoID: &v.ID}
	if source != nil {
		typ := "animate"
		c.SourceVideoID, c.GlitchType = source, &typ
	}
	done, _, err := e.store.CompleteAIJob(ctx, c)
	require.NoError(t, err)
	require.True(t, done)
	return v.ID
}

// TestAIGeneratedLabel: a glitch result and a template result say they were
// made by AI (job type, source video) in the detail and list answers; an
// upload says it was not.
func TestAIGeneratedLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, me := e.register("ai_label")
	meID := uuid.MustParse(me)
	src := uuid.MustParse(e.video(me, dbtest.VideoOpts{}))
	glitch := aiVideo(t, e, meID, "glitch_animate", &src)
	template := aiVideo(t, e, meID, "i2v_template", nil)

	check := func(v map[string]any) {
		t.Helper()
		switch v["id"] {
		case glitch.String():
			require.Equal(t, true, v["ai_generated"])
			require.Equal(t, "glitch_animate", v["ai_job_type"])
			require.Equal(t, src.String(), v["source_video_id"])
		case template.String():
			require.Equal(t, true, v["ai_generated"])
			require.Equal(t, "i2v_template", v["ai_job_type"])
			require.Nil(t, v["source_video_id"])
		case src.String():
			require.Equal(t, false, v["ai_generated"])
			require.Nil(t, v["ai_job_type"])
			require.Nil(t, v["source_video_id"])
		default:
			t.Fatalf("unexpected video %v", v["id"])
		}
	}
	for _, id := range []uuid.UUID{glitch, template, src} {
		res := e.do(req{method: "GET", path: "/v1/videos/" + id.String(), token: tok})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		check(res.Body)
	}
	res := e.do(req{method: "GET", path: "/v1/videos/me", token: tok})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	items := res.Body["videos"].([]any)
	require.Len(t, items, 3)
	for _, it := range items {
		check(it.(map[string]any))
	}
}
