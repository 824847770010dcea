package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"github.com/lokiz/lokiz/db"
	"image/jpeg"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/worker"
)

// The frontend's names (CONTRACT.md §5, issue 12 point 7): each answer
// carries them beside ours, with the same values.

func TestFeedsCarryTotal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("totalfan")
	_, star := e.register("totalstar")
	for i := range 3 {
		e.video(star, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Duration(i) * time.Minute)})
	}
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + star, token: token}).Status)
	for _, path := range []string{"/v1/feed/following?page_size=2", "/v1/feed/for-you?page_size=2", "/v1/videos/feed?page_size=2"} {
		res := e.do(req{method: "GET", path: path, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", path, res.Raw)
		require.Len(t, res.Body["videos"], 2, path)
		require.Equal(t, float64(2), res.Body["total"], "%s: total is the page's length", path)
	}
	res := e.do(req{method: "GET", path: "/v1/feed/for-you"})
	require.Equal(t, float64(len(res.Body["videos"].([]any))), res.Body["total"], "signed out too")
}

func TestHashtagsCarryFrontendCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, owner := e.register("tagcounter")
	a := e.video(owner, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Minute), ViewCount: 7})
	b := e.video(owner, dbtest.VideoOpts{ViewCount: 5})
	hidden := e.video(owner, dbtest.VideoOpts{Private: true, ViewCount: 100})
	for id, caption := range map[string]string{a: "#Jump", b: "#jump #skip", hidden: "#jump"} {
		res := e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: token, body: map[string]any{"caption": caption}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}

	res := e.do(req{method: "GET", path: "/v1/hashtags/trending"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	byName := map[string]map[string]any{}
	for _, h := range res.Body["hashtags"].([]any) {
		byName[h.(map[string]any)["name"].(string)] = h.(map[string]any)
	}
	require.Equal(t, float64(2), byName["jump"]["video_count"], "public videos only")
	require.Equal(t, float64(12), byName["jump"]["view_count"])
	require.Equal(t, float64(1), byName["skip"]["video_count"])
	require.Equal(t, float64(5), byName["skip"]["view_count"])

	res = e.do(req{method: "GET", path: "/v1/hashtags/jump/videos?page_size=1"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["videos"], 1)
	require.Equal(t, float64(2), res.Body["total"], "the tag's public videos, not the page's")
	tag := res.Body["hashtag"].(map[string]any)
	require.Equal(t, float64(2), tag["video_count"])
	require.Equal(t, float64(12), tag["view_count"])
	res = e.do(req{method: "GET", path: "/v1/hashtags/jump/videos?page_size=1&cursor=" + res.Body["next_cursor"].(string)})
	require.Equal(t, float64(2), res.Body["total"], "the same on every page")
}

func TestCreditsCarryFrontendNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("creditnames")

	res := e.do(req{method: "POST", path: "/v1/credits/daily-claim", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, float64(110), res.Body["balance"])
	require.Equal(t, res.Body["new_balance"], res.Body["balance"])
	require.Equal(t, float64(10), res.Body["claimed_amount"])

	res = e.do(req{method: "GET", path: "/v1/credits/balance", token: token})
	require.Equal(t, float64(10), res.Body["daily_free_credits"])
	status := e.do(req{method: "GET", path: "/v1/credits/daily-status", token: token})
	require.NotNil(t, status.Body["last_claimed_at"])
	require.Equal(t, status.Body["last_claimed_at"], res.Body["daily_free_credits_claimed_at"])

	// A spend, made as the AI job charge makes it.
	_, applied, err := e.store.CreditsApply(context.Background(), db.CreditChange{
		UserID: uuid.MustParse(me), Type: lokiz.CreditUsage, Delta: -3, Description: "AI job", IdempotencyKey: "test:" + uuid.NewString(),
	})
	require.NoError(t, err)
	require.True(t, applied)
	res = e.do(req{method: "GET", path: "/v1/credits/history", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	txs, history := res.Body["transactions"].([]any), res.Body["history"].([]any)
	require.Len(t, history, len(txs))
	require.Len(t, history, 3)
	for i, h := range history {
		item, tx := h.(map[string]any), txs[i].(map[string]any)
		require.Equal(t, tx["id"], item["id"])
		require.Equal(t, tx["created_at"], item["created_at"])
		require.Equal(t, tx["description"], item["description"])
		if tx["credits"].(float64) < 0 {
			require.Equal(t, "spend", item["type"])
			require.Equal(t, -tx["credits"].(float64), item["amount"])
		} else {
			require.Equal(t, "earn", item["type"])
			require.Equal(t, tx["credits"], item["amount"])
		}
	}
	require.Equal(t, map[string]any{"spend": float64(3)}, map[string]any{history[0].(map[string]any)["type"].(string): history[0].(map[string]any)["amount"]})
}

// TestShareTakesTheOriginalsBody: share_platform works like platform, an
// unknown platform is recorded as other (one slot per user with no
// platform), and the answer is the original's 201 {success, share_count}.
func TestShareTakesTheOriginalsBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("sharenames_owner")
	token, _ := e.register("sharenames")
	id := e.video(owner, dbtest.VideoOpts{})
	share := func(path string, body any) response {
		t.Helper()
		res := e.do(req{method: "POST", path: path, token: token, body: body})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		require.Equal(t, true, res.Body["success"])
		return res
	}

	res := share("/v1/shares/videos/"+id, map[string]any{"share_platform": "Twitter"})
	require.Equal(t, "twitter", res.Body["platform"])
	require.Equal(t, "twitter", res.Body["share_platform"])
	require.Equal(t, float64(1), res.Body["share_count"])
	require.Equal(t, true, res.Body["counted"])

	res = share("/v1/shares/videos/"+id, map[string]any{"share_platform": "myspace"})
	require.Equal(t, "other", res.Body["platform"], "free text is kept as other, not refused")
	require.Equal(t, "other", res.Body["share_platform"])
	require.Equal(t, float64(2), res.Body["share_count"])
	res = share("/v1/videos/"+id+"/share", map[string]any{"platform": "friendster"})
	require.Equal(t, false, res.Body["counted"], "unknown platforms share the other slot")
	res = share("/v1/videos/"+id+"/share", map[string]any{})
	require.Equal(t, false, res.Body["counted"], "no platform is other too")
	require.Nil(t, res.Body["platform"])
	res = share("/v1/videos/"+id+"/share", map[string]any{"platform": "email", "share_platform": "sms"})
	require.Equal(t, "email", res.Body["platform"], "platform wins over its alias")

	res = e.do(req{method: "GET", path: "/v1/videos/" + id + "/share-count", token: ownerToken})
	require.Equal(t, map[string]any{"twitter": float64(1), "other": float64(1), "email": float64(1)}, res.Body["by_platform"])
	var stored []string
	rows, err := e.store.Pool().Query(context.Background(), "SELECT share_platform FROM video_shares WHERE video_id = $1 ORDER BY share_platform", id)
	require.NoError(t, err)
	for rows.Next() {
		var p string
		require.NoError(t, rows.Scan(&p))
		stored = append(stored, p)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"email", "other", "twitter"}, stored)
}

// TestFailedCaptureAnswersAnError: a failed frame capture is an error
// status with a readable reason, on the waiting POST and on the GET: 422
// when the video's frames cannot be captured, 503 when the worker gave up.
func TestFailedCaptureAnswersAnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("failedcapture")
	id := e.video(me, dbtest.VideoOpts{})
	ctx := t.Context()

	// A stand-in for the worker: it fails each new capture of the user
	// with the reason the next value of reasons gives.
	reasons := make(chan string)
	go func() {
		for reason := range reasons {
			for ctx.Err() == nil {
				var capture uuid.UUID
				err := e.store.Pool().QueryRow(ctx, "SELECT id FROM frame_captures WHERE user_id = $1 AND status = 'pending' LIMIT 1", me).Scan(&capture)
				if err == nil {
					if _, err := e.store.FrameCaptureFail(ctx, db.FrameCaptureFailParams{ID: capture, Error: &reason}); err == nil {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	defer close(reasons)

	reasons <- "the file is not a video ffmpeg can decode"
	res := e.do(req{method: "POST", path: "/v1/ai/capture-frames", token: token, body: map[string]any{"video_id": id, "timestamps": []float64{1}}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
	require.Equal(t, "capture_failed", res.Body["reason"])
	require.Equal(t, "The frames could not be captured: the file is not a video ffmpeg can decode", errorDetail(res))

	reasons <- "the file is not a video ffmpeg can decode"
	res = e.do(req{method: "POST", path: "/v1/ai/capture-frame", token: token, body: map[string]any{"video_id": id, "timestamp": 1}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
	require.Equal(t, "capture_failed", res.Body["reason"])

	reasons <- lokiz.FramesGaveUp
	res = e.do(req{method: "POST", path: "/v1/ai/capture-frames", token: token, body: map[string]any{"video_id": id, "timestamps": []float64{2}}})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	require.Equal(t, "unavailable", errorCode(res))
	require.Equal(t, "capture_failed", res.Body["reason"])
	require.NotEmpty(t, res.Header.Get("Retry-After"))

	// The poll answers the same for a capture that failed after the POST.
	var ids []uuid.UUID
	rows, err := e.store.Pool().Query(ctx, "SELECT id FROM frame_captures WHERE user_id = $1 ORDER BY created_at", me)
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, 3)
	res = e.do(req{method: "GET", path: "/v1/ai/capture-frames/" + ids[0].String(), token: token})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
	require.Contains(t, errorDetail(res), "not a video ffmpeg can decode")
	res = e.do(req{method: "GET", path: "/v1/ai/capture-frames/" + ids[2].String(), token: token})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	require.Equal(t, "capture_failed", res.Body["reason"])
}

// TestStudioPreviewFrames: the preview's frames are JPEG stills that the
// worker's frames:capture handler cuts with ffmpeg from the real video,
// cached for the next caller at the same time.
func TestStudioPreviewFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, owner := e.register("previewer")
	otherToken, _ := e.register("previewer_other")
	id := e.video(owner, dbtest.VideoOpts{DurationSeconds: 2})
	ctx := context.Background()
	data, err := os.ReadFile(mediatest.Video(t, mediatest.VideoOptions{Duration: 2, Width: 320, Height: 240}))
	require.NoError(t, err)
	require.NoError(t, e.storage.Put(ctx, "videos/"+id+".mp4", bytes.NewReader(data), int64(len(data)), "video/mp4"))

	// The worker: the media queue's frames:capture handler, run on each
	// task the api enqueues.
	logger, _ := testkit.NewLogger()
	h := worker.NewFramesCaptureHandler(e.store, e.storage, worker.MediaConfig{TempDir: t.TempDir()}, logger)
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	stop := make(chan struct{})
	ran := make(chan uuid.UUID, 10)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var capture uuid.UUID
			if err := e.store.Pool().QueryRow(ctx, "SELECT id FROM frame_captures WHERE video_id = $1 AND status = 'pending' LIMIT 1", id).Scan(&capture); err != nil {
				continue
			}
			info, err := insp.GetTaskInfo(tasks.QueueMedia, tasks.TypeFramesCapture+":"+capture.String())
			if err != nil {
				continue
			}
			if err := h.ProcessTask(ctx, asynq.NewTask(info.Type, info.Payload)); err == nil {
				_ = insp.DeleteTask(tasks.QueueMedia, info.ID)
				ran <- capture
			}
		}
	}()
	defer close(stop)

	preview := func(token string) response {
		t.Helper()
		var res response
		require.Eventually(t, func() bool {
			res = e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/preview?timestamp=0.9", token: token})
			require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, res.Status, "%s", res.Raw)
			return res.Status == http.StatusOK
		}, 60*time.Second, 10*time.Millisecond)
		return res
	}
	res := preview(token)
	require.Equal(t, "completed", res.Body["status"])
	require.Equal(t, []any{0.0, 0.5, 1.0, 1.5, 2.0}, res.Body["frame_times"], "0.9 snaps to 1, ±1 s in 0.5 s steps")
	frames := res.Body["frames"].([]any)
	require.Len(t, frames, 5)
	seen := map[[32]byte]bool{}
	for _, u := range frames {
		rec := e.raw("GET", u.(string), nil, nil)
		require.Equal(t, http.StatusOK, rec.Code, u)
		img, err := jpeg.Decode(bytes.NewReader(rec.Body.Bytes()))
		require.NoError(t, err, "a frame is a JPEG")
		require.Equal(t, 320, img.Bounds().Dx())
		seen[sha256.Sum256(rec.Body.Bytes())] = true
	}
	require.Len(t, seen, 5, "frames at different times differ")
	first := <-ran

	// Another caller previewing the same time gets the cached frames at
	// once: no new capture.
	res = e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/preview?timestamp=1.1", token: otherToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["frames"], 5)
	var captures int
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT count(*) FROM frame_captures WHERE video_id = $1", id).Scan(&captures))
	require.Equal(t, 1, captures)
	fc, err := e.store.FrameCaptureGet(ctx, first)
	require.NoError(t, err)
	require.Equal(t, []float64{0, 0.5, 1, 1.5, 2}, fc.Timestamps)
}
