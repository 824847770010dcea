package api_test

import (
	"github.com/google/uuid"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func TestBookmarks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("bm_owner")
	token, _ := e.register("bm_saver")
	first := e.video(owner, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Minute)})
	second := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + first, token: token}).Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + first, token: token}).Status, "saving twice is a no-op")
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + second, token: token}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + private, token: token}).Status)
	require.Equal(t, true, e.do(req{method: "GET", path: "/v1/bookmarks/videos/" + first + "/check", token: token}).Body["is_bookmarked"])

	res := e.do(req{method: "GET", path: "/v1/bookmarks/?page_size=1", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, second, res.Body["videos"].([]any)[0].(map[string]any)["id"], "newest saved first")
	res = e.do(req{method: "GET", path: "/v1/bookmarks?page_size=1&cursor=" + res.Body["next_cursor"].(string), token: token})
	require.Equal(t, first, res.Body["videos"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, false, res.Body["has_more"])

	// A saved video that turns private drops out of the list and can still be removed.
	dbtest.SetVideo(t, e.store, uuid.MustParse(second), dbtest.VideoChange{Public: new(false)})
	require.Len(t, e.do(req{method: "GET", path: "/v1/bookmarks", token: token}).Body["videos"], 1)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/bookmarks/videos/" + second, token: token}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/bookmarks/videos/" + second, token: token}).Status)
	require.Equal(t, false, e.do(req{method: "GET", path: "/v1/bookmarks/videos/" + second + "/check", token: token}).Body["is_bookmarked"])
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/bookmarks"}).Status)
}

func TestShares(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("share_owner")
	token, _ := e.register("sharer")
	id := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	res := e.do(req{method: "POST", path: "/v1/videos/" + id + "/share", token: token, body: map[string]any{"platform": "kakaotalk"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, "http://localhost:8000/v/"+id, res.Body["share_url"])
	require.Equal(t, float64(1), res.Body["share_count"])
	res = e.do(req{method: "POST", path: "/v1/shares/videos/" + id})
	require.Equal(t, http.StatusCreated, res.Status, "anonymous shares count too, at the original path: %s", res.Raw)
	require.Equal(t, float64(2), res.Body["share_count"])
	require.Nil(t, res.Body["platform"])

	res = e.do(req{method: "GET", path: "/v1/videos/" + id + "/share-count"})
	require.Equal(t, map[string]any{"video_id": id, "share_count": float64(2)}, res.Body)
	res = e.do(req{method: "GET", path: "/v1/shares/videos/" + id + "/count", token: ownerToken})
	require.Equal(t, map[string]any{"kakaotalk": float64(1), "other": float64(1)}, res.Body["by_platform"], "the owner sees platforms")
	require.Equal(t, float64(2), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["share_count"])

	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/videos/" + id + "/share",
		body: map[string]any{"platform": 7}}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/videos/" + private + "/share", token: token}).Status)
}
