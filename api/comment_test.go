package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func TestComments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("cm_owner")
	token, me := e.register("cm_author")
	otherToken, _ := e.register("cm_other")
	id := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: map[string]any{"content": "  <b>nice</b> 좋아요  "}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	commentID := res.Body["id"].(string)
	require.Equal(t, "<b>nice</b> 좋아요", res.Body["content"], "trimmed, otherwise verbatim")
	require.Equal(t, me, res.Body["user"].(map[string]any)["id"])
	require.Equal(t, float64(1), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["comment_count"])

	for _, bad := range []any{map[string]any{"content": "   "}, map[string]any{"content": strings.Repeat("가", 1001)}, map[string]any{}, `{"content": 5}`} {
		require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: bad}).Status)
	}
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/comments/videos/" + private, token: token, body: map[string]any{"content": "x"}}).Status)

	// Likes on the comment.
	res = e.do(req{method: "POST", path: "/v1/comments/comments/" + commentID + "/like", token: otherToken})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, float64(1), res.Body["like_count"])
	require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: "/v1/comments/comments/" + commentID + "/like", token: otherToken}).Status)
	require.Equal(t, true, e.do(req{method: "GET", path: "/v1/comments/comments/" + commentID + "/like/check", token: otherToken}).Body["is_liked"])

	res = e.do(req{method: "GET", path: "/v1/comments/videos/" + id, token: otherToken})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, float64(1), res.Body["total"])
	c0 := res.Body["comments"].([]any)[0].(map[string]any)
	require.Equal(t, float64(1), c0["like_count"])
	require.Equal(t, true, c0["is_liked"])
	require.Equal(t, false, e.do(req{method: "GET", path: "/v1/comments/videos/" + id}).Body["comments"].([]any)[0].(map[string]any)["is_liked"])

	res = e.do(req{method: "POST", path: "/v1/comments/batch-info", token: otherToken, body: map[string]any{"comment_ids": []string{commentID, uuid.NewString()}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["comments"], 1)

	// Editing: the author only.
	require.Equal(t, http.StatusForbidden, e.do(req{method: "PATCH", path: "/v1/comments/" + commentID, token: ownerToken, body: map[string]any{"content": "x"}}).Status)
	res = e.do(req{method: "PATCH", path: "/v1/comments/" + commentID, token: token, body: map[string]any{"content": "edited"}})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "edited", res.Body["content"])

	// Deleting: not a stranger; the video's owner may, and a liked comment goes with its likes (B-43).
	require.Equal(t, http.StatusForbidden, e.do(req{method: "DELETE", path: "/v1/comments/" + commentID, token: otherToken}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/comments/" + commentID, token: ownerToken}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/comments/" + commentID, token: ownerToken}).Status)
	require.Equal(t, float64(0), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["comment_count"])
	var likes int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM comment_likes WHERE comment_id = $1", commentID).Scan(&likes))
	require.Zero(t, likes)

	// A block hides comments both ways.
	res = e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: map[string]any{"content": "still here"}})
	require.Equal(t, http.StatusCreated, res.Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + me, token: otherToken}).Status)
	require.Empty(t, e.do(req{method: "GET", path: "/v1/comments/videos/" + id, token: otherToken}).Body["comments"])
	require.Len(t, e.do(req{method: "GET", path: "/v1/comments/videos/" + id}).Body["comments"], 1)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/comments/comments/" + res.Body["id"].(string) + "/like", token: otherToken}).Status)
}

// TestConcurrentComments: counters equal COUNT(*) after parallel creates
// and deletes.
func TestConcurrentComments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("cc_owner")
	token, _ := e.register("cc_writer")
	id := e.video(owner, dbtest.VideoOpts{})
	ids := make([]string, 30)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(req{method: "POST", path: "/v1/comments/videos/" + id, token: token, body: map[string]any{"content": fmt.Sprint("c", i)}})
			ids[i], _ = res.Body["id"].(string)
		}()
	}
	wg.Wait()
	for _, cid := range ids[:10] {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.do(req{method: "DELETE", path: "/v1/comments/" + cid, token: token})
			}()
		}
	}
	wg.Wait()
	var counter, rows int
	ctx := context.Background()
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT comment_count FROM videos WHERE id = $1", id).Scan(&counter))
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT count(*) FROM comments WHERE video_id = $1", id).Scan(&rows))
	require.Equal(t, 20, rows)
	require.Equal(t, rows, counter)
}
