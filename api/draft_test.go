package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestDrafts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("drafter")
	otherToken, _ := e.register("snoop")
	job := uuid.NewString()

	res := e.do(req{method: "POST", path: "/v1/videos/draft", token: token, body: map[string]any{
		"title": "My glitch", "state": map[string]any{"clips": []any{map[string]any{"start": 1.5}}}, "job_ids": []string{job}, "assets": []string{"images/a.png"}}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	id := res.Body["id"].(string)
	v1 := res.Body["updated_at"].(string)
	require.Equal(t, map[string]any{"clips": []any{map[string]any{"start": 1.5}}}, res.Body["state"])

	res = e.do(req{method: "GET", path: "/v1/videos/drafts/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, []any{job}, res.Body["job_ids"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/drafts/" + id, token: otherToken}).Status, "owner only")

	// Tab A saves on top of v1; tab B, still on v1, is refused.
	res = e.do(req{method: "PUT", path: "/v1/videos/drafts/" + id, token: token, body: map[string]any{"updated_at": v1, "title": "Tab A", "state": map[string]any{"n": 1}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	v2 := res.Body["updated_at"].(string)
	require.NotEqual(t, v1, v2)
	res = e.do(req{method: "PUT", path: "/v1/videos/drafts/" + id, token: token, body: map[string]any{"updated_at": v1, "title": "Tab B"}})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "stale_draft", res.Body["reason"])
	require.Equal(t, "Tab A", e.do(req{method: "GET", path: "/v1/videos/drafts/" + id, token: token}).Body["title"])
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "PUT", path: "/v1/videos/drafts/" + id, token: token, body: map[string]any{"title": "x"}}).Status)

	big := `{"state": {"blob": "` + strings.Repeat("x", 300<<10) + `"}}`
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/videos/draft", token: token, body: big}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/videos/draft", token: token, body: map[string]any{"state": []int{1}}}).Status)

	res = e.do(req{method: "GET", path: "/v1/videos/drafts", token: token})
	require.Len(t, res.Body["drafts"], 1)
	require.Empty(t, e.do(req{method: "GET", path: "/v1/videos/drafts/", token: otherToken}).Body["drafts"])

	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/videos/drafts/" + id, token: otherToken}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/videos/drafts/" + id, token: token}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/drafts/" + id, token: token}).Status)
}
