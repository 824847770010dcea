package api_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// TestCaptureFramesWithoutWorker: no worker runs here, so the capture is
// queued and the request answers 202 with the job to poll. The worker path
// is TestFramesJourney (cmd) and the handler tests (worker).
func TestCaptureFramesWithoutWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, owner := e.register("framer")
	otherToken, _ := e.register("framer_other")
	id := e.video(owner, dbtest.VideoOpts{}) // 3.5 s
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	res := e.do(req{method: "POST", path: "/v1/ai/capture-frames", token: otherToken, body: map[string]any{"video_id": id, "timestamps": []float64{0.5, 1, 3.4}}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	job := res.Body["job_id"].(string)
	require.Equal(t, "pending", res.Body["status"])
	info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo("media", "frames:capture:"+job)
	require.NoError(t, err)
	require.Equal(t, "frames:capture", info.Type)

	require.Equal(t, "pending", e.do(req{method: "GET", path: "/v1/ai/capture-frames/" + job, token: otherToken}).Body["status"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/ai/capture-frames/" + job, token: token}).Status, "a capture is its requester's")

	cases := []struct {
		name string
		body any
		want int
	}{
		{"PastTheEnd", map[string]any{"video_id": id, "timestamps": []float64{9}}, 422},
		{"Negative", map[string]any{"video_id": id, "timestamps": []float64{-1}}, 422},
		{"None", map[string]any{"video_id": id, "timestamps": []float64{}}, 422},
		{"TooMany", map[string]any{"video_id": id, "timestamps": make([]float64, 21)}, 422},
		{"BadID", map[string]any{"video_id": "x", "timestamps": []float64{1}}, 422},
		{"Invisible", map[string]any{"video_id": private, "timestamps": []float64{1}}, 404},
		{"Unknown", map[string]any{"video_id": uuid.NewString(), "timestamps": []float64{1}}, 404},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(req{method: "POST", path: "/v1/ai/capture-frames", token: otherToken, body: tt.body})
			require.Equal(t, tt.want, res.Status, "%s", res.Raw)
		})
	}
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/ai/capture-frame", token: token, body: map[string]any{"video_id": id}}).Status)
	// A bad single time is named by the field the client sent.
	res = e.do(req{method: "POST", path: "/v1/ai/capture-frame", token: token, body: map[string]any{"video_id": id, "timestamp": -1}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
	require.Equal(t, []any{"body", "timestamp"}, res.Body["errors"].([]any)[0].(map[string]any)["loc"], "%s", res.Raw)
}
