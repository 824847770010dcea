package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func TestLikes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("liked_owner")
	token, me := e.register("liker")
	id := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})

	res := e.do(req{method: "POST", path: "/v1/likes/videos/" + id, token: token})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, me, res.Body["user_id"])
	require.Equal(t, float64(1), res.Body["like_count"])
	likeID := res.Body["id"]
	res = e.do(req{method: "POST", path: "/v1/likes/videos/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status, "a repeated like is a no-op")
	require.Equal(t, likeID, res.Body["id"])
	require.Equal(t, float64(1), res.Body["like_count"])

	require.Equal(t, true, e.do(req{method: "GET", path: "/v1/likes/videos/" + id + "/check", token: token}).Body["liked"])
	unknown := uuid.NewString()
	res = e.do(req{method: "POST", path: "/v1/likes/check-batch", token: token, body: map[string]any{"video_ids": []string{id, private, unknown}}})
	require.Equal(t, map[string]any{id: true, private: false, unknown: false}, res.Body["liked_videos"])

	require.Equal(t, float64(1), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["like_count"])
	res = e.do(req{method: "GET", path: "/v1/users/" + me + "/liked-videos", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["videos"], 1)
	require.Equal(t, http.StatusForbidden, e.do(req{method: "GET", path: "/v1/users/" + me + "/liked-videos", token: ownerToken}).Status,
		"liked videos are visible only to their owner")
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/users/" + me + "/liked-videos"}).Status)

	res = e.do(req{method: "DELETE", path: "/v1/likes/videos/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, float64(0), res.Body["like_count"])
	res = e.do(req{method: "DELETE", path: "/v1/likes/videos/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status, "unliking twice is a no-op")
	require.Equal(t, float64(0), res.Body["like_count"])

	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/likes/videos/" + private, token: token}).Status,
		"an invisible video cannot be liked")
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/likes/videos/" + unknown, token: token}).Status)
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "POST", path: "/v1/likes/videos/" + id}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/likes/check-batch", token: token,
		body: map[string]any{"video_ids": []string{"x"}}}).Status)
}

// TestConcurrentLikes: 50 users like one video at once, each twice; the
// counter ends at 50 and equals COUNT(*) of the likes.
func TestConcurrentLikes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("popular")
	id := e.video(owner, dbtest.VideoOpts{})
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i], _ = e.register(fmt.Sprintf("fan%02d", i))
	}
	var wg sync.WaitGroup
	for _, tok := range tokens {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.do(req{method: "POST", path: "/v1/likes/videos/" + id, token: tok})
				if res.Status != http.StatusCreated && res.Status != http.StatusOK {
					t.Errorf("like: %d %s", res.Status, res.Raw)
				}
			}()
		}
	}
	wg.Wait()
	var counter, rows int
	ctx := context.Background()
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT like_count FROM videos WHERE id = $1", id).Scan(&counter))
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT count(*) FROM likes WHERE video_id = $1", id).Scan(&rows))
	require.Equal(t, 50, counter)
	require.Equal(t, 50, rows)

	// Half unlike at once, twice each.
	for _, tok := range tokens[:25] {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.do(req{method: "DELETE", path: "/v1/likes/videos/" + id, token: tok})
			}()
		}
	}
	wg.Wait()
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT like_count FROM videos WHERE id = $1", id).Scan(&counter))
	require.NoError(t, e.store.Pool().QueryRow(ctx, "SELECT count(*) FROM likes WHERE video_id = $1", id).Scan(&rows))
	require.Equal(t, 25, counter)
	require.Equal(t, counter, rows)
}
