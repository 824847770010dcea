package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func TestStudio(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, owner := e.register("studio_user")
	otherToken, _ := e.register("studio_other")
	id := e.video(owner, dbtest.VideoOpts{}) // 3.5 s
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	res := e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/timeline", token: otherToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, 3.5, res.Body["duration_seconds"])
	require.Equal(t, float64(105), res.Body["frame_count"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/studio/videos/" + private + "/timeline", token: otherToken}).Status, "B-12")
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/studio/videos/" + private + "/timeline", token: token}).Status)

	// No worker runs here: the frames stay pending (TestStudioPreviewFrames
	// runs the worker's handler).
	res = e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/preview?timestamp=1.25", token: token})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	require.Contains(t, res.Body["preview_url"], "#t=1.25")
	require.Equal(t, "pending", res.Body["status"])
	require.Equal(t, []any{}, res.Body["frames"])
	require.Equal(t, []any{0.5, 1.0, 1.5, 2.0, 2.5}, res.Body["frame_times"], "1.25 snaps to 1.5")
	require.Equal(t, http.StatusBadRequest, e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/preview?timestamp=9", token: token}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/preview?timestamp=x", token: token}).Status)

	res = e.do(req{method: "POST", path: "/v1/studio/videos/" + id + "/select-range?start_time=0.5&end_time=3", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, 2.5, res.Body["duration"])
	res = e.do(req{method: "POST", path: "/v1/studio/videos/" + id + "/select-range", token: token, body: map[string]any{"start_time": 1, "end_time": 2}})
	require.Equal(t, http.StatusOK, res.Status, "the frontend sends a body: %s", res.Raw)
	for _, q := range []string{"start_time=2&end_time=1", "start_time=-1&end_time=1", "start_time=0&end_time=9"} {
		require.Equal(t, http.StatusBadRequest, e.do(req{method: "POST", path: "/v1/studio/videos/" + id + "/select-range?" + q, token: token}).Status, q)
	}
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/studio/videos/" + id + "/select-range?start_time=1", token: token}).Status)
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/studio/videos/" + id + "/timeline"}).Status)
}
