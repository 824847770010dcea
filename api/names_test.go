package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
)

// The frontend's names (CONTRACT.md §5, issue 12 point 7): each answer
// carries them beside ours, with the same values.

func TestFeedsCarryTotal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("totalfan")
	_, star := e.register("totalstar")
	for i := range 3 {
		e.insertVideo(star, "completed", true, false, time.Now().Add(-time.Duration(i)*time.Minute))
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
	a := e.insertVideo(owner, "completed", true, false, time.Now().Add(-time.Minute))
	b := e.insertVideo(owner, "completed", true, false, time.Now())
	hidden := e.insertVideo(owner, "completed", false, false, time.Now())
	for id, caption := range map[string]string{a: "#Jump", b: "#jump #skip", hidden: "#jump"} {
		res := e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: token, body: map[string]any{"caption": caption}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	_, err := e.store.Pool().Exec(context.Background(), "UPDATE videos SET view_count = CASE WHEN id = $1 THEN 7 WHEN id = $2 THEN 5 ELSE 100 END WHERE user_id = $3", a, b, owner)
	require.NoError(t, err)

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

	// A spend, written as the AI job charge writes it.
	_, err := e.store.Pool().Exec(context.Background(), `INSERT INTO credit_transactions
		(id, user_id, transaction_type, credits, balance_after, description, idempotency_key)
		VALUES ($1, $2, 'usage', -3, 107, 'AI job', $3)`, uuid.New(), me, "test:"+uuid.NewString())
	require.NoError(t, err)
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
	id := e.insertVideo(owner, "completed", true, false, time.Now())
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
	id := e.insertVideo(me, "completed", true, false, time.Now())
	ctx := context.Background()

	// A stand-in for the worker: it fails each new capture of the user
	// with the reason the next value of reasons gives.
	reasons := make(chan string)
	go func() {
		for reason := range reasons {
			for {
				var capture uuid.UUID
				err := e.store.Pool().QueryRow(ctx, "SELECT id FROM frame_captures WHERE user_id = $1 AND status = 'pending' LIMIT 1", me).Scan(&capture)
				if err == nil {
					if _, err := e.store.Pool().Exec(ctx, "UPDATE frame_captures SET status = 'failed', error = $2, completed_at = now() WHERE id = $1", capture, reason); err == nil {
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
