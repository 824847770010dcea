package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestReports(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("rp_owner")
	token, me := e.register("rp_reporter")
	id := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	res := e.do(req{method: "POST", path: "/v1/videos/" + id + "/report", token: token, body: map[string]any{"report_type": "spam", "reason": " repeated ads "}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, id, res.Body["reported_video_id"])
	require.Equal(t, "repeated ads", res.Body["reason"])
	require.Equal(t, "pending", res.Body["status"])
	first := res.Body["id"]
	res = e.do(req{method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_video_id": id, "report_type": "violence"}})
	require.Equal(t, http.StatusOK, res.Status, "one open report per reporter and target")
	require.Equal(t, first, res.Body["id"])

	res = e.do(req{method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_user_id": owner, "report_type": "harassment"}})
	require.Equal(t, http.StatusCreated, res.Status)
	cm := e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: ownerToken, body: map[string]any{"content": "hi"}})
	res = e.do(req{method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_comment_id": cm.Body["id"], "report_type": "other"}})
	require.Equal(t, http.StatusCreated, res.Status)

	res = e.do(req{method: "GET", path: "/v1/moderation/reports", token: token})
	require.Equal(t, float64(3), res.Body["total"])

	cases := []struct {
		name string
		body any
		want int
	}{
		{"NoTarget", map[string]any{"report_type": "spam"}, 400},
		{"TwoTargets", map[string]any{"reported_user_id": owner, "reported_video_id": id, "report_type": "spam"}, 400},
		{"Self", map[string]any{"reported_user_id": me, "report_type": "spam"}, 400},
		{"BadType", map[string]any{"reported_user_id": owner, "report_type": "rude"}, 422},
		{"LongReason", map[string]any{"reported_user_id": owner, "report_type": "spam", "reason": strings.Repeat("r", 1001)}, 422},
		{"BadID", map[string]any{"reported_user_id": "nope", "report_type": "spam"}, 422},
		{"InvisibleVideo", map[string]any{"reported_video_id": private, "report_type": "spam"}, 404},
		{"UnknownComment", map[string]any{"reported_comment_id": uuid.NewString(), "report_type": "spam"}, 404},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{method: "POST", path: "/v1/moderation/report", token: token, body: tt.body})
			require.Equal(t, tt.want, res.Status, "%s", res.Raw)
		})
	}
}

func TestReportRaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ReportRateLimit = 1000 })
	_, owner := e.register("rr_owner")
	token, _ := e.register("rr_reporter")
	id := e.video(owner, dbtest.VideoOpts{})
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(req{method: "POST", path: "/v1/videos/" + id + "/report", token: token, body: map[string]any{"report_type": "spam"}}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		require.Contains(t, []int{200, 201}, s)
		if s == 201 {
			created++
		}
	}
	require.Equal(t, 1, created, "concurrent duplicates file one report: %v", statuses)
}

func TestReportRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ReportRateLimit = 2 })
	_, owner := e.register("rl_owner")
	token, _ := e.register("rl_reporter")
	for range 2 {
		e.do(req{method: "POST", path: "/v1/videos/" + e.video(owner, dbtest.VideoOpts{}) + "/report", token: token, body: map[string]any{"report_type": "spam"}})
	}
	res := e.do(req{method: "POST", path: "/v1/videos/" + e.video(owner, dbtest.VideoOpts{}) + "/report", token: token, body: map[string]any{"report_type": "spam"}})
	require.Equal(t, http.StatusTooManyRequests, res.Status)
}
