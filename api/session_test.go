package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/session"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/worker"
)

// pair is one session's tokens as register, login, refresh and password
// change answer them.
type pair struct{ access, refresh string }

func tokens(t *testing.T, res response) pair {
	t.Helper()
	access, _ := res.Body["access_token"].(string)
	refresh, _ := res.Body["refresh_token"].(string)
	require.NotEmpty(t, access, "%s", res.Raw)
	require.NotEmpty(t, refresh, "%s", res.Raw)
	return pair{access, refresh}
}

// signup registers username and returns its first session's tokens and id.
func (e *testEnv) signup(t *testing.T, username string) (pair, string) {
	t.Helper()
	res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
		"username": username, "email": username + "@example.com", "password": "password-" + username}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	return tokens(t, res), res.Body["user"].(map[string]any)["id"].(string)
}

// login opens another session of username.
func (e *testEnv) login(t *testing.T, username, password string) pair {
	t.Helper()
	res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": username, "password": password}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	return tokens(t, res)
}

// meStatus is the status of GET /v1/auth/me with token, and the reason of a
// refusal.
func (e *testEnv) meStatus(token string) (int, string) {
	res := e.do(req{method: "GET", path: "/v1/auth/me", token: token})
	reason, _ := res.Body["reason"].(string)
	return res.Status, reason
}

func (e *testEnv) refreshWith(refresh string) response {
	return e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": refresh}})
}

// revocations subscribes to the revocation channel and returns a function
// that waits for the event naming sessionID.
func (e *testEnv) revocations(t *testing.T) func(sessionID string) session.Revoked {
	sub := e.rdb.Subscribe(context.Background(), session.Channel)
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(context.Background()) // the subscription is live
	require.NoError(t, err)
	ch := sub.Channel()
	return func(sessionID string) session.Revoked {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case msg := <-ch:
				ev, err := session.ParseRevoked(msg.Payload)
				require.NoError(t, err)
				for _, id := range ev.SessionIDs {
					if id.String() == sessionID {
						return ev
					}
				}
			case <-timeout:
				t.Fatalf("no revocation event for session %s", sessionID)
			}
		}
	}
}

func sessionOf(t *testing.T, access string) string {
	t.Helper()
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(access, claims)
	require.NoError(t, err)
	return claims["sid"].(string)
}

func TestLogoutEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phone, id := e.signup(t, "twodevices")
	laptop := e.login(t, "twodevices", "password-twodevices")
	require.NotEqual(t, sessionOf(t, phone.access), sessionOf(t, laptop.access), "each login is its own session")
	events := e.revocations(t)

	res := e.do(req{method: "POST", path: "/v1/auth/logout"})
	require.Equal(t, http.StatusUnauthorized, res.Status, "logout needs a token")

	res = e.do(req{method: "POST", path: "/v1/auth/logout", token: phone.access})
	require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Raw)
	ev := events(sessionOf(t, phone.access))
	require.Equal(t, id, ev.UserID.String())
	require.Equal(t, db.RevokeLogout, ev.Reason)
	require.Len(t, ev.SessionIDs, 1)

	status, reason := e.meStatus(phone.access)
	require.Equal(t, http.StatusUnauthorized, status, "the logged-out token stops working at once")
	require.Equal(t, "session_revoked", reason)
	res = e.refreshWith(phone.refresh)
	require.Equal(t, http.StatusUnauthorized, res.Status, "and so does its refresh token")
	require.Equal(t, "session_revoked", res.Body["reason"])
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "POST", path: "/v1/auth/logout", token: phone.access}).Status)

	status, _ = e.meStatus(laptop.access)
	require.Equal(t, http.StatusOK, status, "the other session goes on")
	require.Equal(t, http.StatusOK, e.refreshWith(laptop.refresh).Status)
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, _ := e.signup(t, "everywhere")
	second := e.login(t, "everywhere", "password-everywhere")
	third := e.login(t, "everywhere", "password-everywhere")
	e.signup(t, "bystander")
	bystanderPair := e.login(t, "bystander", "password-bystander")
	events := e.revocations(t)

	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "POST", path: "/v1/auth/logout-all"}).Status)
	res := e.do(req{method: "POST", path: "/v1/auth/logout-all", token: second.access})
	require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Raw)
	ev := events(sessionOf(t, first.access))
	require.Equal(t, db.RevokeLogoutAll, ev.Reason)
	require.Len(t, ev.SessionIDs, 3)

	for _, p := range []pair{first, second, third} {
		status, reason := e.meStatus(p.access)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "session_revoked", reason)
		require.Equal(t, http.StatusUnauthorized, e.refreshWith(p.refresh).Status)
	}
	status, _ := e.meStatus(bystanderPair.access)
	require.Equal(t, http.StatusOK, status, "other users' sessions are untouched")
	fresh := e.login(t, "everywhere", "password-everywhere")
	status, _ = e.meStatus(fresh.access)
	require.Equal(t, http.StatusOK, status, "logging in again opens a new session")
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p0, _ := e.signup(t, "rotator")
	events := e.revocations(t)

	res := e.refreshWith(p0.refresh)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	p1 := tokens(t, res)
	require.NotEqual(t, p0.refresh, p1.refresh, "every refresh issues a new refresh token")
	require.Equal(t, sessionOf(t, p0.access), sessionOf(t, p1.access), "of the same session")
	require.Equal(t, "rotator", res.Body["user"].(map[string]any)["username"])
	status, _ := e.meStatus(p1.access)
	require.Equal(t, http.StatusOK, status)

	// The refresh token is stored hashed, never as is.
	var stored []byte
	var rotation int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(),
		"SELECT refresh_hash, rotation FROM sessions WHERE id = $1", sessionOf(t, p1.access)).Scan(&stored, &rotation))
	require.Equal(t, session.HashRefreshToken(p1.refresh), stored)
	require.Equal(t, 1, rotation)

	res = e.refreshWith(p1.refresh)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	p2 := tokens(t, res)

	// p1's refresh token was rotated away: presenting it again means two
	// parties hold the session's tokens. The session ends for both.
	res = e.refreshWith(p1.refresh)
	require.Equal(t, http.StatusUnauthorized, res.Status)
	require.Equal(t, "refresh_token_reused", res.Body["reason"])
	require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
	ev := events(sessionOf(t, p2.access))
	require.Equal(t, db.RevokeRefreshReuse, ev.Reason)
	for _, p := range []pair{p0, p1, p2} {
		status, reason := e.meStatus(p.access)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "session_revoked", reason)
	}
	require.Equal(t, http.StatusUnauthorized, e.refreshWith(p2.refresh).Status, "the latest refresh token died with the session")

	t.Run("Unknown", func(t *testing.T) {
		res := e.refreshWith("not-a-token-we-issued")
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "invalid_refresh_token", res.Body["reason"])
	})
	t.Run("Expired", func(t *testing.T) {
		p, _ := e.signup(t, "expiring")
		dbtest.ExpireSession(t, e.store, uuid.MustParse(sessionOf(t, p.access)))
		res := e.refreshWith(p.refresh)
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "refresh_token_expired", res.Body["reason"])
	})
	t.Run("DisabledAccount", func(t *testing.T) {
		p, id := e.signup(t, "refreshbanned")
		dbtest.SetUser(t, e.store, uuid.MustParse(id), dbtest.UserChange{Active: new(false)})
		res := e.refreshWith(p.refresh)
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "account_disabled", res.Body["reason"])
	})
	t.Run("Validation", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
		require.Equal(t, []any{"body", "refresh_token"}, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
		res = e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": 42}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
	})
	t.Run("RefreshTTL", func(t *testing.T) {
		p, _ := e.signup(t, "ttlcheck")
		res := e.refreshWith(p.refresh)
		require.Equal(t, http.StatusOK, res.Status)
		exp, err := time.Parse(time.RFC3339, res.Body["refresh_expires_at"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(30*24*time.Hour), exp, time.Minute, "REFRESH_TOKEN_TTL defaults to 30 days")
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.PasswordRateLimit = 2; c.PasswordRateWindow = time.Minute })
	old, _ := e.signup(t, "changer")
	other := e.login(t, "changer", "password-changer")
	events := e.revocations(t)
	body := func(current, next string) map[string]any {
		return map[string]any{"current_password": current, "new_password": next}
	}

	res := e.do(req{method: "POST", path: "/v1/auth/password", body: body("password-changer", "brand-new-pass")})
	require.Equal(t, http.StatusUnauthorized, res.Status, "needs a token")

	res = e.do(req{method: "POST", path: "/v1/auth/password", token: old.access, body: body("password-changer", "short")})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
	require.Equal(t, []any{"body", "new_password"}, res.Body["errors"].([]any)[0].(map[string]any)["loc"])

	res = e.do(req{method: "POST", path: "/v1/auth/password", token: old.access, body: body("wrong-password", "brand-new-pass")})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	require.Equal(t, "wrong_password", res.Body["reason"])
	status, _ := e.meStatus(old.access)
	require.Equal(t, http.StatusOK, status, "a wrong password ends nothing")

	res = e.do(req{method: "POST", path: "/v1/auth/password", token: old.access, body: body("password-changer", "brand-new-pass")})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	fresh := tokens(t, res)
	ev := events(sessionOf(t, other.access))
	require.Equal(t, db.RevokePasswordChange, ev.Reason)
	require.Len(t, ev.SessionIDs, 2, "both earlier sessions, the asking one included")

	for _, p := range []pair{old, other} {
		status, reason := e.meStatus(p.access)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "session_revoked", reason)
		require.Equal(t, http.StatusUnauthorized, e.refreshWith(p.refresh).Status)
	}
	status, _ = e.meStatus(fresh.access)
	require.Equal(t, http.StatusOK, status, "the answered pair works")
	res = e.refreshWith(fresh.refresh)
	require.Equal(t, http.StatusOK, res.Status)

	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "changer", "password": "password-changer"}})
	require.Equal(t, http.StatusUnauthorized, res.Status, "the old password is gone")
	e.login(t, "changer", "brand-new-pass")

	// Two checks per window per user (the limit of this env; a body that
	// fails validation is not a check): the wrong and the right password
	// above used them, so the next is refused even with the right password.
	res = e.do(req{method: "POST", path: "/v1/auth/password", token: fresh.access, body: body("brand-new-pass", "another-pass-1")})
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	res = e.do(req{method: "DELETE", path: "/v1/users/me", token: fresh.access, body: map[string]any{"password": "brand-new-pass"}})
	require.Equal(t, http.StatusTooManyRequests, res.Status, "account deletion shares the per-user limit")
	status, _ = e.meStatus(fresh.access)
	require.Equal(t, http.StatusOK, status)

	// The limit is per user, not per IP.
	someone, _ := e.signup(t, "someoneelse")
	res = e.do(req{method: "POST", path: "/v1/auth/password", token: someone.access, body: body("wrong-password", "another-pass-1")})
	require.Equal(t, http.StatusForbidden, res.Status)
}

func TestOptionalAuthRefusesBadTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	live, id := e.signup(t, "optional")
	revoked := e.login(t, "optional", "password-optional")
	require.Equal(t, http.StatusNoContent, e.do(req{method: "POST", path: "/v1/auth/logout", token: revoked.access}).Status)
	expired := e.signToken(jwt.MapClaims{"sub": id, "sid": sessionOf(t, live.access),
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})

	// Optional-auth routes, and public reads that take no caller: a token
	// that is sent is checked there too.
	paths := []string{"/v1/videos/feed", "/v1/users/" + id, "/v1/search?q=optional", "/v1/videos",
		"/v1/presets/glitch", "/v1/credits/packages", "/v1/hashtags/trending"}
	for _, path := range paths {
		for name, token := range map[string]string{"Malformed": "not-a-jwt", "Expired": expired, "Revoked": revoked.access} {
			t.Run(strings.TrimPrefix(path, "/v1/")+"/"+name, func(t *testing.T) {
				res := e.do(req{method: "GET", path: path, token: token})
				require.Equal(t, http.StatusUnauthorized, res.Status, "%s", res.Raw)
				require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
			})
		}
		require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: path}).Status, "no token is anonymous")
		require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: path, token: live.access}).Status)
	}
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	leaver, leaverID := e.signup(t, "leaver")
	second := e.login(t, "leaver", "password-leaver")
	stayer, stayerID := e.signup(t, "stayer")
	events := e.revocations(t)

	// The leaver's video, with its objects in storage.
	video := e.video(leaverID, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Minute)})
	for _, key := range []string{"videos/" + video + ".mp4", "thumbnails/" + video + ".jpg"} {
		require.NoError(t, e.storage.Put(ctx, key, strings.NewReader("data"), 4, storageType(key)))
	}
	res := e.do(req{method: "PATCH", path: "/v1/videos/" + video, token: leaver.access, body: map[string]any{"caption": "leaving soon #farewell"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	// The stayer's video, which the leaver likes and comments on; the
	// stayer follows the leaver and likes their video.
	stayerVideo := e.video(stayerID, dbtest.VideoOpts{CreatedAt: time.Now().Add(-2 * time.Minute)})
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + stayerVideo, token: leaver.access}).Status)
	// The like's notification, as the worker delivers it: the leaver in
	// the stayer's like group.
	leaverUUID, stayerVideoID := uuid.MustParse(leaverID), uuid.MustParse(stayerVideo)
	liked, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationLike,
		RecipientID: uuid.MustParse(stayerID), ActorID: &leaverUUID, VideoID: &stayerVideoID})
	require.NoError(t, err)
	require.True(t, liked.Inserted)
	res = e.do(req{method: "POST", path: "/v1/comments/videos/" + stayerVideo, token: leaver.access, body: map[string]any{"content": "bye all"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + video, token: stayer.access}).Status)
	res = e.do(req{method: "POST", path: "/v1/follows/users/" + leaverID, token: stayer.access})
	require.Less(t, res.Status, 300, "%s", res.Raw)
	res = e.do(req{method: "POST", path: "/v1/images/upload-url", token: leaver.access, body: map[string]any{"file_type": "image/png"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	img := res.Body["file_key"].(string)
	rec := e.raw("PUT", res.Body["upload_url"].(string), tinyPNG(t), map[string]string{"Content-Type": "image/png"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	feedHas := func(path, id string) bool {
		res := e.do(req{method: "GET", path: path, token: stayer.access})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		return strings.Contains(string(res.Raw), id)
	}
	commentsHave := func(text string) bool {
		res := e.do(req{method: "GET", path: "/v1/comments/videos/" + stayerVideo, token: stayer.access})
		require.Equal(t, http.StatusOK, res.Status)
		return strings.Contains(string(res.Raw), text)
	}
	require.True(t, feedHas("/v1/videos/feed", video))
	require.True(t, feedHas("/v1/videos/feed?algorithm=following", video))
	require.True(t, feedHas("/v1/search/videos?q=leaving", video))
	require.True(t, feedHas("/v1/search/users?q=leaver", leaverID))
	require.True(t, feedHas("/v1/hashtags/farewell/videos", video))
	require.True(t, commentsHave("bye all"))

	t.Run("WhoMayNot", func(t *testing.T) {
		res := e.do(req{method: "DELETE", path: "/v1/users/me", body: map[string]any{"password": "password-leaver"}})
		require.Equal(t, http.StatusUnauthorized, res.Status)
		res = e.do(req{method: "DELETE", path: "/v1/users/me", token: leaver.access, body: map[string]any{"password": "wrong-password"}})
		require.Equal(t, http.StatusForbidden, res.Status)
		require.Equal(t, "wrong_password", res.Body["reason"])
		res = e.do(req{method: "DELETE", path: "/v1/users/me", token: leaver.access, body: map[string]any{}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
		status, _ := e.meStatus(leaver.access)
		require.Equal(t, http.StatusOK, status, "nothing happened")
	})

	res = e.do(req{method: "DELETE", path: "/v1/users/me", token: leaver.access, body: map[string]any{"password": "password-leaver"}})
	require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Raw)
	ev := events(sessionOf(t, second.access))
	require.Equal(t, db.RevokeAccountDeleted, ev.Reason)
	require.Len(t, ev.SessionIDs, 2)

	// At once: every session ends.
	for _, p := range []pair{leaver, second} {
		status, _ := e.meStatus(p.access)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, http.StatusUnauthorized, e.refreshWith(p.refresh).Status)
	}
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "leaver", "password": "password-leaver"}})
	require.Equal(t, http.StatusUnauthorized, res.Status)
	// The profile, the videos and the comments leave every read.
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/users/" + leaverID, token: stayer.access}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + video, token: stayer.access}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + video}).Status)
	require.False(t, feedHas("/v1/videos/feed", video))
	require.False(t, feedHas("/v1/videos/feed?algorithm=following", video))
	require.False(t, feedHas("/v1/search/videos?q=leaving", video))
	require.False(t, feedHas("/v1/search/users?q=leaver", leaverID))
	require.False(t, feedHas("/v1/hashtags/farewell/videos", video))
	require.False(t, commentsHave("bye all"))
	// The username and the email are free again.
	reborn, _ := e.signup(t, "leaver")
	status, _ := e.meStatus(reborn.access)
	require.Equal(t, http.StatusOK, status)

	// The erase task was enqueued, once per user.
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	t.Cleanup(func() { _ = insp.DeleteTask(tasks.QueueLow, tasks.TypeAccountErase+":"+leaverID) })
	info, err := insp.GetTaskInfo(tasks.QueueLow, tasks.TypeAccountErase+":"+leaverID)
	require.NoError(t, err)
	require.Equal(t, tasks.TypeAccountErase, info.Type)

	// The worker erases the rest, with the stored objects; twice is harmless.
	logger, _ := testkit.NewLogger()
	h := worker.NewAccountEraseHandler(e.store, e.storage, &billing.Subscriptions{Store: e.store}, logger)
	task := tasks.NewAccountEraseTask(uuid.MustParse(leaverID))
	require.NoError(t, h.ProcessTask(ctx, task))
	require.NoError(t, h.ProcessTask(ctx, task))

	for _, key := range []string{"videos/" + video + ".mp4", "thumbnails/" + video + ".jpg", img} {
		_, err := e.storage.Stat(ctx, key)
		require.Error(t, err, "%s is deleted from storage", key)
	}
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	for _, table := range []string{"videos", "likes", "comments", "images", "sessions", "notifications", "search_history", "drafts", "bookmarks"} {
		require.Zero(t, count("SELECT count(*) FROM "+table+" WHERE user_id = $1", leaverID), table)
	}
	require.Zero(t, count("SELECT count(*) FROM follows WHERE follower_id = $1 OR following_id = $1", leaverID))
	require.Zero(t, count("SELECT count(*) FROM notifications WHERE actor_id = $1", leaverID))
	require.Zero(t, count("SELECT count(*) FROM notification_actors WHERE actor_id = $1", leaverID), "out of others' groups too")
	// Counters on the stayer's video no longer count the leaver.
	require.Zero(t, count("SELECT like_count FROM videos WHERE id = $1", stayerVideo))
	require.Zero(t, count("SELECT comment_count FROM videos WHERE id = $1", stayerVideo))
	// Kept for accounting: the anonymised row and its ledger.
	var username, email, hash string
	var displayName *string
	var erasedAt *time.Time
	require.NoError(t, pool.QueryRow(ctx, "SELECT username, email, hashed_password, display_name, erased_at FROM users WHERE id = $1", leaverID).
		Scan(&username, &email, &hash, &displayName, &erasedAt))
	require.Equal(t, "deleted:"+leaverID, username)
	require.Equal(t, "deleted:"+leaverID, email)
	require.Empty(t, hash)
	require.Nil(t, displayName)
	require.NotNil(t, erasedAt)
	require.Equal(t, 1, count("SELECT count(*) FROM credit_transactions WHERE user_id = $1", leaverID), "the signup bonus row stays")

	// A second deletion request has no session to come from.
	res = e.do(req{method: "DELETE", path: "/v1/users/me", token: leaver.access, body: map[string]any{"password": "password-leaver"}})
	require.Equal(t, http.StatusUnauthorized, res.Status)
}

func storageType(key string) string {
	if strings.HasSuffix(key, ".jpg") {
		return "image/jpeg"
	}
	return "video/mp4"
}
