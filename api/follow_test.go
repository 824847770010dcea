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

func TestFollows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aToken, a := e.register("follow_a")
	bToken, b := e.register("follow_b")
	cToken, c := e.register("follow_c")

	res := e.do(req{method: "POST", path: "/v1/follows/users/" + b, token: aToken})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, a, res.Body["follower"].(map[string]any)["id"])
	require.Equal(t, b, res.Body["following"].(map[string]any)["id"])
	res = e.do(req{method: "POST", path: "/v1/follows/users/" + b, token: aToken})
	require.Equal(t, http.StatusOK, res.Status, "following twice is a no-op")
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + b, token: cToken}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + c, token: aToken}).Status)

	res = e.do(req{method: "POST", path: "/v1/follows/users/" + a, token: aToken})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "Cannot follow yourself", errorDetail(res))
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/follows/users/" + uuid.NewString(), token: aToken}).Status)

	require.Equal(t, true, e.do(req{method: "GET", path: "/v1/follows/users/" + b + "/check", token: aToken}).Body["following"])
	res = e.do(req{method: "POST", path: "/v1/follows/check-batch", token: aToken, body: map[string]any{"user_ids": []string{b, c, a}}})
	require.Equal(t, map[string]any{b: true, c: true, a: false}, res.Body["following_users"])

	// b's followers, as c sees them: a (whom c does not follow) and c.
	res = e.do(req{method: "GET", path: "/v1/follows/users/" + b + "/followers", token: cToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	follows := res.Body["follows"].([]any)
	require.Len(t, follows, 2)
	first := follows[0].(map[string]any)
	require.Equal(t, c, first["user"].(map[string]any)["id"], "newest first")
	require.Equal(t, b, first["following"].(map[string]any)["id"])
	require.Equal(t, a, follows[1].(map[string]any)["user"].(map[string]any)["id"])

	res = e.do(req{method: "GET", path: "/v1/follows/users/" + a + "/following?page=1&page_size=1"})
	require.Len(t, res.Body["follows"], 1)
	require.Equal(t, true, res.Body["has_more"])
	res = e.do(req{method: "GET", path: "/v1/follows/users/" + a + "/following?page=2&page_size=1"})
	require.Len(t, res.Body["follows"], 1)
	require.Equal(t, false, res.Body["has_more"])
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/follows/users/" + a + "/following?page=0"}).Status)

	// Profile counts follow the follows table.
	profile := e.do(req{method: "GET", path: "/v1/users/" + b, token: aToken}).Body
	require.Equal(t, float64(2), profile["follower_count"])
	require.Equal(t, true, profile["is_following"])

	res = e.do(req{method: "DELETE", path: "/v1/follows/users/" + b, token: aToken})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "DELETE", path: "/v1/follows/users/" + b, token: aToken}).Status, "unfollowing twice is a no-op")
	require.Equal(t, false, e.do(req{method: "GET", path: "/v1/follows/users/" + b + "/check", token: aToken}).Body["following"])
	_ = bToken
}

// TestFollowStorm: 20 users follow and unfollow one user in parallel; the
// end state is whatever each user's last request said, and counts agree
// with the follows table.
func TestFollowStorm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, star := e.register("storm_star")
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i], _ = e.register(fmt.Sprintf("storm%02d", i))
	}
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 6 {
				method := "POST"
				if j%2 == 1 {
					method = "DELETE"
				}
				e.do(req{method: method, path: "/v1/follows/users/" + star, token: tok})
			}
			if i%2 == 0 { // even users end following
				e.do(req{method: "POST", path: "/v1/follows/users/" + star, token: tok})
			}
		}()
	}
	wg.Wait()
	var rows int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM follows WHERE following_id = $1", star).Scan(&rows))
	require.Equal(t, 10, rows)
	require.Equal(t, float64(10), e.do(req{method: "GET", path: "/v1/users/" + star}).Body["follower_count"])
}

// TestBlockMatrix: after A blocks B, the reads and actions that exist so far
// between them fail both ways, and the follows between them are gone.
func TestBlockMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aToken, a := e.register("matrix_a")
	bToken, b := e.register("matrix_b")
	aVideo := e.video(a, dbtest.VideoOpts{})
	bVideo := e.video(b, dbtest.VideoOpts{})
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + a, token: bToken}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + b, token: aToken}).Status)

	res := e.do(req{method: "POST", path: "/v1/blocks/users/" + b, token: aToken})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, b, res.Body["blocked_id"])
	require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: "/v1/moderation/block", token: aToken,
		body: map[string]any{"blocked_user_id": b}}).Status, "blocking twice (either path) is a no-op")

	var follows int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM follows WHERE (follower_id = $1 AND following_id = $2) OR (follower_id = $2 AND following_id = $1)", a, b).Scan(&follows))
	require.Zero(t, follows, "a block ends the follows both ways")

	type probe struct {
		name, method, path, token string
		want                      int
	}
	for _, p := range []probe{
		{"BSeesAProfile", "GET", "/v1/users/" + a, bToken, 404},
		{"ASeesBProfile", "GET", "/v1/users/" + b, aToken, 404},
		{"BSeesAVideo", "GET", "/v1/videos/" + aVideo, bToken, 404},
		{"ASeesBVideo", "GET", "/v1/videos/" + bVideo, aToken, 404},
		{"BListsAVideos", "GET", "/v1/users/" + a + "/videos", bToken, 404},
		{"BLikesAVideo", "POST", "/v1/likes/videos/" + aVideo, bToken, 404},
		{"ALikesBVideo", "POST", "/v1/likes/videos/" + bVideo, aToken, 404},
		{"BViewsAVideo", "POST", "/v1/videos/" + aVideo + "/view", bToken, 404},
		{"BFollowsA", "POST", "/v1/follows/users/" + a, bToken, 404},
		{"AFollowsB", "POST", "/v1/follows/users/" + b, aToken, 404},
		{"BListsAFollowers", "GET", "/v1/follows/users/" + a + "/followers", bToken, 404},
	} {
		t.Run(p.name, func(t *testing.T) {
			res := e.do(req{method: p.method, path: p.path, token: p.token})
			require.Equal(t, p.want, res.Status, "%s", res.Raw)
		})
	}
	// A's video is absent from B's public list; others still see it.
	for _, v := range e.do(req{method: "GET", path: "/v1/videos", token: bToken}).Body["videos"].([]any) {
		require.NotEqual(t, aVideo, v.(map[string]any)["id"])
	}
	res = e.do(req{method: "POST", path: "/v1/users/batch-info", token: bToken, body: map[string]any{"user_ids": []string{a}}})
	require.Empty(t, res.Body["users"])
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/videos/" + aVideo}).Status, "anonymous still sees it")

	res = e.do(req{method: "GET", path: "/v1/moderation/is-blocked/" + b, token: aToken})
	require.Equal(t, map[string]any{"is_blocked": true, "blocked_by": false}, res.Body)
	res = e.do(req{method: "GET", path: "/v1/moderation/is-blocked/" + a, token: bToken})
	require.Equal(t, map[string]any{"is_blocked": false, "blocked_by": true}, res.Body, "both directions are reported")

	for _, path := range []string{"/v1/blocks", "/v1/blocks/", "/v1/moderation/blocks"} {
		res = e.do(req{method: "GET", path: path, token: aToken})
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, float64(1), res.Body["total"])
		require.Equal(t, "matrix_b", res.Body["blocks"].([]any)[0].(map[string]any)["blocked_user"].(map[string]any)["username"])
	}

	// B can still block A back (a block is possible against someone who blocked you).
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + a, token: bToken}).Status)

	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/blocks/users/" + b, token: aToken}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/moderation/block/" + b, token: aToken}).Status, "idempotent")
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/blocks/users/" + a, token: bToken}).Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/users/" + a, token: bToken}).Status, "unblocked: visible again")

	require.Equal(t, http.StatusBadRequest, e.do(req{method: "POST", path: "/v1/blocks/users/" + a, token: aToken}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/blocks/users/" + uuid.NewString(), token: aToken}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "POST", path: "/v1/moderation/block", token: aToken, body: map[string]any{}}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/blocks?limit=0", token: aToken}).Status)
}
