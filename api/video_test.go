package api_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

// raw sends a request that is not JSON API traffic (uploads and downloads
// through signed storage URLs) and returns the recorder.
func (e *testEnv) raw(method, rawURL string, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(e.t, err)
	r := httptest.NewRequest(method, u.RequestURI(), bytes.NewReader(body))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

// video inserts a video of owner (a user id as the api gives it) with
// dbtest.Video, for read tests that need a finished video without running
// the worker; it returns the video's id.
func (e *testEnv) video(owner string, o dbtest.VideoOpts) string {
	e.t.Helper()
	o.Owner = uuid.MustParse(owner)
	return dbtest.Video(e.t, e.store, o).ID.String()
}

func TestVideoUploadFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("uploader")
	otherToken, _ := e.register("stranger")

	res := e.do(req{method: "POST", path: "/v1/videos/upload-url", token: token, body: map[string]any{
		"filename": "../../etc/passwd.mov", "caption": "first #Upload #업로드", "size_bytes": 2048}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	videoID := res.Body["video_id"].(string)
	uploadURL := res.Body["upload_url"].(string)
	require.Equal(t, uploadURL, res.Body["video_upload_url"])
	require.Equal(t, "PUT", res.Body["method"])
	require.Equal(t, map[string]any{"Content-Type": "video/quicktime"}, res.Body["headers"])
	require.Equal(t, float64(2048), res.Body["max_bytes"])
	require.NotContains(t, uploadURL, "passwd", "keys never come from client file names")

	// Completing before the file arrives is a clear conflict.
	res = e.do(req{method: "POST", path: "/v1/videos/" + videoID + "/complete", token: token, body: map[string]any{}})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Contains(t, errorDetail(res), "has not been uploaded")

	// The upload URL enforces what it was signed for.
	rec := e.raw("PUT", uploadURL, []byte("fake"), map[string]string{"Content-Type": "video/mp4"})
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	rec = e.raw("PUT", uploadURL, bytes.Repeat([]byte("x"), 4096), map[string]string{"Content-Type": "video/quicktime"})
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	tampered := strings.Replace(uploadURL, "sig=", "sig=0", 1)
	rec = e.raw("PUT", tampered, []byte("x"), map[string]string{"Content-Type": "video/quicktime"})
	require.Equal(t, http.StatusForbidden, rec.Code)
	rec = e.raw("PUT", uploadURL, []byte("not really a video"), map[string]string{"Content-Type": "video/quicktime"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// Someone else cannot complete it, nor see it.
	res = e.do(req{method: "POST", path: "/v1/videos/" + videoID + "/complete", token: otherToken, body: map[string]any{}})
	require.Equal(t, http.StatusNotFound, res.Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + videoID, token: otherToken}).Status)

	// Complete with float hints: 202, processing, and the finalize task is queued.
	res = e.do(req{method: "POST", path: "/v1/videos/" + videoID + "/complete", token: token, body: map[string]any{
		"width": 1080.0, "height": 1920.4, "actual_duration": 15.5, "is_public": true}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	require.Equal(t, "processing", res.Body["status"])
	require.Equal(t, []any{}, res.Body["hashtags"], "tags are linked when the video is finalized")
	info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo("media", "video:finalize:"+videoID)
	require.NoError(t, err)
	require.Equal(t, "video:finalize", info.Type)
	require.Equal(t, 5, info.MaxRetry)

	var cw, ch int
	var cd float64
	require.NoError(t, e.store.Pool().QueryRow(context.Background(),
		"SELECT client_width, client_height, client_duration FROM videos WHERE id = $1", videoID).Scan(&cw, &ch, &cd))
	require.Equal(t, []any{1080, 1920, 15.5}, []any{cw, ch, cd})

	// Completing again is harmless.
	res = e.do(req{method: "POST", path: "/v1/videos/" + videoID + "/complete", token: token})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)

	// The owner sees it in their list, in processing.
	res = e.do(req{method: "GET", path: "/v1/videos/me?status=processing", token: token})
	require.Len(t, res.Body["videos"], 1)

	t.Run("Validation", func(t *testing.T) {
		cases := []struct {
			name string
			body any
			loc  []any
		}{
			{"WrongContentType", map[string]any{"content_type": "video/x-msvideo"}, []any{"body", "content_type"}},
			{"CaptionTooLong", map[string]any{"caption": strings.Repeat("c", 2201)}, []any{"body", "caption"}},
			{"SizeOverLimit", map[string]any{"size_bytes": 1 << 40}, []any{"body", "size_bytes"}},
			{"SizeWrongType", map[string]any{"size_bytes": "big"}, []any{"body", "size_bytes"}},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(req{method: "POST", path: "/v1/videos/upload-url", token: token, body: tt.body})
				require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
				require.Equal(t, tt.loc, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
			})
		}
		res := e.do(req{method: "POST", path: "/v1/videos/" + videoID + "/complete", token: token, body: map[string]any{"width": -3}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
		res = e.do(req{method: "POST", path: "/v1/videos/not-a-uuid/complete", token: token, body: map[string]any{}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
	})
}

func TestVideoVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aliceToken, alice := e.register("vis_alice")
	bobToken, bob := e.register("vis_bob")
	now := time.Now()
	public := e.video(alice, dbtest.VideoOpts{CreatedAt: now.Add(-4 * time.Minute)})
	private := e.video(alice, dbtest.VideoOpts{Private: true, CreatedAt: now.Add(-3 * time.Minute)})
	deleted := e.video(alice, dbtest.VideoOpts{Deleted: true, CreatedAt: now.Add(-2 * time.Minute)})
	processing := e.video(alice, dbtest.VideoOpts{Status: "processing", CreatedAt: now.Add(-time.Minute)})

	res := e.do(req{method: "GET", path: "/v1/videos/" + public})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "vis_alice", res.Body["user"].(map[string]any)["username"])
	require.Equal(t, 3.5, res.Body["duration_seconds"])
	// The media URLs are signed and they work.
	videoURL := res.Body["video_url"].(string)
	require.Contains(t, videoURL, "/storage/videos/"+public+".mp4?")
	require.NoError(t, e.storage.Put(context.Background(), "videos/"+public+".mp4", strings.NewReader("movie"), 5, "video/mp4"))
	rec := e.raw("GET", videoURL, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "movie", rec.Body.String())
	rec = e.raw("GET", strings.Replace(videoURL, public, private, 1), nil, nil)
	require.Equal(t, http.StatusForbidden, rec.Code, "a signature is valid for its own key only")

	for _, id := range []string{private, deleted, processing} {
		require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + id}).Status)
		require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + id, token: bobToken}).Status)
	}
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/videos/" + private, token: aliceToken}).Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/videos/" + processing, token: aliceToken}).Status)

	require.Equal(t, []string{public}, videoIDs(e.do(req{method: "GET", path: "/v1/videos"})))
	require.Equal(t, []string{public}, videoIDs(e.do(req{method: "GET", path: "/v1/videos/"})))
	require.Equal(t, []string{public}, videoIDs(e.do(req{method: "GET", path: "/v1/users/" + alice + "/videos", token: bobToken})))
	require.Equal(t, []string{processing, private, public}, videoIDs(e.do(req{method: "GET", path: "/v1/videos/me", token: aliceToken})))
	require.Equal(t, []string{processing, private, public}, videoIDs(e.do(req{method: "GET", path: "/v1/users/" + alice + "/videos", token: aliceToken})))

	res = e.do(req{method: "POST", path: "/v1/videos/batch-metadata", body: map[string]any{"video_ids": []string{public, private, uuid.NewString()}}})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, map[string]any{public: map[string]any{"view_count": float64(0), "like_count": float64(0),
		"comment_count": float64(0), "glitch_count": float64(0), "share_count": float64(0)}}, res.Body["videos"])

	// A block hides each from the other, in both directions.
	dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: uuid.MustParse(bob), Blocked: uuid.MustParse(alice)})
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + public, token: bobToken}).Status)
	require.Empty(t, videoIDs(e.do(req{method: "GET", path: "/v1/videos", token: bobToken})))
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/users/" + alice + "/videos", token: bobToken}).Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/videos/" + public, token: aliceToken}).Status)
}

func TestVideoPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, alice := e.register("pager")
	base := time.Now().Add(-time.Hour)
	var want []string
	for i := range 7 {
		// Two share a timestamp: the id breaks the tie, nothing is skipped.
		at := base.Add(time.Duration(i/2*2) * time.Minute)
		want = append([]string{e.video(alice, dbtest.VideoOpts{CreatedAt: at})}, want...)
	}
	var got []string
	path := "/v1/videos?page_size=3"
	for page := 0; ; page++ {
		res := e.do(req{method: "GET", path: path})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, v := range res.Body["videos"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		if page == 0 {
			// A newer video arriving between pages does not shift later pages.
			e.video(alice, dbtest.VideoOpts{})
		}
		if res.Body["has_more"] == false {
			require.Nil(t, res.Body["next_cursor"])
			break
		}
		path = "/v1/videos?page_size=3&cursor=" + url.QueryEscape(res.Body["next_cursor"].(string))
	}
	require.Len(t, got, 7)
	seen := map[string]bool{}
	for _, id := range got {
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
	}
	for _, id := range want {
		require.True(t, seen[id], "missing %s", id)
	}

	for _, bad := range []string{"page_size=0", "page_size=51", "page_size=x", "cursor=garbage", "cursor=" + uuid.NewString()} {
		res := e.do(req{method: "GET", path: "/v1/videos?" + bad})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, bad)
	}
	res := e.do(req{method: "GET", path: "/v1/videos/me?status=bogus", token: func() string { t, _ := e.register("pager2"); return t }()})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
}

func hashtagUse(t *testing.T, e *testEnv, name string) int {
	t.Helper()
	var n int
	err := e.store.Pool().QueryRow(context.Background(), "SELECT use_count FROM hashtags WHERE name = $1", name).Scan(&n)
	if err != nil {
		return -1
	}
	return n
}

func TestVideoEditAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, alice := e.register("editor_v")
	otherToken, _ := e.register("other_v")
	id := e.video(alice, dbtest.VideoOpts{})

	res := e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: token, body: map[string]any{
		"caption": "hello #Dance #먹방 #dance", "title": "My clip"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, []any{"dance", "먹방"}, res.Body["hashtags"])
	require.Equal(t, "My clip", res.Body["title"])
	require.Equal(t, 1, hashtagUse(t, e, "dance"))

	res = e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: token, body: `{"caption": "now #cooking", "title": null}`})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, []any{"cooking"}, res.Body["hashtags"])
	require.Nil(t, res.Body["title"])
	require.Equal(t, 0, hashtagUse(t, e, "dance"), "a tag removed from the caption is released")
	require.Equal(t, 1, hashtagUse(t, e, "cooking"))

	require.Equal(t, http.StatusNotFound, e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: otherToken, body: map[string]any{"caption": "x"}}).Status)

	res = e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: token, body: map[string]any{"is_public": false}})
	require.Equal(t, false, res.Body["is_public"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + id}).Status)

	res = e.do(req{method: "DELETE", path: "/v1/videos/" + id, token: otherToken})
	require.Equal(t, http.StatusNotFound, res.Status)
	res = e.do(req{method: "DELETE", path: "/v1/videos/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "Video marked as deleted", res.Body["message"])
	require.Equal(t, 0, hashtagUse(t, e, "cooking"), "deleting releases the video's tags")
	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/videos/" + id, token: token}).Status, "deleting twice is 404 (B-41)")
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + id, token: token}).Status)
}

func TestViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("viewed")
	viewerToken, _ := e.register("viewer")
	id := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	view := func(token, ua string, body any) response {
		return e.do(req{method: "POST", path: "/v1/videos/" + id + "/view", token: token, body: body,
			headers: map[string]string{"User-Agent": ua}})
	}
	res := view("", "Mozilla/5.0", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, map[string]any{"counted": true, "view_count": float64(1)}, res.Body)
	res = view("", "Mozilla/5.0", map[string]any{"source": "feed"})
	require.Equal(t, map[string]any{"counted": false, "view_count": float64(1)}, res.Body, "same IP and UA: once per day")
	res = view("", "Another Browser", map[string]any{"source": "share", "watch_time_ms": 5000})
	require.Equal(t, map[string]any{"counted": true, "view_count": float64(2)}, res.Body)
	res = view(viewerToken, "Mozilla/5.0", map[string]any{"source": "profile"})
	require.Equal(t, map[string]any{"counted": true, "view_count": float64(3)}, res.Body, "a signed-in viewer counts as themselves")
	res = view(viewerToken, "Other", nil)
	require.Equal(t, false, res.Body["counted"])
	res = view(ownerToken, "Mozilla/5.0", nil)
	require.Equal(t, map[string]any{"counted": false, "view_count": float64(3)}, res.Body, "the owner never counts")

	// Reads include the not-yet-flushed views.
	require.Equal(t, float64(3), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["view_count"])

	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/videos/" + private + "/view"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, view("", "x", map[string]any{"source": "tv"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, view("", "x", map[string]any{"watch_time_ms": -1}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, view("", "x", `{"source":`).Status)
}

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func TestProfileImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("avatar")
	otherToken, _ := e.register("thief")

	res := e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"file_type": "image/png"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	key := res.Body["file_key"].(string)
	imageURL := res.Body["image_url"].(string)
	uploadURL := res.Body["upload_url"].(string)
	require.True(t, strings.HasPrefix(key, "images/") && strings.HasSuffix(key, ".png"), key)

	// Not uploaded yet: a conflict the client can act on.
	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"profile_image_url": imageURL}})
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Raw)

	pic := tinyPNG(t)
	rec := e.raw("PUT", uploadURL, pic, map[string]string{"Content-Type": "image/png"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// Someone else cannot wear it.
	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: otherToken, body: map[string]any{"profile_image_url": imageURL}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
	// Foreign URLs are refused.
	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"profile_image_url": "https://evil.example.com/images/x.png"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)

	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"profile_image": key}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	shown := res.Body["profile_image_url"].(string)
	require.Equal(t, shown, res.Body["profile_image"])
	rec = e.raw("GET", shown, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, pic, rec.Body.Bytes())
	require.Equal(t, "image/png", rec.Header().Get("Content-Type"))

	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: `{"profile_image_url": null}`})
	require.Nil(t, res.Body["profile_image_url"])
	require.Equal(t, http.StatusUnprocessableEntity,
		e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"content_type": "image/gif"}}).Status)
}

func TestViewRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ViewRateLimit = 3 })
	_, owner := e.register("limited_views")
	id := e.video(owner, dbtest.VideoOpts{})
	for i := range 3 {
		res := e.do(req{method: "POST", path: "/v1/videos/" + id + "/view", headers: map[string]string{"User-Agent": fmt.Sprint(i)}})
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, true, res.Body["counted"])
	}
	res := e.do(req{method: "POST", path: "/v1/videos/" + id + "/view", headers: map[string]string{"User-Agent": "fourth"}})
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	require.Equal(t, "rate_limited", errorCode(res))
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	require.Equal(t, float64(3), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["view_count"], "a limited request counts nothing")
}

func TestUploadSizeRequiredForExactStorage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ExactUploadSize = true })
	token, _ := e.register("exact_size")
	for _, path := range []string{"/v1/videos/upload-url", "/v1/images/upload-url"} {
		ct := "video/mp4"
		if strings.Contains(path, "images") {
			ct = "image/png"
		}
		res := e.do(req{method: "POST", path: path, token: token, body: map[string]any{"content_type": ct}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, path)
		require.Equal(t, []any{"body", "size_bytes"}, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
		res = e.do(req{method: "POST", path: path, token: token, body: map[string]any{"content_type": ct, "size_bytes": 1234}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, float64(1234), res.Body["max_bytes"])
	}
}
