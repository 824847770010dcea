package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

type notifyEnv struct {
	t     *testing.T
	store *db.Store
	env   *testEnv
}

func newNotifyEnv(t *testing.T) *notifyEnv {
	t.Helper()
	e := newEnv(t)
	return &notifyEnv{t: t, store: e.store, env: e}
}

// user creates an account and a token for it.
func (e *notifyEnv) user() (db.User, string) {
	e.t.Helper()
	u := dbtest.CreateUser(e.t, e.store, dbtest.UserOpts{})
	return u, e.env.tokenFor(u.ID)
}

type notifyResponse struct {
	Status int
	Header http.Header
	Raw    string
	Body   map[string]any
}

// do sends one request through the shared harness (which validates the
// response against api/openapi.yaml).
func (e *notifyEnv) do(method, path, token string, body any) notifyResponse {
	e.t.Helper()
	res := e.env.do(req{method: method, path: path, token: token, body: body})
	return notifyResponse{Status: res.Status, Header: res.Header, Raw: string(res.Raw), Body: res.Body}
}

// seed makes actor like owner's video and follow owner, and delivers both
// notifications; it returns the video id and the two notifications, newest
// (the follow) first.
func (e *notifyEnv) seed(owner, actor db.User) (uuid.UUID, []db.NotificationView) {
	e.t.Helper()
	ctx := context.Background()
	videoID := dbtest.Video(e.t, e.store, dbtest.VideoOpts{Owner: owner.ID, Caption: "my cat", NoMedia: true}).ID
	dbtest.Like(e.t, e.store, dbtest.LikeOpts{User: actor.ID, Video: videoID})
	dbtest.Follow(e.t, e.store, dbtest.FollowOpts{Follower: actor.ID, Following: owner.ID})
	like, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationLike, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &videoID})
	require.NoError(e.t, err)
	follow, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationFollow, RecipientID: owner.ID, ActorID: &actor.ID})
	require.NoError(e.t, err)
	require.True(e.t, like.Inserted && follow.Inserted)
	return videoID, []db.NotificationView{follow.Notification, like.Notification}
}

func actorJSON(u db.User) map[string]any {
	return map[string]any{"id": u.ID.String(), "username": u.Username, "display_name": *u.DisplayName,
		"profile_image_url": nil, "profile_image": nil}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestNotificationRoutes(t *testing.T) {
	t.Parallel()

	t.Run("RequireAuth", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		for _, r := range []struct{ method, path string }{
			{"GET", "/v1/notifications"}, {"GET", "/v1/notifications/"}, {"GET", "/v1/notifications/unread-count"},
			{"PATCH", "/v1/notifications/" + uuid.NewString() + "/read"}, {"PATCH", "/v1/notifications/read-all"},
			{"POST", "/v1/notifications/batch-mark-read"}, {"GET", "/v1/notifications/settings"},
			{"PATCH", "/v1/notifications/settings"},
		} {
			res := e.do(r.method, r.path, "", nil)
			require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s", r.method, r.path)
			require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		actor, _ := e.user()

		res := e.do("GET", "/v1/notifications/", tok, nil)
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, map[string]any{"notifications": []any{}, "total": float64(0), "unread_count": float64(0),
			"page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)

		videoID, ns := e.seed(owner, actor)
		followJSON := map[string]any{
			"id": ns[0].ID.String(), "type": "follow", "actor": actorJSON(actor), "video": nil, "target_id": nil,
			"actors": []any{actorJSON(actor)}, "count": float64(1), "seq": float64(ns[0].Seq),
			"message": *actor.DisplayName + " started following you", "is_read": false, "created_at": stamp(ns[0].CreatedAt),
		}
		likeJSON := map[string]any{
			"id": ns[1].ID.String(), "type": "like", "actor": actorJSON(actor),
			"actors": []any{actorJSON(actor)}, "count": float64(1), "seq": float64(ns[1].Seq),
			"video":     map[string]any{"id": videoID.String(), "thumbnail_url": nil, "caption": "my cat"},
			"target_id": videoID.String(), "message": *actor.DisplayName + " liked your video",
			"is_read": false, "created_at": stamp(ns[1].CreatedAt),
		}
		res = e.do("GET", "/v1/notifications", tok, nil)
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, map[string]any{"notifications": []any{followJSON, likeJSON}, "total": float64(2),
			"unread_count": float64(2), "page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)

		res = e.do("GET", "/v1/notifications?page=1&page_size=1", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{followJSON}, "total": float64(2),
			"unread_count": float64(2), "page": float64(1), "page_size": float64(1), "has_more": true}, res.Body)
		res = e.do("GET", "/v1/notifications?page=2&page_size=1", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{likeJSON}, "total": float64(2),
			"unread_count": float64(2), "page": float64(2), "page_size": float64(1), "has_more": false}, res.Body)

		// Someone else sees none of them.
		_, otherTok := e.user()
		res = e.do("GET", "/v1/notifications", otherTok, nil)
		require.Equal(t, float64(0), res.Body["total"])

		// A block hides the actor's notifications from list and counts.
		dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: owner.ID, Blocked: actor.ID})
		res = e.do("GET", "/v1/notifications", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{}, "total": float64(0), "unread_count": float64(0),
			"page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)
	})

	t.Run("Groups", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		videoID := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner.ID, Caption: "my cat", NoMedia: true}).ID
		like := func(u db.User) db.NotificationView {
			t.Helper()
			dbtest.Like(t, e.store, dbtest.LikeOpts{User: u.ID, Video: videoID})
			d, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationLike, RecipientID: owner.ID, ActorID: &u.ID, VideoID: &videoID})
			require.NoError(t, err)
			return d.Notification
		}
		likers := make([]db.User, 3)
		var g db.NotificationView
		for i := range likers {
			likers[i], _ = e.user()
			g = like(likers[i])
		}
		groupJSON := map[string]any{
			"id": g.ID.String(), "type": "like", "actor": actorJSON(likers[2]),
			"actors": []any{actorJSON(likers[2]), actorJSON(likers[1]), actorJSON(likers[0])},
			"count":  float64(3), "seq": float64(g.Seq),
			"video":     map[string]any{"id": videoID.String(), "thumbnail_url": nil, "caption": "my cat"},
			"target_id": videoID.String(), "message": *likers[2].DisplayName + " and 2 others liked your video",
			"is_read": false, "created_at": stamp(g.CreatedAt),
		}
		res := e.do("GET", "/v1/notifications", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{groupJSON}, "total": float64(1),
			"unread_count": float64(1), "page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)
		res = e.do("GET", "/v1/notifications/unread-count", tok, nil)
		require.Equal(t, map[string]any{"unread_count": float64(1)}, res.Body, "a group of three is one unread item")

		// Reading the group reads all three; the next like starts a new group.
		res = e.do("PATCH", "/v1/notifications/"+g.ID.String()+"/read", tok, nil)
		require.Equal(t, http.StatusOK, res.Status, res.Raw)
		require.Equal(t, true, res.Body["is_read"])
		require.Equal(t, float64(3), res.Body["count"])
		fourth, _ := e.user()
		g2 := like(fourth)
		require.NotEqual(t, g.ID, g2.ID)
		res = e.do("GET", "/v1/notifications", tok, nil)
		list := res.Body["notifications"].([]any)
		require.Len(t, list, 2)
		require.Equal(t, g2.ID.String(), list[0].(map[string]any)["id"], "newest first")
		require.Equal(t, float64(1), list[0].(map[string]any)["count"])
		require.Equal(t, float64(1), res.Body["unread_count"])
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{"notification_ids": []string{g.ID.String(), g2.ID.String()}})
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(0)}, res.Body)

		// A blocked actor leaves the group's actors and count; a group of
		// blocked actors only is hidden.
		dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: owner.ID, Blocked: likers[2].ID})
		res = e.do("GET", "/v1/notifications", tok, nil)
		list = res.Body["notifications"].([]any)
		require.Len(t, list, 2)
		grp := list[1].(map[string]any)
		require.Equal(t, float64(2), grp["count"])
		require.Equal(t, actorJSON(likers[1]), grp["actor"])
		require.Equal(t, []any{actorJSON(likers[1]), actorJSON(likers[0])}, grp["actors"])
		require.Equal(t, *likers[1].DisplayName+" and 1 other liked your video", grp["message"])
		dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: fourth.ID, Blocked: owner.ID})
		res = e.do("GET", "/v1/notifications", tok, nil)
		require.Equal(t, float64(1), res.Body["total"], "the group of the blocked user only is hidden")
		res = e.do("PATCH", "/v1/notifications/"+g2.ID.String()+"/read", tok, nil)
		require.Equal(t, http.StatusNotFound, res.Status)
	})

	t.Run("ListValidation", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		_, tok := e.user()
		for _, q := range []string{"page=0", "page=abc", "page_size=0", "page_size=101", "page=100001"} {
			res := e.do("GET", "/v1/notifications?"+q, tok, nil)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, q)
			require.Equal(t, "validation_error", res.Body["code"], q)
		}
	})

	t.Run("ReadOneAndCounts", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		actor, actorTok := e.user()
		_, ns := e.seed(owner, actor)

		res := e.do("GET", "/v1/notifications/unread-count", tok, nil)
		require.Equal(t, map[string]any{"unread_count": float64(2)}, res.Body)

		for range 2 { // idempotent
			res = e.do("PATCH", "/v1/notifications/"+ns[0].ID.String()+"/read", tok, nil)
			require.Equal(t, http.StatusOK, res.Status, res.Raw)
			require.Equal(t, map[string]any{
				"id": ns[0].ID.String(), "type": "follow", "actor": actorJSON(actor), "video": nil, "target_id": nil,
				"actors": []any{actorJSON(actor)}, "count": float64(1), "seq": float64(ns[0].Seq),
				"message": *actor.DisplayName + " started following you", "is_read": true, "created_at": stamp(ns[0].CreatedAt),
			}, res.Body)
		}
		res = e.do("GET", "/v1/notifications/unread-count", tok, nil)
		require.Equal(t, map[string]any{"unread_count": float64(1)}, res.Body)

		res = e.do("PATCH", "/v1/notifications/"+ns[1].ID.String()+"/read", actorTok, nil)
		require.Equal(t, http.StatusNotFound, res.Status, "someone else's notification")
		require.Equal(t, "Notification not found", res.Body["detail"])
		res = e.do("PATCH", "/v1/notifications/"+uuid.NewString()+"/read", tok, nil)
		require.Equal(t, http.StatusNotFound, res.Status)
		res = e.do("PATCH", "/v1/notifications/not-a-uuid/read", tok, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)

		res = e.do("PATCH", "/v1/notifications/read-all", tok, nil)
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(0)}, res.Body)
		res = e.do("PATCH", "/v1/notifications/read-all", tok, nil)
		require.Equal(t, map[string]any{"updated": float64(0), "unread_count": float64(0)}, res.Body)
	})

	t.Run("BatchMarkRead", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		actor, actorTok := e.user()
		_, ns := e.seed(owner, actor)

		res := e.do("POST", "/v1/notifications/batch-mark-read", actorTok, map[string]any{"notification_ids": []string{ns[0].ID.String()}})
		require.Equal(t, map[string]any{"updated": float64(0), "unread_count": float64(0)}, res.Body, "others' ids are ignored")
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{
			"notification_ids": []string{ns[0].ID.String(), uuid.NewString()}})
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(1)}, res.Body)
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{
			"notification_ids": []string{ns[0].ID.String(), ns[1].ID.String()}})
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(0)}, res.Body, "only unread ones count")
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{"notification_ids": []string{}})
		require.Equal(t, map[string]any{"updated": float64(0), "unread_count": float64(0)}, res.Body)

		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = uuid.NewString()
		}
		for name, body := range map[string]any{
			"TooMany": map[string]any{"notification_ids": tooMany},
			"BadID":   map[string]any{"notification_ids": []string{"nope"}},
			"Missing": map[string]any{},
			"NotList": map[string]any{"notification_ids": "x"},
			"Empty":   "",
			"Broken":  "{",
		} {
			res := e.do("POST", "/v1/notifications/batch-mark-read", tok, body)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, name)
			require.Equal(t, "validation_error", res.Body["code"], name)
		}
	})

	t.Run("Settings", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		_, tok := e.user()
		res := e.do("GET", "/v1/notifications/settings", tok, nil)
		require.Equal(t, map[string]any{"likes": true, "comments": true, "follows": true, "glitches": true,
			"ai_jobs": true, "email": true, "updated_at": nil}, res.Body)

		res = e.do("PATCH", "/v1/notifications/settings", tok, map[string]any{"likes": false, "email": false, "unknown": 1})
		require.Equal(t, http.StatusOK, res.Status, res.Raw)
		updatedAt, ok := res.Body["updated_at"].(string)
		require.True(t, ok, res.Raw)
		_, err := time.Parse(time.RFC3339Nano, updatedAt)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"likes": false, "comments": true, "follows": true, "glitches": true,
			"ai_jobs": true, "email": false, "updated_at": updatedAt}, res.Body)

		res = e.do("PATCH", "/v1/notifications/settings", tok, map[string]any{"likes": true, "ai_jobs": false})
		require.Equal(t, false, res.Body["email"], "absent toggles are unchanged")
		require.Equal(t, true, res.Body["likes"])
		require.Equal(t, false, res.Body["ai_jobs"])
		res = e.do("GET", "/v1/notifications/settings", tok, nil)
		require.Equal(t, false, res.Body["ai_jobs"])

		for name, body := range map[string]any{
			"String": map[string]any{"likes": "no"},
			"Number": map[string]any{"email": 0},
			"Null":   map[string]any{"follows": nil},
			"Array":  "[]",
			"Empty":  "",
		} {
			res := e.do("PATCH", "/v1/notifications/settings", tok, body)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, name)
			require.Equal(t, "validation_error", res.Body["code"], name)
		}
	})
}
