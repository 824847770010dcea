package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/trending"
)

// TestBannedAuthorsVideoIsGoneEverywhere is the banned-author row of the
// visibility matrix: once its author is banned, a video is seen by nobody,
// is in no list, and no action can target it. Each list is first shown to
// hold the video, so a list that never held it cannot pass; each action is
// also sent for an active author's video, which must succeed, so a route
// that refuses everything cannot pass either. There are no admin routes
// that read videos, so there is no one left who may see it. Not parallel:
// it publishes the trending ranking, whose keys the trending tests share.
func TestBannedAuthorsVideoIsGoneEverywhere(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	viewerToken, viewer := e.register("qzmatrix_viewer")
	fanToken, fan := e.register("qzmatrix_fan")
	authorToken, author := e.register("qzmatrix_author")
	_, other := e.register("qzmatrix_other")

	// The viewer follows the author before the video exists, so it is in
	// the viewer's inbox.
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: viewerToken}).Status)
	source := e.video(other, dbtest.VideoOpts{Caption: "plain source"})
	banned := e.video(author, dbtest.VideoOpts{})
	active := e.video(other, dbtest.VideoOpts{})
	res := e.do(req{method: "PATCH", path: "/v1/videos/" + banned, token: authorToken, body: map[string]any{"caption": "qzmatrix clip #qzmatrix"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	e.glitchEdge(source, banned, "animate")
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + banned, token: fanToken}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + banned, token: fanToken}).Status)
	require.NoError(t, trending.New(e.rdb).Publish(ctx, "banned-matrix", []uuid.UUID{uuid.MustParse(banned), uuid.MustParse(active)}))

	type read struct {
		method, path string
		token        string
		body         map[string]any
	}
	reads := []read{
		{"GET", "/v1/videos/feed?algorithm=latest&page_size=50", viewerToken, nil},
		{"GET", "/v1/videos/feed?algorithm=latest&page_size=50", "", nil},
		{"GET", "/v1/videos/feed?algorithm=following&page_size=50", viewerToken, nil},
		{"GET", "/v1/videos/feed?algorithm=trending&page_size=50", viewerToken, nil},
		{"GET", "/v1/videos/feed?algorithm=personalized&page_size=50", viewerToken, nil},
		{"GET", "/v1/videos/prefetch?algorithm=latest&count=10", viewerToken, nil},
		{"GET", "/v1/videos?page_size=50", viewerToken, nil},
		{"GET", "/v1/feed/following", viewerToken, nil},
		{"GET", "/v1/feed/for-you", viewerToken, nil},
		{"GET", "/v1/users/" + author + "/videos", viewerToken, nil},
		{"GET", "/v1/hashtags/qzmatrix/videos", viewerToken, nil},
		{"GET", "/v1/users/" + fan + "/liked-videos", fanToken, nil},
		{"GET", "/v1/bookmarks", fanToken, nil},
		{"GET", "/v1/glitch/videos/" + source + "/glitches", viewerToken, nil},
		{"GET", "/v1/glitch/videos/" + source + "/glitches?sort=popular", viewerToken, nil},
		{"GET", "/v1/glitch/videos/" + source + "/tree", viewerToken, nil},
		{"GET", "/v1/search/videos?q=qzmatrix", viewerToken, nil},
		{"GET", "/v1/search/videos?q=qz", viewerToken, nil},
		{"GET", "/v1/search?q=qzmatrix", viewerToken, nil},
		{"POST", "/v1/videos/batch-metadata", viewerToken, map[string]any{"video_ids": []string{banned, active}}},
		{"POST", "/v1/videos/batch-metadata", "", map[string]any{"video_ids": []string{banned, active}}},
		{"GET", "/v1/videos/" + banned, viewerToken, nil},
		{"GET", "/v1/videos/" + banned, "", nil},
		{"GET", "/v1/glitch/videos/" + banned + "/source", viewerToken, nil},
	}
	do := func(r read) response {
		return e.do(req{method: r.method, path: r.path, token: r.token, body: r.body})
	}
	for _, r := range reads {
		res := do(r)
		require.Equal(t, http.StatusOK, res.Status, "before the ban, %s %s: %s", r.method, r.path, res.Raw)
		require.Contains(t, string(res.Raw), banned, "before the ban, %s %s holds the video", r.method, r.path)
	}
	tagStats := func() map[string]any {
		res := e.do(req{method: "POST", path: "/v1/hashtags/batch-stats", body: map[string]any{"hashtag_names": []string{"qzmatrix"}}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		return res.Body["hashtags"].(map[string]any)["qzmatrix"].(map[string]any)
	}
	require.Equal(t, float64(1), tagStats()["video_count"])
	trendingTags := func() string {
		res := e.do(req{method: "GET", path: "/v1/hashtags/trending?limit=50"})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		return string(res.Raw)
	}
	require.Contains(t, trendingTags(), "qzmatrix")

	_, _, err := e.store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: uuid.MustParse(author), Reason: "test"})
	require.NoError(t, err)

	for _, r := range reads {
		res := do(r)
		require.NotContains(t, string(res.Raw), banned, "after the ban, %s %s still shows the video", r.method, r.path)
		switch {
		case strings.HasPrefix(r.path, "/v1/videos/"+banned), strings.HasPrefix(r.path, "/v1/glitch/videos/"+banned),
			strings.HasPrefix(r.path, "/v1/users/"+author):
			require.Equal(t, http.StatusNotFound, res.Status, "after the ban, %s %s: %s", r.method, r.path, res.Raw)
		default:
			require.Equal(t, http.StatusOK, res.Status, "after the ban, %s %s: %s", r.method, r.path, res.Raw)
		}
	}
	require.Equal(t, float64(0), tagStats()["video_count"])
	require.NotContains(t, trendingTags(), "qzmatrix")

	// Every action on the video: refused as not found for the banned
	// author's video, accepted for the active author's.
	img := e.uploadedImage(t, viewerToken)
	type action struct {
		name   string
		method string
		path   func(video string) string
		body   func(video string) map[string]any
		token  string
		ok     int
	}
	onPath := func(prefix, suffix string) func(string) string {
		return func(v string) string { return prefix + v + suffix }
	}
	fixed := func(p string) func(string) string { return func(string) string { return p } }
	actions := []action{
		{"like", "POST", onPath("/v1/likes/videos/", ""), nil, viewerToken, http.StatusCreated},
		{"bookmark", "POST", onPath("/v1/bookmarks/videos/", ""), nil, viewerToken, http.StatusCreated},
		{"comment", "POST", onPath("/v1/comments/videos/", ""), func(string) map[string]any { return map[string]any{"content": "hi"} }, viewerToken, http.StatusCreated},
		{"list comments", "GET", onPath("/v1/comments/videos/", ""), nil, viewerToken, http.StatusOK},
		{"view", "POST", onPath("/v1/videos/", "/view"), nil, viewerToken, http.StatusOK},
		{"anonymous view", "POST", onPath("/v1/videos/", "/view"), nil, "", http.StatusOK},
		{"share", "POST", onPath("/v1/videos/", "/share"), func(string) map[string]any { return map[string]any{"platform": "kakao"} }, viewerToken, http.StatusCreated},
		{"report", "POST", onPath("/v1/videos/", "/report"), func(string) map[string]any { return map[string]any{"report_type": "spam"} }, viewerToken, http.StatusCreated},
		{"moderation report", "POST", fixed("/v1/moderation/report"), func(v string) map[string]any {
			return map[string]any{"reported_video_id": v, "report_type": "violence"}
		}, fanToken, http.StatusCreated},
		{"glitch", "POST", fixed("/v1/ai/glitch/animate"), func(v string) map[string]any {
			return map[string]any{"template_video_id": v, "user_image_url": img}
		}, viewerToken, http.StatusAccepted},
		{"sticker glitch", "POST", fixed("/v1/ai/sticker-to-reality"), func(v string) map[string]any {
			return map[string]any{"video_id": v, "user_image_url": img, "start_time": 0, "end_time": 1, "prompt": "p", "is_glitch": true}
		}, viewerToken, http.StatusAccepted},
		{"frame capture", "POST", fixed("/v1/ai/capture-frames"), func(v string) map[string]any {
			return map[string]any{"video_id": v, "timestamps": []float64{0.5, 1}}
		}, viewerToken, http.StatusAccepted},
	}
	for _, a := range actions {
		for _, video := range []string{banned, active} {
			var body map[string]any
			if a.body != nil {
				body = a.body(video)
			}
			res := e.do(req{method: a.method, path: a.path(video), token: a.token, body: body})
			if video == banned {
				require.Equal(t, http.StatusNotFound, res.Status, "%s of the banned author's video: %s", a.name, res.Raw)
				require.NotContains(t, string(res.Raw), "qzmatrix clip", a.name)
			} else {
				require.Equal(t, a.ok, res.Status, "%s of an active author's video: %s", a.name, res.Raw)
			}
		}
	}
	// Nothing the refused actions would have written was written.
	var likes, comments, shares, reports, jobs, captures int
	require.NoError(t, e.store.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM likes WHERE video_id = $1 AND user_id = $2),
		(SELECT count(*) FROM comments WHERE video_id = $1),
		(SELECT count(*) FROM video_shares WHERE video_id = $1),
		(SELECT count(*) FROM reports WHERE reported_video_id = $1),
		(SELECT count(*) FROM ai_jobs WHERE source_video_id = $1 OR video_id = $1),
		(SELECT count(*) FROM frame_captures WHERE video_id = $1)`, banned, viewer).
		Scan(&likes, &comments, &shares, &reports, &jobs, &captures))
	require.Equal(t, []int{0, 0, 0, 0, 0, 0}, []int{likes, comments, shares, reports, jobs, captures})
}
