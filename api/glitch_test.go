package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func (e *testEnv) glitchEdge(source, glitch, typ string) {
	e.t.Helper()
	dbtest.GlitchEdge(e.t, e.store, dbtest.GlitchEdgeOpts{Source: uuid.MustParse(source), Glitch: uuid.MustParse(glitch), Type: typ})
}

func TestGlitchGraph(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("gl_owner")
	fanToken, fan := e.register("gl_fan")
	now := time.Now()
	root := e.video(owner, dbtest.VideoOpts{CreatedAt: now.Add(-time.Hour)})
	a := e.video(fan, dbtest.VideoOpts{CreatedAt: now.Add(-50 * time.Minute)})
	b := e.video(fan, dbtest.VideoOpts{CreatedAt: now.Add(-40 * time.Minute)})
	hidden := e.video(fan, dbtest.VideoOpts{Private: true, CreatedAt: now.Add(-30 * time.Minute)})
	aa := e.video(owner, dbtest.VideoOpts{CreatedAt: now.Add(-20 * time.Minute)})
	e.glitchEdge(root, a, "animate")
	e.glitchEdge(root, b, "replace")
	e.glitchEdge(root, hidden, "animate")
	e.glitchEdge(a, aa, "animate")
	dbtest.AddVideoCounts(t, e.store, uuid.MustParse(a), dbtest.VideoCounts{Likes: 5})

	res := e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/glitches"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	ids := func(list []any) []string {
		var out []string
		for _, v := range list {
			out = append(out, v.(map[string]any)["id"].(string))
		}
		return out
	}
	require.Equal(t, []string{b, a}, ids(res.Body["glitches"].([]any)), "newest first, the private one left out")
	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/glitches?sort=popular&page_size=1"})
	require.Equal(t, []string{a}, ids(res.Body["glitches"].([]any)))
	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/glitches?sort=popular&page_size=1&cursor=" + res.Body["next_cursor"].(string)})
	require.Equal(t, []string{b}, ids(res.Body["glitches"].([]any)))
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/glitches?sort=random"}).Status)

	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + aa + "/source"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, a, res.Body["original_video_id"])
	require.Equal(t, a, res.Body["source_video"].(map[string]any)["id"])
	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/source"})
	require.Nil(t, res.Body["original_video_id"])

	// The tree from a grandchild finds the root and walks down.
	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + aa + "/tree"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, root, res.Body["root"].(map[string]any)["id"])
	nodes := res.Body["nodes"].([]any)
	require.Len(t, nodes, 3, "a, b and aa; the private glitch is not shown")
	require.Equal(t, float64(2), nodes[2].(map[string]any)["depth"])
	require.Equal(t, a, nodes[2].(map[string]any)["parent_id"])
	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/tree?depth=1"})
	require.Len(t, res.Body["nodes"], 2)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/tree?depth=11"}).Status)

	// The private glitch's owner sees it in the list.
	res = e.do(req{method: "GET", path: "/v1/glitch/videos/" + root + "/glitches", token: fanToken})
	require.Len(t, res.Body["glitches"], 3)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/glitch/videos/" + hidden + "/source", token: ownerToken}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/glitch/videos/" + uuid.NewString() + "/tree"}).Status)
}
