package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

// uploadedImage uploads a tiny PNG as the token's user and returns the
// reference the AI routes take.
func (e *testEnv) uploadedImage(t *testing.T, token string) string {
	t.Helper()
	res := e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"file_type": "image/png"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	rec := e.raw("PUT", res.Body["upload_url"].(string), tinyPNG(t), map[string]string{"Content-Type": "image/png"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return res.Body["image_url"].(string)
}

func (e *testEnv) credits(t *testing.T, userID string) int32 {
	t.Helper()
	u, err := e.store.UserGetByID(context.Background(), uuid.MustParse(userID))
	require.NoError(t, err)
	var sum int64
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT coalesce(sum(credits),0) FROM credit_transactions WHERE user_id = $1", u.ID).Scan(&sum))
	require.EqualValues(t, sum, u.Credits, "users.credits equals the ledger sum")
	return u.Credits
}

func TestAIJobAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("ai_owner")
	token, me := e.register("ai_user")
	otherToken, _ := e.register("ai_other")
	video := e.video(owner, dbtest.VideoOpts{})
	img := e.uploadedImage(t, token)

	res := e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: token, body: map[string]any{
		"template_video_id": video, "user_image_url": img, "prompt": "neon rain"}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	job := res.Body
	id := job["id"].(string)
	require.Equal(t, id, job["job_id"])
	require.Equal(t, "pending", job["status"])
	require.Equal(t, "glitch_animate", job["job_type"])
	require.EqualValues(t, 30, job["credits_used"])
	require.Equal(t, "wan-video/wan-2.2-animate-animation", job["model"])
	require.Equal(t, false, job["priority"])
	input := job["input_data"].(map[string]any)
	require.Equal(t, video, input["video_id"])
	require.Equal(t, "neon rain", input["prompt"])
	require.Contains(t, input["image_key"], "images/")
	require.EqualValues(t, 70, e.credits(t, me))

	info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueAI, "ai:run:"+id)
	require.NoError(t, err, "the run is queued under the job's id")
	require.Equal(t, tasks.TypeAIRun, info.Type)

	got := e.do(req{method: "GET", path: "/v1/ai/jobs/" + id, token: token})
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, "pending", got.Body["status"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/ai/jobs/" + id, token: otherToken}).Status, "jobs are their owner's")
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/ai/jobs/" + uuid.NewString(), token: token}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/ai/jobs/nope", token: token}).Status)

	// A second job, then the list and the batch status.
	res = e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "lofi", "duration": 8}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	music := res.Body["id"].(string)
	list := e.do(req{method: "GET", path: "/v1/ai/jobs?page_size=1", token: token})
	require.Equal(t, http.StatusOK, list.Status)
	require.Equal(t, music, list.Body["jobs"].([]any)[0].(map[string]any)["id"], "newest first")
	require.Equal(t, true, list.Body["has_more"])
	next := e.do(req{method: "GET", path: "/v1/ai/jobs?page_size=1&cursor=" + list.Body["next_cursor"].(string), token: token})
	require.Equal(t, id, next.Body["jobs"].([]any)[0].(map[string]any)["id"])
	require.Len(t, e.do(req{method: "GET", path: "/v1/ai/jobs?job_type=music", token: token}).Body["jobs"], 1)
	require.Len(t, e.do(req{method: "GET", path: "/v1/ai/jobs", token: otherToken}).Body["jobs"], 0)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/ai/jobs?status=done", token: token}).Status)

	unknown := uuid.NewString()
	batch := e.do(req{method: "POST", path: "/v1/ai/jobs/batch-status", token: token, body: map[string]any{"job_ids": []string{id, music, unknown}}})
	require.Equal(t, http.StatusOK, batch.Status, "%s", batch.Raw)
	jobs := batch.Body["jobs"].(map[string]any)
	require.Equal(t, "pending", jobs[id].(map[string]any)["status"])
	require.Equal(t, "not_found", jobs[unknown].(map[string]any)["status"])
	other := e.do(req{method: "POST", path: "/v1/ai/jobs/batch-status", token: otherToken, body: map[string]any{"job_ids": []string{id}}})
	require.Equal(t, "not_found", other.Body["jobs"].(map[string]any)[id].(map[string]any)["status"])
	many := make([]string, 51)
	for i := range many {
		many[i] = uuid.NewString()
	}
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/ai/jobs/batch-status", token: token, body: map[string]any{"job_ids": many}}).Status)
	require.Equal(t, map[string]any{}, e.do(req{method: "POST", path: "/v1/ai/jobs/batch-status", token: token, body: map[string]any{"job_ids": []string{}}}).Body["jobs"])

	_ = ownerToken
}

func TestAIJobValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("val_owner")
	token, _ := e.register("val_user")
	otherToken, _ := e.register("val_other")
	video := e.video(owner, dbtest.VideoOpts{}) // 3.5 s
	private := e.video(owner, dbtest.VideoOpts{Private: true})
	processing := e.video(owner, dbtest.VideoOpts{Status: "processing"})
	img := e.uploadedImage(t, token)
	othersImg := e.uploadedImage(t, otherToken)

	cases := []struct {
		name, path string
		body       any
		want       int
	}{
		{"TemplateNoPrompt", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug"}, 422},
		{"TemplateDurationLow", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug", "prompt": "p", "duration": 4}, 422},
		{"TemplateDurationHigh", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug", "prompt": "p", "duration": 11}, 422},
		{"TemplateDurationFraction", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug", "prompt": "p", "duration": 5.5}, 422},
		{"TemplateDurationString", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug", "prompt": "p", "duration": "5"}, 422},
		{"TemplateUnknownResolution", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug", "prompt": "p", "resolution": "4k"}, 422},
		// 1080p is pro's advanced option: free is refused.
		{"TemplateBeyondThePlan", "/v1/ai/template", map[string]any{"image_url": img, "template": "hug", "prompt": "p", "resolution": "1080p"}, 403},
		{"ForeignURL", "/v1/ai/template", map[string]any{"image_url": "https://evil.example.com/images/x.png", "template": "hug", "prompt": "p"}, 422},
		{"SomeoneElsesImage", "/v1/ai/template", map[string]any{"image_url": othersImg, "template": "hug", "prompt": "p"}, 422},
		{"ForgedFrame", "/v1/ai/template", map[string]any{"image_url": "frames/" + uuid.NewString() + "/00.jpg", "template": "hug", "prompt": "p"}, 422},
		{"GlitchBadID", "/v1/ai/glitch/animate", map[string]any{"template_video_id": "x", "user_image_url": img}, 422},
		{"GlitchNoImage", "/v1/ai/glitch/replace", map[string]any{"template_video_id": video}, 422},
		{"GlitchPrivate", "/v1/ai/glitch/animate", map[string]any{"template_video_id": private, "user_image_url": img}, 404},
		{"GlitchUnknown", "/v1/ai/glitch/animate", map[string]any{"template_video_id": uuid.NewString(), "user_image_url": img}, 404},
		{"GlitchNotReady", "/v1/ai/glitch/animate", map[string]any{"template_video_id": processing, "user_image_url": img}, 404},
		{"GlitchLongPrompt", "/v1/ai/glitch/animate", map[string]any{"template_video_id": video, "user_image_url": img, "prompt": string(make([]byte, 1001))}, 422},
		{"StickerNotOwnNotGlitch", "/v1/ai/sticker-to-reality", map[string]any{"video_id": video, "user_image_url": img, "start_time": 0, "end_time": 1, "prompt": "p"}, 403},
		{"StickerBackwards", "/v1/ai/sticker-to-reality", map[string]any{"video_id": video, "user_image_url": img, "start_time": 2, "end_time": 1, "prompt": "p", "is_glitch": true}, 422},
		{"StickerTooLong", "/v1/ai/sticker-to-reality", map[string]any{"video_id": video, "user_image_url": img, "start_time": 0, "end_time": 10.5, "prompt": "p", "is_glitch": true}, 422},
		{"StickerNegative", "/v1/ai/sticker-to-reality", map[string]any{"video_id": video, "user_image_url": img, "start_time": -1, "end_time": 1, "prompt": "p", "is_glitch": true}, 422},
		{"StickerPastTheEnd", "/v1/ai/sticker-to-reality", map[string]any{"video_id": video, "user_image_url": img, "start_time": 3, "end_time": 5, "prompt": "p", "is_glitch": true}, 422},
		{"StickerMissingTimes", "/v1/ai/sticker-to-reality", map[string]any{"video_id": video, "user_image_url": img, "prompt": "p", "is_glitch": true}, 422},
		{"MusicNoPrompt", "/v1/ai/music", map[string]any{"duration": 10}, 422},
		{"MusicTooLong", "/v1/ai/music", map[string]any{"prompt": "p", "duration": 181}, 422},
		// Longer music is pro's advanced option: free is refused.
		{"MusicBeyondThePlan", "/v1/ai/music", map[string]any{"prompt": "p", "duration": 61}, 403},
		{"MusicControlChars", "/v1/ai/music", map[string]any{"prompt": "a\u0000b"}, 422},
		{"UnknownPreset", "/v1/ai/music", map[string]any{"prompt": "p", "preset_id": "nope"}, 422},
		{"PresetOfAnotherType", "/v1/ai/music", map[string]any{"prompt": "p", "preset_id": "glitch_dance_swap"}, 422},
		{"NotJSON", "/v1/ai/music", "{", 422},
		{"NoBody", "/v1/ai/music", nil, 422},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{method: "POST", path: tt.path, token: token, body: tt.body})
			require.Equal(t, tt.want, res.Status, "%s", res.Raw)
		})
	}
	// processing videos are invisible to others (404); to their owner they
	// are not ready (409).
	ownerToken := e.tokenFor(uuid.MustParse(owner))
	ownerImg := e.uploadedImage(t, ownerToken)
	res := e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: ownerToken, body: map[string]any{"template_video_id": processing, "user_image_url": ownerImg}})
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Raw)
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "POST", path: "/v1/ai/music", body: map[string]any{"prompt": "p"}}).Status)

	// Nothing was charged for any of it.
	_, me := e.register("val_check")
	require.EqualValues(t, lokiz.InitialCredits, e.credits(t, me))
	var jobs int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM ai_jobs").Scan(&jobs))
	require.Zero(t, jobs)
}

func TestAIJobFromCapturedFrameAndPreset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("frame_owner")
	token, me := e.register("frame_user")
	video := e.video(owner, dbtest.VideoOpts{})
	ctx := context.Background()
	// A finished capture of the user's, as the worker leaves it.
	fc, err := e.store.FrameCaptureCreate(ctx, db.FrameCaptureCreateParams{ID: db.NewID(), UserID: uuid.MustParse(me), VideoID: uuid.MustParse(video), Timestamps: []float64{1}})
	require.NoError(t, err)
	key := "frames/" + fc.ID.String() + "/00.jpg"
	_, err = e.store.FrameCaptureComplete(ctx, db.FrameCaptureCompleteParams{ID: fc.ID, FrameKeys: []string{key}})
	require.NoError(t, err)
	frameURL, err := e.storage.URL(ctx, key, time.Hour)
	require.NoError(t, err)

	res := e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: token, body: map[string]any{
		"template_video_id": video, "user_image_url": frameURL, "prompt": "in the rain", "preset_id": "glitch_dance_swap"}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	require.Equal(t, "glitch_dance_swap", res.Body["preset_id"])
	input := res.Body["input_data"].(map[string]any)
	require.Equal(t, key, input["image_key"])
	require.Equal(t, "the character performs the same motion, in the rain", input["model_prompt"])

	// Someone else cannot use the frame.
	otherToken, _ := e.register("frame_thief")
	res = e.do(req{method: "POST", path: "/v1/ai/template", token: otherToken, body: map[string]any{"image_url": key, "template": "t", "prompt": "p"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)

	// The preset's recent use shows in its popularity.
	presets := e.do(req{method: "GET", path: "/v1/presets/glitch"})
	require.Equal(t, "glitch_dance_swap", presets.Body["presets"].([]any)[0].(map[string]any)["id"])
}

// TestAIJobCreditsUnderConcurrency: a user with credits for two glitches
// sends ten at once: two are accepted, eight are 402, the balance is zero
// and equals the ledger.
func TestAIJobCreditsUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("conc_owner")
	token, me := e.register("conc_user")
	video := e.video(owner, dbtest.VideoOpts{})
	img := e.uploadedImage(t, token)
	_, _, err := e.store.CreditsApply(context.Background(), db.CreditChange{
		UserID: uuid.MustParse(me), Type: lokiz.CreditAdjustment, Delta: -40, Description: "test", IdempotencyKey: "test:" + me})
	require.NoError(t, err)
	require.EqualValues(t, 60, e.credits(t, me))

	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: token, body: map[string]any{"template_video_id": video, "user_image_url": img}})
			mu.Lock()
			counts[res.Status]++
			mu.Unlock()
			if res.Status == http.StatusPaymentRequired {
				require.Equal(t, "insufficient_credits", errorCode(res))
				require.Contains(t, errorDetail(res), "Required: 30")
			}
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusAccepted: 2, http.StatusPaymentRequired: 8}, counts)
	require.Zero(t, e.credits(t, me))
	var jobs int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM ai_jobs WHERE user_id = $1", me).Scan(&jobs))
	require.Equal(t, 2, jobs, "a job exists exactly when its credits were taken")
}

func TestAIJobTierDiscountAndPriority(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("pro_user")
	img := e.uploadedImage(t, token)
	setTier := func(tier string, expires time.Time) {
		dbtest.SetUser(t, e.store, uuid.MustParse(me), dbtest.UserChange{SubscriptionTier: &tier, SubscriptionExpiresAt: &expires})
	}
	post := func() response {
		res := e.do(req{method: "POST", path: "/v1/ai/template", token: token, body: map[string]any{"image_url": img, "template": "t", "prompt": "p"}})
		require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
		return res
	}

	setTier(lokiz.TierPro, time.Now().Add(24*time.Hour))
	res := post()
	require.EqualValues(t, 16, res.Body["credits_used"], "pro: 20% off 20")
	require.Equal(t, true, res.Body["priority"])
	_, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueAIPriority, "ai:run:"+res.Body["id"].(string))
	require.NoError(t, err, "pro jobs run on the priority queue")

	setTier(lokiz.TierBasic, time.Now().Add(24*time.Hour))
	res = post()
	require.EqualValues(t, 18, res.Body["credits_used"])
	require.Equal(t, false, res.Body["priority"])

	setTier(lokiz.TierEnterprise, time.Now().Add(-time.Hour)) // expired
	res = post()
	require.EqualValues(t, 20, res.Body["credits_used"])
	require.Equal(t, false, res.Body["priority"])
	require.EqualValues(t, lokiz.InitialCredits-16-18-20, e.credits(t, me))
}

func TestAIJobCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("cancel_user")
	otherToken, _ := e.register("cancel_other")
	res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "p"}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	id := res.Body["id"].(string)
	require.EqualValues(t, lokiz.InitialCredits-5, e.credits(t, me))

	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/ai/jobs/" + id, token: otherToken}).Status, "only the owner cancels")
	res = e.do(req{method: "DELETE", path: "/v1/ai/jobs/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "canceled", res.Body["status"])
	require.NotNil(t, res.Body["completed_at"])
	require.EqualValues(t, lokiz.InitialCredits, e.credits(t, me), "refunded at once")

	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	_, err := insp.GetTaskInfo(tasks.QueueAI, "ai:run:"+id)
	require.ErrorIs(t, err, asynq.ErrTaskNotFound, "the queued run is gone")
	_, err = insp.GetTaskInfo(tasks.QueueCritical, "ai:cancel:"+id)
	require.NoError(t, err, "the worker is asked to cancel the prediction")

	res = e.do(req{method: "DELETE", path: "/v1/ai/jobs/" + id, token: token})
	require.Equal(t, http.StatusConflict, res.Status, "a finished job cannot be canceled")
	require.EqualValues(t, lokiz.InitialCredits, e.credits(t, me), "refunded once")

	// Many cancels at once: one wins, one refund.
	res = e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "p"}})
	id = res.Body["id"].(string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(req{method: "DELETE", path: "/v1/ai/jobs/" + id, token: token})
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusConflict: 7}, codes)
	require.EqualValues(t, lokiz.InitialCredits, e.credits(t, me))
}

func TestAIRoutesWithoutReplicate(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, logs := testkit.NewLogger()
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: cfg.PublicBaseURL, SecretKey: cfg.SecretKey})
	require.NoError(t, err)
	srv, err := api.New(cfg, api.Deps{Store: store, Redis: rdb, Tasks: tasks.NewClient(qc), Logger: logger, Storage: st,
		Views: views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow)})
	require.NoError(t, err)
	e := &testEnv{t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc, ip: "10.9.9.9"}
	token, me := e.register("no_ai")
	res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "p"}})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	require.EqualValues(t, lokiz.InitialCredits, e.credits(t, me))
	res = e.do(req{method: "POST", path: "/v1/webhooks/replicate", body: map[string]any{"id": "p1"}})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "webhooks are closed without a secret")
}

// signWebhook signs body as Replicate does (Standard Webhooks).
func signWebhook(secret, id string, ts time.Time, body []byte) map[string]string {
	key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + stamp + "."))
	mac.Write(body)
	return map[string]string{"webhook-id": id, "webhook-timestamp": stamp,
		"webhook-signature": "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))}
}

func TestReplicateWebhook(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	e := newEnv(t, func(c *api.Config) { c.ReplicateWebhookSecret = secret })
	token, _ := e.register("hook_user")
	res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "p"}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	jobID := uuid.MustParse(res.Body["id"].(string))
	ctx := context.Background()
	n, err := e.store.AIJobStart(ctx, db.AIJobStartParams{ID: jobID, PredictionID: ptr("pred-1"), PredictionStatus: ptr("starting")})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	body, _ := json.Marshal(map[string]any{"id": "pred-1", "status": "succeeded"})
	path := "/v1/webhooks/replicate?job=" + jobID.String()
	post := func(headers map[string]string, b []byte) response {
		return e.do(req{method: "POST", path: path, body: b, headers: headers})
	}

	// Forgeries and replays of old deliveries are refused.
	require.Equal(t, http.StatusUnauthorized, post(nil, body).Status, "no signature headers")
	bad := signWebhook(secret, "msg_1", time.Now(), body)
	bad["webhook-signature"] = "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32))
	require.Equal(t, http.StatusUnauthorized, post(bad, body).Status, "wrong signature")
	tampered, _ := json.Marshal(map[string]any{"id": "pred-2", "status": "succeeded"})
	require.Equal(t, http.StatusUnauthorized, post(signWebhook(secret, "msg_1", time.Now(), body), tampered).Status, "body changed after signing")
	res = post(signWebhook(secret, "msg_1", time.Now().Add(-6*time.Minute), body), body)
	require.Equal(t, http.StatusUnauthorized, res.Status, "stale timestamp")
	require.Contains(t, errorDetail(res), "timestamp")
	require.Equal(t, http.StatusUnauthorized, post(signWebhook(secret, "msg_1", time.Now().Add(6*time.Minute), body), body).Status, "from the future")

	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	res = post(signWebhook(secret, "msg_1", time.Now(), body), body)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "accepted", res.Body["status"])
	info, err := insp.GetTaskInfo(tasks.QueueAI, "ai:finalize:"+jobID.String())
	require.NoError(t, err, "the worker is asked to settle the job")
	require.Equal(t, tasks.TypeAIFinalize, info.Type)

	// The same delivery again (a duplicate or a replay) is ignored.
	res = post(signWebhook(secret, "msg_1", time.Now(), body), body)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "duplicate", res.Body["status"])
	// Another event of the same prediction (out of order, or a second
	// completed) only re-asks the worker, whose task id dedupes it.
	res = post(signWebhook(secret, "msg_2", time.Now(), body), body)
	require.Equal(t, "accepted", res.Body["status"])
	// A prediction that is none of ours.
	other, _ := json.Marshal(map[string]any{"id": "someone-elses"})
	res = e.do(req{method: "POST", path: "/v1/webhooks/replicate", body: other, headers: signWebhook(secret, "msg_3", time.Now(), other)})
	require.Equal(t, "ignored", res.Body["status"])
	// A signed body that is not a prediction.
	junk := []byte(`{"hello":1}`)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/webhooks/replicate", body: junk, headers: signWebhook(secret, "msg_4", time.Now(), junk)}).Status)

	// Once the job ended, deliveries are ignored.
	_, _, err = e.store.EndAIJob(ctx, db.AIJobEnding{ID: jobID, Status: lokiz.JobFailed, ErrorMessage: "x"})
	require.NoError(t, err)
	res = post(signWebhook(secret, "msg_5", time.Now(), body), body)
	require.Equal(t, "ignored", res.Body["status"])
}

func ptr[T any](v T) *T { return &v }
