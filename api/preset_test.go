package api_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db/dbtest"
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
		dbtest.AIJob(t, e.store, dbtest.AIJobOpts{User: uuid.MustParse(me), Type: lokiz.JobGlitchReplace, PresetID: "glitch_face_in"})
	}
	res = e.do(req{method: "GET", path: "/v1/presets/glitch"})
	first := res.Body["presets"].([]any)[0].(map[string]any)
	require.Equal(t, "glitch_face_in", first["id"])
	require.Equal(t, float64(2), first["popularity"])

	res = e.do(req{method: "GET", path: "/v1/presets/music/"})
	require.Len(t, res.Body["presets"], 3)
	require.Equal(t, "meta/musicgen", res.Body["presets"].([]any)[0].(map[string]any)["model"])
}
