package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

func TestMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, id := e.register("selfie")

	for _, path := range []string{"/v1/auth/me", "/v1/users/me", "/v1/users/me/"} {
		res := e.do(req{method: "GET", path: path, token: token})
		require.Equal(t, http.StatusOK, res.Status, path)
		require.Equal(t, id, res.Body["id"], path)
		require.Equal(t, float64(100), res.Body["credits"])
	}
	res := e.do(req{method: "GET", path: "/v1/users/me"})
	require.Equal(t, http.StatusUnauthorized, res.Status, "B-01: /users/me is a route of its own, not {user_id}")
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, id := e.register("editor")

	t.Run("SetsFieldsAtBothPaths", func(t *testing.T) {
		res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{
			"display_name": "에디터 ✨", "bio": "line one\nline two"}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, "에디터 ✨", res.Body["display_name"])
		require.Equal(t, "line one\nline two", res.Body["bio"])

		res = e.do(req{method: "PATCH", path: "/v1/auth/me", token: token, body: map[string]any{"bio": "<b>kept verbatim</b>"}})
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, "에디터 ✨", res.Body["display_name"], "an absent field is unchanged")
		require.Equal(t, "<b>kept verbatim</b>", res.Body["bio"])

		var bio string
		require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT bio FROM users WHERE id = $1", id).Scan(&bio))
		require.Equal(t, "<b>kept verbatim</b>", bio)
	})

	t.Run("NullClears", func(t *testing.T) {
		res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: `{"bio": null, "profile_image_url": ""}`})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Nil(t, res.Body["bio"])
		require.Nil(t, res.Body["profile_image_url"])
		require.Equal(t, "에디터 ✨", res.Body["display_name"])
	})

	t.Run("UsernameAndEmailAreNotEditable", func(t *testing.T) {
		res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{
			"username": "hijack", "email": "hijack@example.com"}})
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, "editor", res.Body["username"])
		require.Equal(t, "editor@example.com", res.Body["email"])
	})

	t.Run("Validation", func(t *testing.T) {
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"LongDisplayName", map[string]any{"display_name": strings.Repeat("가", 101)}, "display_name"},
			{"LongBio", map[string]any{"bio": strings.Repeat("b", 501)}, "bio"},
			{"ControlChars", map[string]any{"display_name": "a\u0007b"}, "display_name"},
			{"WrongType", map[string]any{"bio": 12}, "bio"},
			{"ForeignImageURL", map[string]any{"profile_image_url": "https://evil.example.com/x.png"}, "profile_image_url"},
			{"ForeignImageAlias", map[string]any{"profile_image": "https://evil.example.com/x.png"}, "profile_image_url"},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: tt.body})
				require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
				require.Equal(t, []any{"body", tt.field}, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
			})
		}
		res := e.do(req{method: "GET", path: "/v1/users/me", token: token})
		require.Equal(t, "에디터 ✨", res.Body["display_name"], "a rejected update changed nothing")
	})

	t.Run("RequiresAuth", func(t *testing.T) {
		res := e.do(req{method: "PATCH", path: "/v1/users/me", body: map[string]any{"bio": "x"}})
		require.Equal(t, http.StatusUnauthorized, res.Status)
	})
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aliceToken, alice := e.register("alice")
	bobToken, bob := e.register("bob")

	// bob follows alice; alice has one public, one private and one deleted video.
	dbtest.Follow(t, e.store, dbtest.FollowOpts{Follower: uuid.MustParse(bob), Following: uuid.MustParse(alice)})
	e.video(alice, dbtest.VideoOpts{LikeCount: 5})
	e.video(alice, dbtest.VideoOpts{Private: true, LikeCount: 7})
	e.video(alice, dbtest.VideoOpts{Deleted: true, LikeCount: 11})

	t.Run("Anonymous", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/users/" + alice})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, map[string]any{
			"id": alice, "username": "alice", "display_name": "alice", "bio": nil,
			"profile_image_url": nil, "profile_image": nil,
			"follower_count": float64(1), "following_count": float64(0),
			"video_count": float64(1), "total_likes": float64(5), "like_count": float64(5),
			"is_following": false, "is_me": false, "created_at": res.Body["created_at"],
		}, res.Body)
	})
	t.Run("FollowerSeesIsFollowing", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/users/" + alice, token: bobToken})
		require.Equal(t, true, res.Body["is_following"])
	})
	t.Run("OwnerCountsPrivateVideos", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/users/" + alice, token: aliceToken})
		require.Equal(t, float64(2), res.Body["video_count"])
		require.Equal(t, float64(12), res.Body["total_likes"])
		require.Equal(t, true, res.Body["is_me"])
	})
	t.Run("LenientUUIDSpelling", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/users/" + strings.ToUpper(strings.ReplaceAll(alice, "-", ""))})
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, alice, res.Body["id"])
	})
	t.Run("NotFound", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/users/" + uuid.NewString()})
		require.Equal(t, http.StatusNotFound, res.Status)
		require.Equal(t, "User not found", errorDetail(res))
	})
	t.Run("BadID", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/users/not-a-uuid"})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
		require.Equal(t, []any{"path", "user_id"}, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
	})
	t.Run("BlockedEitherWayIsNotFound", func(t *testing.T) {
		carolToken, carol := e.register("carol")
		dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: uuid.MustParse(alice), Blocked: uuid.MustParse(carol)})
		require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/users/" + alice, token: carolToken}).Status)
		require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/users/" + carol, token: aliceToken}).Status)
		require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/users/" + carol}).Status, "anonymous still sees carol")
	})
	t.Run("InvalidTokenIsRefused", func(t *testing.T) {
		// A token that is sent is checked, also where none is needed: a
		// bad one is 401, never an anonymous answer.
		res := e.do(req{method: "GET", path: "/v1/users/" + alice, token: "garbage"})
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
	})
}

func TestBatchUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, alice := e.register("batch_a")
	bobToken, bob := e.register("batch_b")
	_, carol := e.register("batch_c")
	dbtest.Follow(t, e.store, dbtest.FollowOpts{Follower: uuid.MustParse(bob), Following: uuid.MustParse(alice)})
	dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: uuid.MustParse(carol), Blocked: uuid.MustParse(bob)})
	unknown := uuid.NewString()

	res := e.do(req{method: "POST", path: "/v1/users/batch-info", token: bobToken, body: map[string]any{
		"user_ids": []string{alice, strings.ToUpper(alice), carol, unknown}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	users := res.Body["users"].(map[string]any)
	require.Len(t, users, 1, "unknown and blocked ids are omitted, duplicates collapse")
	a := users[alice].(map[string]any)
	require.Equal(t, map[string]any{
		"id": alice, "username": "batch_a", "display_name": "batch_a", "profile_image_url": nil, "profile_image": nil,
		"bio": nil, "follower_count": float64(1), "following_count": float64(0), "video_count": float64(0),
		"is_following": true, "is_verified": false,
	}, a)

	res = e.do(req{method: "POST", path: "/v1/users/batch-info", body: map[string]any{"user_ids": []string{alice, carol}}})
	require.Len(t, res.Body["users"].(map[string]any), 2, "anonymous callers see both")
	require.Equal(t, false, res.Body["users"].(map[string]any)[alice].(map[string]any)["is_following"])

	res = e.do(req{method: "POST", path: "/v1/users/batch-info", body: map[string]any{"user_ids": []string{}}})
	require.Equal(t, http.StatusOK, res.Status)
	require.Empty(t, res.Body["users"])

	t.Run("Validation", func(t *testing.T) {
		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = uuid.NewString()
		}
		cases := []struct {
			name string
			body any
			loc  []any
		}{
			{"TooMany", map[string]any{"user_ids": tooMany}, []any{"body", "user_ids"}},
			{"Missing", map[string]any{}, []any{"body", "user_ids"}},
			{"BadID", map[string]any{"user_ids": []string{alice, "nope"}}, []any{"body", "user_ids", float64(1)}},
			{"NotArray", map[string]any{"user_ids": "x"}, []any{"body", "user_ids"}},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(req{method: "POST", path: "/v1/users/batch-info", body: tt.body})
				require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
				require.Equal(t, tt.loc, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
			})
		}
	})
}
