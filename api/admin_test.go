package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/realtime"
	"github.com/lokiz/lokiz/session"
	"github.com/lokiz/lokiz/tasks"
)

// adminToken makes an admin (as `lokiz admin create` does) and signs in.
func (e *testEnv) adminToken(t *testing.T) (uuid.UUID, string) {
	t.Helper()
	u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	return u.ID, e.tokenFor(u.ID)
}

// TestAdminRoutesAreForAdminsOnly: every admin route is 401 signed out,
// 403 for a signed-in user, 403 for an admin's API key, 200 for an admin.
func TestAdminRoutesAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	userToken, _ := e.register("adm_plain")
	_, owner := e.register("adm_owner")
	video := e.video(owner, dbtest.VideoOpts{})
	keyAdmin, keyAdminToken := e.enterpriseUser(t, nil)
	_, err := e.store.UserSetRole(ctx, db.UserSetRoleParams{ID: keyAdmin, Role: lokiz.RoleAdmin})
	require.NoError(t, err)
	apiKey, _ := e.newAPIKey(t, keyAdminToken, "admin key")
	_, adminToken := e.adminToken(t)

	routes := []struct {
		method, path string
		body         map[string]any
	}{
		{"GET", "/v1/admin/audit", nil},
		{"PATCH", "/v1/admin/users/" + owner + "/ban", map[string]any{"reason": "spam"}},
		{"PATCH", "/v1/admin/users/" + owner + "/unban", map[string]any{"reason": "appeal"}},
		{"PATCH", "/v1/admin/videos/" + video + "/remove", map[string]any{"reason": "copyright"}},
		{"PATCH", "/v1/admin/videos/" + video + "/restore", map[string]any{"reason": "counter-notice"}},
	}
	for _, r := range routes {
		res := e.do(req{method: r.method, path: r.path, body: r.body})
		require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s signed out: %s", r.method, r.path, res.Raw)
		res = e.do(req{method: r.method, path: r.path, body: r.body, token: userToken})
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s as a user: %s", r.method, r.path, res.Raw)
		require.Equal(t, "admin_only", reason(res))
		res = e.do(req{method: r.method, path: r.path, body: r.body, token: apiKey})
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s with an admin's API key: %s", r.method, r.path, res.Raw)
		res = e.do(req{method: r.method, path: r.path, body: r.body, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s %s as an admin: %s", r.method, r.path, res.Raw)
	}
}

// TestEveryAdminRouteRefusesNonAdmins walks the router instead of a list,
// so an admin route added later is covered without being named here: every
// route under /v1/admin is 401 signed out, 403 admin_only for a signed-in
// user and 403 for an admin's API key, before it reads its parameters.
func TestEveryAdminRouteRefusesNonAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	userToken, _ := e.register("adm_walker")
	keyAdmin, keyAdminToken := e.enterpriseUser(t, nil)
	_, err := e.store.UserSetRole(ctx, db.UserSetRoleParams{ID: keyAdmin, Role: lokiz.RoleAdmin})
	require.NoError(t, err)
	apiKey, _ := e.newAPIKey(t, keyAdminToken, "admin key")

	param := regexp.MustCompile(`[:*][a-z_]+`)
	seen := 0
	for _, r := range e.srv.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/admin/") || r.Method == "HEAD" {
			continue
		}
		seen++
		path := param.ReplaceAllString(r.Path, uuid.NewString())
		body := map[string]any{"reason": "walk"}
		res := e.do(req{method: r.Method, path: path, body: body})
		require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s signed out: %s", r.Method, r.Path, res.Raw)
		res = e.do(req{method: r.Method, path: path, body: body, token: userToken})
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s as a user: %s", r.Method, r.Path, res.Raw)
		require.Equal(t, "admin_only", reason(res), "%s %s", r.Method, r.Path)
		res = e.do(req{method: r.Method, path: path, body: body, token: apiKey})
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s with an admin's API key: %s", r.Method, r.Path, res.Raw)
		require.Equal(t, "api_key_not_allowed", reason(res), "%s %s", r.Method, r.Path)
	}
	require.GreaterOrEqual(t, seen, 5, "the admin routes are found under /v1/admin/")
}

// TestNoRouteChangesARole: a role in a profile update is ignored.
func TestNoRouteChangesARole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, id := e.register("adm_climber")
	res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"role": "admin", "bio": "hi"}})
	require.Less(t, res.Status, 500, "%s", res.Raw)
	u, err := e.store.UserByID(context.Background(), uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, lokiz.RoleUser, u.Role)
	res = e.do(req{method: "GET", path: "/v1/admin/audit", token: token})
	require.Equal(t, http.StatusForbidden, res.Status)
}

// TestBanEndsSessionsHidesContentAndUnbanRestores drives a ban through the
// api: the revocation is published, the token stops working, login is
// refused with account_banned and the end of the ban, the user's video,
// comment and like leave the reads and counts; the unban brings them back.
func TestBanEndsSessionsHidesContentAndUnbanRestores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	adminID, adminToken := e.adminToken(t)
	viewerToken, viewer := e.register("adm_viewer")
	badToken, bad := e.register("adm_badactor")
	e.video(bad, dbtest.VideoOpts{Caption: "zqbanned clip"})
	target := e.video(viewer, dbtest.VideoOpts{})
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + target, token: badToken}).Status)
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + target, token: badToken, body: map[string]any{"content": "zqbanned words"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)

	reads := []string{
		"/v1/videos/feed?algorithm=latest&page_size=50",
		"/v1/users/" + bad + "/videos",
		"/v1/search/videos?q=zqbanned",
		"/v1/comments/videos/" + target,
	}
	for _, p := range reads {
		res := e.do(req{method: "GET", path: p, token: viewerToken})
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", p, res.Raw)
		require.Contains(t, string(res.Raw), "zqbanned", "before the ban %s shows the user's content", p)
	}
	likeCount := func() float64 {
		res := e.do(req{method: "GET", path: "/v1/videos/" + target, token: viewerToken})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		return res.Body["like_count"].(float64)
	}
	require.Equal(t, float64(1), likeCount())

	// Bad input and refusals first.
	for _, c := range []struct {
		path   string
		body   any
		status int
	}{
		{"/v1/admin/users/not-a-uuid/ban", map[string]any{"reason": "x"}, http.StatusUnprocessableEntity},
		{"/v1/admin/users/" + bad + "/ban", map[string]any{}, http.StatusUnprocessableEntity},
		{"/v1/admin/users/" + bad + "/ban", map[string]any{"reason": "   "}, http.StatusUnprocessableEntity},
		{"/v1/admin/users/" + bad + "/ban", map[string]any{"reason": "x", "until": "yesterday"}, http.StatusUnprocessableEntity},
		{"/v1/admin/users/" + bad + "/ban", map[string]any{"reason": "x", "until": time.Now().Add(-time.Hour)}, http.StatusUnprocessableEntity},
		{"/v1/admin/users/" + uuid.NewString() + "/ban", map[string]any{"reason": "x"}, http.StatusNotFound},
		{"/v1/admin/users/" + adminID.String() + "/ban", map[string]any{"reason": "x"}, http.StatusForbidden},
		{"/v1/admin/users/" + bad + "/unban", map[string]any{"reason": "x"}, http.StatusConflict},
	} {
		res := e.do(req{method: "PATCH", path: c.path, body: c.body, token: adminToken})
		require.Equal(t, c.status, res.Status, "%s %v: %s", c.path, c.body, res.Raw)
	}

	sub := e.rdb.Subscribe(ctx, session.Channel)
	defer sub.Close()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)

	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	res = e.do(req{method: "PATCH", path: "/v1/admin/users/" + bad + "/ban", token: adminToken,
		body: map[string]any{"reason": "  spam ring  ", "until": until}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, false, res.Body["is_active"])
	require.Equal(t, "spam ring", res.Body["ban_reason"])

	// The revocation reaches Redis (the socket hub closes on it); other
	// tests publish on the shared channel, so wait for this user's event.
	deadline := time.After(5 * time.Second)
	for found := false; !found; {
		select {
		case msg := <-sub.Channel():
			ev, err := session.ParseRevoked(msg.Payload)
			require.NoError(t, err)
			if ev.UserID.String() == bad {
				require.Equal(t, db.RevokeBan, ev.Reason)
				require.NotEmpty(t, ev.SessionIDs)
				found = true
			}
		case <-deadline:
			t.Fatal("no revocation published for the banned user")
		}
	}

	res = e.do(req{method: "GET", path: "/v1/users/me", token: badToken})
	require.Equal(t, http.StatusUnauthorized, res.Status, "the banned user's token is dead: %s", res.Raw)
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "adm_badactor", "password": "password-adm_badactor"}})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	require.Equal(t, "account_banned", reason(res))
	require.Contains(t, errorDetail(res), until.Format(time.RFC3339))

	for _, p := range reads {
		res := e.do(req{method: "GET", path: p, token: viewerToken})
		require.NotContains(t, string(res.Raw), "zqbanned", "after the ban %s still shows the user's content", p)
	}
	require.Equal(t, float64(0), likeCount(), "the banned user's like leaves the count")
	res = e.do(req{method: "PATCH", path: "/v1/admin/users/" + bad + "/ban", body: map[string]any{"reason": "x"}, token: adminToken})
	require.Equal(t, http.StatusConflict, res.Status)

	res = e.do(req{method: "PATCH", path: "/v1/admin/users/" + bad + "/unban", body: map[string]any{"reason": "appeal upheld"}, token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, true, res.Body["is_active"])
	for _, p := range reads {
		res := e.do(req{method: "GET", path: p, token: viewerToken})
		require.Contains(t, string(res.Raw), "zqbanned", "after the unban %s shows the user's content again", p)
	}
	require.Equal(t, float64(1), likeCount())
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "adm_badactor", "password": "password-adm_badactor"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)

	res = e.do(req{method: "GET", path: "/v1/admin/audit?target_id=" + bad, token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	entries := res.Body["entries"].([]any)
	require.Len(t, entries, 2)
	require.Equal(t, "user.unban", entries[0].(map[string]any)["action"])
	ban := entries[1].(map[string]any)
	require.Equal(t, "user.ban", ban["action"])
	require.Equal(t, adminID.String(), ban["admin_id"])
	require.Equal(t, "spam ring", ban["reason"])
	require.NotEmpty(t, ban["request_id"])
}

// TestTimedBanEndsAtLogin: a login after the end of a timed ban lifts it.
func TestTimedBanEndsAtLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	adminID, _ := e.adminToken(t)
	_, id := e.register("adm_timed")
	until := time.Now().Add(time.Second)
	_, _, err := e.store.AdminBanUser(ctx, db.Actor{AdminID: &adminID}, db.BanParams{UserID: uuid.MustParse(id), Reason: "cool off", Until: &until})
	require.NoError(t, err)
	login := func() response {
		return e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "adm_timed", "password": "password-adm_timed"}})
	}
	res := login()
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	require.Equal(t, "account_banned", reason(res))
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	res = login()
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	u, err := e.store.UserByID(ctx, uuid.MustParse(id))
	require.NoError(t, err)
	require.True(t, u.IsActive)
	require.Nil(t, u.BannedAt)
	// The lift at login moves the user's withheld media back (the worker's
	// user:media_sync, keyed by the user and the change).
	taskID := fmt.Sprintf("%s:%s:%d", tasks.TypeUserMediaSync, id, u.UpdatedAt.UnixNano())
	_, err = asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueDefault, taskID)
	require.NoError(t, err, "user:media_sync enqueued")
}

// TestRemoveVideoKillsItsMediaAndRestoreBringsItBack: a media URL handed
// out before the removal is 404 after it; the video leaves the reads; the
// owner is told why; the restore reverses all but the notification.
func TestRemoveVideoKillsItsMediaAndRestoreBringsItBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, adminToken := e.adminToken(t)
	ownerToken, owner := e.register("adm_creator")
	viewerToken, _ := e.register("adm_watcher")
	video := e.video(owner, dbtest.VideoOpts{Caption: "zqremoved clip"})
	vid := uuid.MustParse(video)
	body := []byte("not really an mp4")
	require.NoError(t, e.storage.Put(ctx, "videos/"+video+".mp4", bytes.NewReader(body), int64(len(body)), "video/mp4"))

	res := e.do(req{method: "GET", path: "/v1/videos/" + video, token: viewerToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	mediaURL := res.Body["video_url"].(string)
	fetch := func() int {
		u, err := url.Parse(mediaURL)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest("GET", u.RequestURI(), nil))
		return rec.Code
	}
	require.Equal(t, http.StatusOK, fetch())

	for _, c := range []struct {
		path   string
		body   any
		status int
	}{
		{"/v1/admin/videos/nope/remove", map[string]any{"reason": "x"}, http.StatusUnprocessableEntity},
		{"/v1/admin/videos/" + video + "/remove", map[string]any{"reason": ""}, http.StatusUnprocessableEntity},
		{"/v1/admin/videos/" + video + "/remove", "[]", http.StatusUnprocessableEntity},
		{"/v1/admin/videos/" + uuid.NewString() + "/remove", map[string]any{"reason": "x"}, http.StatusNotFound},
		{"/v1/admin/videos/" + video + "/restore", map[string]any{"reason": "x"}, http.StatusConflict},
	} {
		res := e.do(req{method: "PATCH", path: c.path, body: c.body, token: adminToken})
		require.Equal(t, c.status, res.Status, "%s %v: %s", c.path, c.body, res.Raw)
	}

	sub := e.rdb.Subscribe(ctx, notification.Channel(uuid.MustParse(owner)))
	defer sub.Close()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)
	res = e.do(req{method: "PATCH", path: "/v1/admin/videos/" + video + "/remove", token: adminToken, body: map[string]any{"reason": "copyright claim"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "removed", res.Body["status"])
	require.NotNil(t, res.Body["removed_at"])
	select {
	case msg := <-sub.Channel():
		require.Contains(t, msg.Payload, "copyright claim", "the owner's open sockets get the notification")
		require.Contains(t, msg.Payload, `"system"`)
	case <-time.After(5 * time.Second):
		t.Fatal("the removal's notification was not pushed")
	}

	require.Equal(t, http.StatusNotFound, fetch(), "a URL handed out before the removal stops working")
	res = e.do(req{method: "GET", path: "/v1/videos/" + video, token: viewerToken})
	require.Equal(t, http.StatusNotFound, res.Status)
	for _, p := range []string{"/v1/videos/feed?algorithm=latest&page_size=50", "/v1/search/videos?q=zqremoved", "/v1/users/" + owner + "/videos"} {
		res := e.do(req{method: "GET", path: p, token: viewerToken})
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", p, res.Raw)
		require.NotContains(t, string(res.Raw), video, p)
	}
	res = e.do(req{method: "GET", path: "/v1/notifications", token: ownerToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Contains(t, string(res.Raw), "copyright claim", "the owner is told why")
	res = e.do(req{method: "PATCH", path: "/v1/admin/videos/" + video + "/remove", token: adminToken, body: map[string]any{"reason": "again"}})
	require.Equal(t, http.StatusConflict, res.Status)

	res = e.do(req{method: "PATCH", path: "/v1/admin/videos/" + video + "/restore", token: adminToken, body: map[string]any{"reason": "claim withdrawn"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "completed", res.Body["status"])
	require.Equal(t, http.StatusOK, fetch())
	res = e.do(req{method: "GET", path: "/v1/search/videos?q=zqremoved", token: viewerToken})
	require.Contains(t, string(res.Raw), video)

	rows, err := e.store.AuditList(ctx, db.AuditListParams{TargetID: &vid, Lim: 10})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, db.AuditVideoRestore, rows[0].Action)
	require.Equal(t, db.AuditVideoRemove, rows[1].Action)
}

// TestAuditListFiltersAndPages: filters, cursor pages, and 422 on bad
// filters.
func TestAuditListFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	adminID, adminToken := e.adminToken(t)
	actor := db.Actor{AdminID: &adminID}
	var videos []string
	for range 3 {
		_, u := e.register("adm_aud_" + uuid.NewString()[:8])
		videos = append(videos, e.video(u, dbtest.VideoOpts{}))
		_, _, err := e.store.AdminBanUser(ctx, actor, db.BanParams{UserID: uuid.MustParse(u), Reason: "r"})
		require.NoError(t, err)
	}
	_, _, err := e.store.AdminRemoveVideo(ctx, actor, uuid.MustParse(videos[0]), "r")
	require.NoError(t, err)

	var seen []string
	path := "/v1/admin/audit?action=user.ban&page_size=2"
	for path != "" {
		res := e.do(req{method: "GET", path: path, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, it := range res.Body["entries"].([]any) {
			m := it.(map[string]any)
			require.Equal(t, "user.ban", m["action"])
			seen = append(seen, m["id"].(string))
		}
		path = ""
		if next, ok := res.Body["next_cursor"].(string); ok {
			path = "/v1/admin/audit?action=user.ban&page_size=2&cursor=" + next
		}
	}
	require.Len(t, seen, 3)

	res := e.do(req{method: "GET", path: "/v1/admin/audit?target_type=video&admin_id=" + adminID.String(), token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["entries"].([]any), 1)
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	res = e.do(req{method: "GET", path: "/v1/admin/audit?from=" + future, token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Empty(t, res.Body["entries"])

	for _, q := range []string{"admin_id=x", "target_id=1", "action=user.delete", "target_type=planet", "from=yesterday",
		"to=2020-01-01T00:00:00Z&from=2021-01-01T00:00:00Z", "cursor=zzz", "page_size=0"} {
		res := e.do(req{method: "GET", path: "/v1/admin/audit?" + q, token: adminToken})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", q, res.Raw)
	}
}

// TestBanClosesTheUsersSocketsAtOnce: through the realtime hub, a ban by
// the admin route closes the banned user's open socket within seconds
// (the revocation event, not the 30 s session re-check).
func TestBanClosesTheUsersSocketsAtOnce(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{})
	_, adminToken := e.adminToken(t)
	token, id := e.register("ws_banned_by_admin")
	ws := e.mustDial(token, "")
	readMsg(t, ws, 5*time.Second) // caught_up

	start := time.Now()
	res := e.do(req{method: "PATCH", path: "/v1/admin/users/" + id + "/ban", token: adminToken, body: map[string]any{"reason": "abuse"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, realtime.StatusSessionEnded, readUntilClosed(t, ws, 5*time.Second))
	require.Less(t, time.Since(start), 3*time.Second)
}
