package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

func withMail(c *api.Config) { c.EmailEnabled = true }

func withWelcomeAfterVerification(c *api.Config) {
	c.EmailEnabled = true
	c.WelcomeCreditsAfterVerification = true
}

// mailToken stores a live token of purpose for the user, as the worker
// does before mailing it, and returns the token.
func (e *testEnv) mailToken(t *testing.T, userID uuid.UUID, purpose string, ttl time.Duration) string {
	t.Helper()
	u, err := e.store.UserByID(context.Background(), userID)
	require.NoError(t, err)
	token, hash := mail.NewToken()
	require.NoError(t, e.store.CreateEmailToken(context.Background(), userID, purpose, u.Email, hash, time.Now().Add(ttl)))
	return token
}

// emailTasks returns the payloads of the pending email tasks of type typ
// whose payload contains needle (the queue is shared by parallel tests).
func (e *testEnv) emailTasks(t *testing.T, typ, needle string) []string {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	infos, err := insp.ListPendingTasks(tasks.QueueEmail, asynq.PageSize(1000))
	if err != nil && !strings.Contains(err.Error(), "not found") {
		require.NoError(t, err)
	}
	var out []string
	for _, ti := range infos {
		if ti.Type == typ && strings.Contains(string(ti.Payload), needle) {
			out = append(out, string(ti.Payload))
		}
	}
	return out
}

func TestRegisterEnqueuesVerificationAndStoresLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMail)
	name := "mailreg" + uuid.NewString()[:8]
	res := e.do(req{method: "POST", path: "/v1/auth/register", headers: map[string]string{"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"},
		body: map[string]any{"username": name, "email": name + "@example.com", "password": "password-1"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	user := res.Body["user"].(map[string]any)
	require.Equal(t, false, user["email_verified"])
	require.Equal(t, "ko", user["language"])
	require.Equal(t, float64(lokiz.InitialCredits), user["credits"], "welcome credits at registration with the flag off")
	require.Len(t, e.emailTasks(t, tasks.TypeEmailVerify, user["id"].(string)), 1)

	bad := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
		"username": name + "x", "email": name + "x@example.com", "password": "password-1", "language": "fr"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMail)

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
		tok := e.mailToken(t, u.ID, db.TokenVerifyEmail, time.Hour)
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": tok}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, true, res.Body["email_verified"])
		me := e.do(req{method: "GET", path: "/v1/users/me", token: e.tokenFor(u.ID)})
		require.Equal(t, true, me.Body["email_verified"])

		again := e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": tok}})
		require.Equal(t, http.StatusBadRequest, again.Status)
		require.Equal(t, "token_used", reason(again))
	})
	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
		tok := e.mailToken(t, u.ID, db.TokenVerifyEmail, -time.Minute)
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": tok}})
		require.Equal(t, http.StatusBadRequest, res.Status)
		require.Equal(t, "token_expired", reason(res))
	})
	t.Run("Wrong", func(t *testing.T) {
		t.Parallel()
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": "not-a-token"}})
		require.Equal(t, http.StatusBadRequest, res.Status)
		require.Equal(t, "invalid_token", reason(res))
		res = e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
	})
	t.Run("ResetTokenDoesNotVerify", func(t *testing.T) {
		t.Parallel()
		u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
		tok := e.mailToken(t, u.ID, db.TokenPasswordReset, time.Hour)
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": tok}})
		require.Equal(t, http.StatusBadRequest, res.Status)
		require.Equal(t, "invalid_token", reason(res))
	})
}

func TestWelcomeCreditsAfterVerificationOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withWelcomeAfterVerification)
	token, id := e.register("welcome" + uuid.NewString()[:8])
	me := e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, float64(0), me.Body["credits"], "no welcome credits before verification")

	uid := uuid.MustParse(id)
	// Two live tokens used at once, then again: one grant.
	toks := []string{e.mailToken(t, uid, db.TokenVerifyEmail, time.Hour), e.mailToken(t, uid, db.TokenVerifyEmail, time.Hour)}
	var wg sync.WaitGroup
	statuses := make([]int, len(toks))
	for i, tok := range toks {
		wg.Go(func() {
			statuses[i] = e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": tok}}).Status
		})
	}
	wg.Wait()
	require.Equal(t, []int{http.StatusOK, http.StatusOK}, statuses)
	third := e.mailToken(t, uid, db.TokenVerifyEmail, time.Hour)
	require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": third}}).Status)

	me = e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, float64(lokiz.InitialCredits), me.Body["credits"])
	hist := e.do(req{method: "GET", path: "/v1/credits/history", token: token})
	require.Equal(t, http.StatusOK, hist.Status)
	require.Equal(t, float64(1), hist.Body["total"], "one ledger row: %s", hist.Raw)
}

func TestRequestVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMail)
	token, id := e.register("reqver" + uuid.NewString()[:8])

	res := e.do(req{method: "POST", path: "/v1/auth/verify-email/request", token: token})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	require.Len(t, e.emailTasks(t, tasks.TypeEmailVerify, id), 2, "registration's and this one")

	t.Run("Anonymous", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email/request"})
		require.Equal(t, http.StatusUnauthorized, res.Status)
	})
	t.Run("APIKey", func(t *testing.T) {
		_, etoken := e.enterpriseUser(t, nil)
		key, _ := e.newAPIKey(t, etoken, "k")
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email/request", token: key})
		require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	})
	t.Run("RateLimited", func(t *testing.T) {
		var last response
		for range 6 {
			last = e.do(req{method: "POST", path: "/v1/auth/verify-email/request", token: token})
		}
		require.Equal(t, http.StatusTooManyRequests, last.Status)
	})
	t.Run("AlreadyVerified", func(t *testing.T) {
		u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
		tok := e.mailToken(t, u.ID, db.TokenVerifyEmail, time.Hour)
		require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]any{"token": tok}}).Status)
		res := e.do(req{method: "POST", path: "/v1/auth/verify-email/request", token: e.tokenFor(u.ID)})
		require.Equal(t, http.StatusConflict, res.Status)
		require.Equal(t, "email_already_verified", reason(res))
	})
	t.Run("MailOff", func(t *testing.T) {
		off := newEnv(t)
		tok, _ := off.register("mailoff" + uuid.NewString()[:8])
		res := off.do(req{method: "POST", path: "/v1/auth/verify-email/request", token: tok})
		require.Equal(t, http.StatusServiceUnavailable, res.Status)
	})
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMail)
	name := "reset" + uuid.NewString()[:8]
	token, id := e.register(name)
	uid := uuid.MustParse(id)

	t.Run("SameAnswerForUnknownAddress", func(t *testing.T) {
		known := e.do(req{method: "POST", path: "/v1/auth/password-reset/request", body: map[string]any{"email": name + "@example.com"}})
		unknown := e.do(req{method: "POST", path: "/v1/auth/password-reset/request", body: map[string]any{"email": "nobody-" + name + "@example.com"}})
		require.Equal(t, http.StatusAccepted, known.Status)
		require.Equal(t, known.Status, unknown.Status)
		require.Equal(t, known.Raw, unknown.Raw)
		require.Len(t, e.emailTasks(t, tasks.TypeEmailPasswordReset, `"`+name+"@example.com"), 1)
		require.Len(t, e.emailTasks(t, tasks.TypeEmailPasswordReset, "nobody-"+name), 1, "the worker decides, not the api")
	})
	t.Run("PerAddressLimitIsSilent", func(t *testing.T) {
		addr := "flood-" + name + "@example.com"
		for range 8 {
			res := e.do(req{method: "POST", path: "/v1/auth/password-reset/request", body: map[string]any{"email": addr}})
			require.Equal(t, http.StatusAccepted, res.Status)
		}
		require.Len(t, e.emailTasks(t, tasks.TypeEmailPasswordReset, addr), 5)
	})
	t.Run("PerIPLimit", func(t *testing.T) {
		lim := newEnv(t, withMail, func(c *api.Config) { c.AuthRateLimit = 3 })
		var last response
		for i := range 4 {
			last = lim.do(req{method: "POST", path: "/v1/auth/password-reset/request", body: map[string]any{"email": "ip" + string(rune('a'+i)) + name + "@example.com"}})
		}
		require.Equal(t, http.StatusTooManyRequests, last.Status)
		require.NotEmpty(t, last.Header.Get("Retry-After"))
	})
	t.Run("WorksOnceAndRevokesSessions", func(t *testing.T) {
		other := e.tokenFor(uid)
		tok := e.mailToken(t, uid, db.TokenPasswordReset, 30*time.Minute)
		spare := e.mailToken(t, uid, db.TokenPasswordReset, 30*time.Minute)
		short := e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": tok, "new_password": "short"}})
		require.Equal(t, http.StatusUnprocessableEntity, short.Status)

		res := e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": tok, "new_password": "brand-new-password"}})
		require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Raw)
		for _, tk := range []string{token, other} {
			require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/users/me", token: tk}).Status, "every session ended")
		}
		login := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": name + "@example.com", "password": "brand-new-password"}})
		require.Equal(t, http.StatusOK, login.Status)

		again := e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": tok, "new_password": "another-password"}})
		require.Equal(t, http.StatusBadRequest, again.Status)
		require.Equal(t, "token_used", reason(again))
		sp := e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": spare, "new_password": "another-password"}})
		require.Equal(t, http.StatusBadRequest, sp.Status, "a reset uses up the other links")
	})
	t.Run("ExpiredAndWrong", func(t *testing.T) {
		tok := e.mailToken(t, uid, db.TokenPasswordReset, -time.Second)
		res := e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": tok, "new_password": "brand-new-password"}})
		require.Equal(t, http.StatusBadRequest, res.Status)
		require.Equal(t, "token_expired", reason(res))
		res = e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": "forged", "new_password": "brand-new-password"}})
		require.Equal(t, http.StatusBadRequest, res.Status)
		require.Equal(t, "invalid_token", reason(res))
		verify := e.mailToken(t, uid, db.TokenVerifyEmail, time.Hour)
		res = e.do(req{method: "POST", path: "/v1/auth/password-reset", body: map[string]any{"token": verify, "new_password": "brand-new-password"}})
		require.Equal(t, http.StatusBadRequest, res.Status, "a verification token resets nothing")
	})
}

func TestUnsubscribeOneClick(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMail)
	token, id := e.register("unsub" + uuid.NewString()[:8])
	uid := uuid.MustParse(id)
	link := "/v1/email/unsubscribe?token=" + mail.UnsubscribeToken([]byte(e.config.SecretKey), uid)

	page := e.do(req{method: "GET", path: link})
	require.Equal(t, http.StatusOK, page.Status)
	require.Contains(t, string(page.Raw), `method="post"`)
	settings := e.do(req{method: "GET", path: "/v1/notifications/settings", token: token})
	require.Equal(t, true, settings.Body["email"], "the page changes nothing")

	res := e.do(req{method: "POST", path: link, body: "List-Unsubscribe=One-Click",
		headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, false, res.Body["email"])
	settings = e.do(req{method: "GET", path: "/v1/notifications/settings", token: token})
	require.Equal(t, false, settings.Body["email"])
	require.Equal(t, true, settings.Body["likes"], "only the e-mail setting changes")
	require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: link}).Status, "repeating is harmless")

	t.Run("BadToken", func(t *testing.T) {
		for _, bad := range []string{"", "abc", mail.UnsubscribeToken([]byte("another-key"), uid)} {
			res := e.do(req{method: "POST", path: "/v1/email/unsubscribe?token=" + bad})
			require.Equal(t, http.StatusBadRequest, res.Status, "token %q", bad)
			require.Equal(t, http.StatusBadRequest, e.do(req{method: "GET", path: "/v1/email/unsubscribe?token=" + bad}).Status)
		}
	})
	t.Run("TokenIsBoundToItsUser", func(t *testing.T) {
		otherTok, otherID := e.register("unsub2" + uuid.NewString()[:8])
		// A's token with B's id in place of A's does not verify.
		raw := mail.UnsubscribeToken([]byte(e.config.SecretKey), uid)
		forged := mail.UnsubscribeToken([]byte("x"), uuid.MustParse(otherID))[:22] + raw[22:]
		res := e.do(req{method: "POST", path: "/v1/email/unsubscribe?token=" + forged})
		require.Equal(t, http.StatusBadRequest, res.Status)
		s := e.do(req{method: "GET", path: "/v1/notifications/settings", token: otherTok})
		require.Equal(t, true, s.Body["email"])
	})
}

func TestDevMailNeverInProduction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(req{method: "GET", path: "/dev/mail", unspecified: true})
	require.Equal(t, http.StatusNotFound, res.Status, "not mounted without a dev mail box")

	cfg := testConfig()
	cfg.Env = "production"
	logger, _ := testkit.NewLogger()
	_, err := api.New(cfg, api.Deps{
		Store: e.store, Redis: e.rdb, Tasks: tasks.NewClient(e.queue), Logger: logger,
		Storage: e.storage, Views: views.NewCounter(e.rdb, cfg.SecretKey, views.DedupeWindow), DevMail: http.NotFoundHandler(),
	})
	require.ErrorContains(t, err, "never served in production")
}

func TestLanguageInProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("lang" + uuid.NewString()[:8])
	res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"language": "ko"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "ko", res.Body["language"])
	for _, bad := range []any{"fr", nil, 3} {
		res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"language": bad}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%v", bad)
	}
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "PATCH", path: "/v1/users/me", body: map[string]any{"language": "en"}}).Status)
}
