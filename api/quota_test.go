package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

// requireQuota429 checks a refusal by a per-user quota: 429 in the error
// shape, the reason, and a Retry-After within the window.
func requireQuota429(t *testing.T, res response, window time.Duration) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	require.Equal(t, "rate_limited", res.Body["code"])
	require.Equal(t, "quota_exceeded", res.Body["reason"])
	require.NotEmpty(t, res.Body["detail"])
	secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is a number of seconds")
	require.GreaterOrEqual(t, secs, 1)
	require.LessOrEqual(t, time.Duration(secs)*time.Second, window)
}

func TestQuotaAIJobs(t *testing.T) {
	t.Parallel()

	t.Run("PerMinute", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *api.Config) { c.Quotas.AIJobsPerMinute = 3 })
		token, _ := e.register("q_ai_user")
		otherToken, _ := e.register("q_ai_other")
		for i := range 3 {
			res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "lofi " + strconv.Itoa(i)}})
			require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
		}
		res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "one too many"}})
		requireQuota429(t, res, time.Minute)
		// Every AI job route shares the quota.
		requireQuota429(t, e.do(req{method: "POST", path: "/v1/ai/template", token: token, body: map[string]any{}}), time.Minute)
		requireQuota429(t, e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: token, body: map[string]any{}}), time.Minute)
		requireQuota429(t, e.do(req{method: "POST", path: "/v1/ai/glitch/replace", token: token, body: map[string]any{}}), time.Minute)
		requireQuota429(t, e.do(req{method: "POST", path: "/v1/ai/sticker-to-reality", token: token, body: map[string]any{}}), time.Minute)
		// Another user, from the same IP, is untouched.
		res = e.do(req{method: "POST", path: "/v1/ai/music", token: otherToken, body: map[string]any{"prompt": "mine"}})
		require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
		// Refusals cost no credits: 3 jobs of 5 credits each.
		var jobs int
		require.NoError(t, e.store.Pool().QueryRow(context.Background(),
			"SELECT count(*) FROM ai_jobs j JOIN users u ON u.id = j.user_id WHERE u.username = 'q_ai_user'").Scan(&jobs))
		require.Equal(t, 3, jobs)
	})

	t.Run("PerDay", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *api.Config) { c.Quotas.AIJobsPerDay = 2 })
		token, _ := e.register("q_ai_day")
		for range 2 {
			res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "p"}})
			require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
		}
		res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "p"}})
		requireQuota429(t, res, 24*time.Hour)
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		require.Greater(t, secs, 23*3600, "the daily window has most of a day left")
	})
}

func TestQuotaFrameCaptures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Quotas.CapturesPerMinute = 1 })
	token, owner := e.register("q_framer")
	otherToken, _ := e.register("q_framer_other")
	id := e.video(owner, dbtest.VideoOpts{})
	res := e.do(req{method: "POST", path: "/v1/ai/capture-frames", token: token, body: map[string]any{"video_id": id, "timestamps": []float64{1}}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	requireQuota429(t, e.do(req{method: "POST", path: "/v1/ai/capture-frame", token: token, body: map[string]any{"video_id": id, "timestamp": 1}}), time.Minute)
	requireQuota429(t, e.do(req{method: "POST", path: "/v1/ai/capture-frames", token: token, body: map[string]any{"video_id": id, "timestamps": []float64{2}}}), time.Minute)
	res = e.do(req{method: "POST", path: "/v1/ai/capture-frame", token: otherToken, body: map[string]any{"video_id": id, "timestamp": 1}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
}

func TestQuotaUploads(t *testing.T) {
	t.Parallel()

	t.Run("Count", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *api.Config) { c.Quotas.UploadsPerDay = 2 })
		token, _ := e.register("q_up_count")
		otherToken, _ := e.register("q_up_count_other")
		res := e.do(req{method: "POST", path: "/v1/videos/upload-url", token: token, body: map[string]any{"size_bytes": 100}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		res = e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"content_type": "image/png", "size_bytes": 100}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		requireQuota429(t, e.do(req{method: "POST", path: "/v1/videos/upload-url", token: token, body: map[string]any{"size_bytes": 100}}), 24*time.Hour)
		requireQuota429(t, e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"content_type": "image/png", "size_bytes": 100}}), 24*time.Hour)
		res = e.do(req{method: "POST", path: "/v1/videos/upload-url", token: otherToken, body: map[string]any{"size_bytes": 100}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	})

	t.Run("Bytes", func(t *testing.T) {
		t.Parallel()
		// 10 KiB a day; undeclared uploads are signed for the maximum.
		e := newEnv(t, func(c *api.Config) {
			c.Quotas.UploadBytesPerDay = 10 << 10
			c.VideoMaxBytes = 6 << 10
			c.ImageMaxBytes = 4 << 10
		})
		token, _ := e.register("q_up_bytes")
		otherToken, _ := e.register("q_up_bytes_other")
		video := func(tok string, size any) response {
			body := map[string]any{"content_type": "video/mp4"}
			if size != nil {
				body["size_bytes"] = size
			}
			return e.do(req{method: "POST", path: "/v1/videos/upload-url", token: tok, body: body})
		}
		res := video(token, nil) // charged 6 KiB
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.EqualValues(t, 6<<10, res.Body["max_bytes"])
		first := res.Body["video_id"].(string)
		firstURL := res.Body["upload_url"].(string)
		res = e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"content_type": "image/png"}}) // 4 KiB: 10 KiB
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		// Spent: even one byte more is refused, declared or not, and a
		// refusal charges no bytes.
		requireQuota429(t, video(token, 1), 24*time.Hour)
		requireQuota429(t, video(token, nil), 24*time.Hour)
		require.Equal(t, http.StatusOK, video(otherToken, 6<<10).Status, "another user has their own bytes")

		// Completing the first video with a 1 KiB file gives back the 5 KiB
		// it did not use, once, however often it is completed.
		rec := e.raw("PUT", firstURL, bytes.Repeat([]byte("v"), 1<<10), map[string]string{"Content-Type": "video/mp4"})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		for range 2 {
			res = e.do(req{method: "POST", path: "/v1/videos/" + first + "/complete", token: token})
			require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
		}
		requireQuota429(t, video(token, 5<<10+1), 24*time.Hour)
		res = video(token, 5<<10)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		requireQuota429(t, video(token, 1), 24*time.Hour)
		// A second complete after the refund window was used gives nothing back.
		res = e.do(req{method: "POST", path: "/v1/videos/" + first + "/complete", token: token})
		require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
		requireQuota429(t, video(token, 1), 24*time.Hour)
	})
}

func TestQuotaComments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Quotas.CommentsPerMinute = 2 })
	token, owner := e.register("q_commenter")
	otherToken, _ := e.register("q_commenter_other")
	id := e.video(owner, dbtest.VideoOpts{})
	// Refused requests are given back: they do not count.
	for range 3 {
		res := e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: map[string]any{"content": "  "}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
	}
	for range 2 {
		res := e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: map[string]any{"content": "hi"}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	}
	requireQuota429(t, e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: map[string]any{"content": "hi"}}), time.Minute)
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: otherToken, body: map[string]any{"content": "hi"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
}

func TestQuotaReports(t *testing.T) {
	t.Parallel()
	// The per-IP limit is out of the way: what stops the reporter is theirs.
	e := newEnv(t, func(c *api.Config) {
		c.ReportRateLimit = 100000
		c.Quotas.ReportsPerMinute = 2
	})
	_, owner := e.register("q_rep_owner")
	token, _ := e.register("q_reporter")
	otherToken, _ := e.register("q_reporter_other")
	report := func(tok string) response {
		return e.do(req{method: "POST", path: "/v1/videos/" + e.video(owner, dbtest.VideoOpts{}) + "/report", token: tok, body: map[string]any{"report_type": "spam"}})
	}
	for range 2 {
		require.Equal(t, http.StatusCreated, report(token).Status)
	}
	requireQuota429(t, report(token), time.Minute)
	requireQuota429(t, e.do(req{method: "POST", path: "/v1/moderation/report", token: token,
		body: map[string]any{"reported_user_id": owner, "report_type": "spam"}}), time.Minute)
	require.Equal(t, http.StatusCreated, report(otherToken).Status, "another user from the same IP may still report")
}
