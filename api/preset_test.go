package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestPresets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, me := e.register("preset_user")

	res := e.do(req{method: "GET", path: "/v1/presets/glitch"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	presets := res.Body["presets"].([]any)
	require.Len(t, presets, 3)
	require.Equal(t, "glitch_dance_swap", presets[0].(map[string]any)["id"], "catalog order when nothing is used")
	require.Equal(t, float64(30), presets[0].(map[string]any)["cost"])

	// Recent use reorders the list.
	for range 2 {
		_, err := e.store.Pool().Exec(context.Background(), `INSERT INTO ai_jobs (id, user_id, job_type, status, preset_id)
			VALUES ($1, $2, 'glitch_replace', 'pending', 'glitch_face_in')`, uuid.New(), me)
		require.NoError(t, err)
	}
	res = e.do(req{method: "GET", path: "/v1/presets/glitch"})
	first := res.Body["presets"].([]any)[0].(map[string]any)
	require.Equal(t, "glitch_face_in", first["id"])
	require.Equal(t, float64(2), first["popularity"])

	res = e.do(req{method: "GET", path: "/v1/presets/music/"})
	require.Len(t, res.Body["presets"], 3)
	require.Equal(t, "meta/musicgen", res.Body["presets"].([]any)[0].(map[string]any)["model"])
}
