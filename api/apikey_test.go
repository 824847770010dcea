package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// enterpriseUser makes a user of the enterprise tier until expires (nil:
// no expiry) and returns its id and an access token.
func (e *testEnv) enterpriseUser(t *testing.T, expires *time.Time) (uuid.UUID, string) {
	t.Helper()
	u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	dbtest.SetSubscription(t, e.store, u.ID, lokiz.TierEnterprise, expires)
	return u.ID, e.tokenFor(u.ID)
}

// newAPIKey creates a key through the api and returns the key and its id.
func (e *testEnv) newAPIKey(t *testing.T, token, name string) (key, id string) {
	t.Helper()
	res := e.do(req{method: "POST", path: "/v1/api-keys", token: token, body: map[string]any{"name": name}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	return res.Body["key"].(string), res.Body["id"].(string)
}

func reason(res response) string {
	s, _ := res.Body["reason"].(string)
	return s
}

// requireKeyRefused checks a 401 of an API key with its reason.
func requireKeyRefused(t *testing.T, res response, wantReason string) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, res.Status, "%s", res.Raw)
	require.Equal(t, lokiz.EUNAUTHORIZED, errorCode(res))
	require.Equal(t, wantReason, reason(res), "%s", res.Raw)
	require.NotEmpty(t, res.Header.Get("WWW-Authenticate"))
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	me, token := e.enterpriseUser(t, nil)

	res := e.do(req{method: "POST", path: "/v1/api-keys", token: token, body: map[string]any{"name": "  nightly export  "}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	key := res.Body["key"].(string)
	id := res.Body["id"].(string)
	require.True(t, strings.HasPrefix(key, "lkz_live_"), key)
	require.Equal(t, "nightly export", res.Body["name"])
	require.True(t, strings.HasPrefix(key, res.Body["prefix"].(string)), "the prefix is the start of the key")
	require.Less(t, len(res.Body["prefix"].(string)), len(key)-32, "the prefix leaves the secret out")
	require.Equal(t, true, res.Body["is_active"])
	require.Nil(t, res.Body["last_used_at"])
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	// The key is a bearer token on normal routes, required and optional.
	res = e.do(req{method: "GET", path: "/v1/users/me", token: key})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, me.String(), res.Body["id"])
	res = e.do(req{method: "GET", path: "/v1/search?q=anything", token: key})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	res = e.do(req{method: "POST", path: "/v1/search/history", token: key, body: map[string]any{"query": "by key"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)

	// The list shows the key, used, without the secret or its hash.
	res = e.do(req{method: "GET", path: "/v1/api-keys", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	keys := res.Body["api_keys"].([]any)
	require.Len(t, keys, 1)
	got := keys[0].(map[string]any)
	require.Equal(t, id, got["id"])
	require.NotNil(t, got["last_used_at"], "the use was recorded")
	for _, field := range []string{"key", "secret", "secret_hash", "hash"} {
		require.NotContains(t, got, field)
	}
	secret := key[len(got["prefix"].(string)):]
	require.NotContains(t, string(res.Raw), secret)

	// Revoked: 401 at once, and listed as such.
	res = e.do(req{method: "DELETE", path: "/v1/api-keys/" + id, token: token})
	require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Raw)
	requireKeyRefused(t, e.do(req{method: "GET", path: "/v1/users/me", token: key}), "api_key_revoked")
	requireKeyRefused(t, e.do(req{method: "GET", path: "/v1/search?q=anything", token: key}), "api_key_revoked")
	res = e.do(req{method: "DELETE", path: "/v1/api-keys/" + id, token: token})
	require.Equal(t, http.StatusNoContent, res.Status, "revoking twice is harmless: %s", res.Raw)
	res = e.do(req{method: "GET", path: "/v1/api-keys", token: token})
	got = res.Body["api_keys"].([]any)[0].(map[string]any)
	require.Equal(t, false, got["is_active"])
	require.NotNil(t, got["revoked_at"])
}

func TestAPIKeyCreateNeedsEnterprise(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tier := range []string{lokiz.TierFree, lokiz.TierBasic, lokiz.TierPro} {
		u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
		dbtest.SetSubscription(t, e.store, u.ID, tier, nil)
		res := e.do(req{method: "POST", path: "/v1/api-keys", token: e.tokenFor(u.ID), body: map[string]any{"name": "x"}})
		require.Equal(t, http.StatusForbidden, res.Status, "%s: %s", tier, res.Raw)
		require.Equal(t, "enterprise_required", reason(res))
		require.Contains(t, errorDetail(res), "enterprise")
		require.Contains(t, errorDetail(res), "your tier is "+tier)
	}
	// An enterprise tier that has run out is free.
	past := time.Now().Add(-time.Hour)
	_, token := e.enterpriseUser(t, &past)
	res := e.do(req{method: "POST", path: "/v1/api-keys", token: token, body: map[string]any{"name": "x"}})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	require.Contains(t, errorDetail(res), "your tier is free")

	// Bad names are 422.
	_, token = e.enterpriseUser(t, nil)
	for _, body := range []any{map[string]any{}, map[string]any{"name": "   "}, map[string]any{"name": strings.Repeat("n", 101)},
		map[string]any{"name": 5}, map[string]any{"name": "a\u0000b"}} {
		res := e.do(req{method: "POST", path: "/v1/api-keys", token: token, body: body})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%v: %s", body, res.Raw)
	}
	// Anonymous callers are 401.
	res = e.do(req{method: "GET", path: "/v1/api-keys"})
	require.Equal(t, http.StatusUnauthorized, res.Status)
}

func TestAPIKeyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.APIKeyMaxPerUser = 2 })
	_, token := e.enterpriseUser(t, nil)
	_, first := e.newAPIKey(t, token, "one")
	e.newAPIKey(t, token, "two")
	res := e.do(req{method: "POST", path: "/v1/api-keys", token: token, body: map[string]any{"name": "three"}})
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Raw)
	require.Equal(t, "api_key_limit", reason(res))
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/api-keys/" + first, token: token}).Status)
	e.newAPIKey(t, token, "three")
}

// The key dies with the enterprise tier: at its expiry, or when the tier
// changes; and with a ban.
func TestAPIKeyDiesWithTierAndBan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	later := time.Now().Add(time.Hour)
	me, token := e.enterpriseUser(t, &later)
	key, _ := e.newAPIKey(t, token, "expiring")
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/users/me", token: key}).Status)

	past := time.Now().Add(-time.Second)
	dbtest.SetSubscription(t, e.store, me, lokiz.TierEnterprise, &past)
	requireKeyRefused(t, e.do(req{method: "GET", path: "/v1/users/me", token: key}), "api_access_ended")
	requireKeyRefused(t, e.do(req{method: "GET", path: "/v1/videos", token: key}), "api_access_ended")
	dbtest.SetSubscription(t, e.store, me, lokiz.TierPro, nil)
	requireKeyRefused(t, e.do(req{method: "GET", path: "/v1/users/me", token: key}), "api_access_ended")

	// Another enterprise user, banned.
	other, otherToken := e.enterpriseUser(t, nil)
	otherKey, _ := e.newAPIKey(t, otherToken, "banned")
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/users/me", token: otherKey}).Status)
	_, _, err := e.store.AdminBanUser(context.Background(), db.Actor{}, db.BanParams{UserID: other, Reason: "test"})
	require.NoError(t, err)
	requireKeyRefused(t, e.do(req{method: "GET", path: "/v1/users/me", token: otherKey}), "account_disabled")
}

func TestAPIKeyOwnerOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, ownerToken := e.enterpriseUser(t, nil)
	key, id := e.newAPIKey(t, ownerToken, "mine")
	_, strangerToken := e.enterpriseUser(t, nil)

	res := e.do(req{method: "DELETE", path: "/v1/api-keys/" + id, token: strangerToken})
	require.Equal(t, http.StatusNotFound, res.Status, "%s", res.Raw)
	res = e.do(req{method: "GET", path: "/v1/api-keys", token: strangerToken})
	require.Equal(t, http.StatusOK, res.Status)
	require.Empty(t, res.Body["api_keys"])
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/users/me", token: key}).Status, "the key still works")

	res = e.do(req{method: "DELETE", path: "/v1/api-keys/" + uuid.NewString(), token: ownerToken})
	require.Equal(t, http.StatusNotFound, res.Status)
	res = e.do(req{method: "DELETE", path: "/v1/api-keys/not-a-uuid", token: ownerToken})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
}

// What an API key may not do: manage API keys, sessions, the password,
// the account's deletion and payments (403); the same routes still work
// with an access token.
func TestAPIKeyForbiddenRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.enterpriseUser(t, nil)
	key, id := e.newAPIKey(t, token, "limited")
	for _, r := range []req{
		{method: "POST", path: "/v1/api-keys", body: map[string]any{"name": "more"}},
		{method: "GET", path: "/v1/api-keys"},
		{method: "DELETE", path: "/v1/api-keys/" + id},
		{method: "POST", path: "/v1/auth/logout"},
		{method: "POST", path: "/v1/auth/logout-all"},
		{method: "POST", path: "/v1/auth/password", body: map[string]any{"current_password": dbtest.DefaultPassword, "new_password": "another-password-1"}},
		{method: "DELETE", path: "/v1/users/me", body: map[string]any{"password": dbtest.DefaultPassword}},
		{method: "POST", path: "/v1/credits/purchase", body: map[string]any{"package_id": "small"}},
		{method: "GET", path: "/v1/payments/orders/" + id},
		{method: "POST", path: "/v1/payments/toss/confirm", body: map[string]any{"paymentKey": "k", "orderId": id, "amount": 1}},
		{method: "POST", path: "/v1/subscriptions/subscribe", body: map[string]any{"plan": "pro", "provider": "toss"}},
		{method: "POST", path: "/v1/subscriptions/toss/billing", body: map[string]any{"authKey": "a", "customerKey": "c", "plan": "pro"}},
		{method: "DELETE", path: "/v1/subscriptions/cancel"},
	} {
		r.token = key
		res := e.do(r)
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s: %s", r.method, r.path, res.Raw)
		require.Equal(t, "api_key_not_allowed", reason(res))
		require.Contains(t, errorDetail(res), "API keys cannot")
	}
	// Nothing happened: the key still works and is still listed live.
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/users/me", token: key}).Status)
	res := e.do(req{method: "GET", path: "/v1/api-keys", token: token})
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, res.Body["api_keys"], 1)
	require.Equal(t, true, res.Body["api_keys"].([]any)[0].(map[string]any)["is_active"])
	res = e.do(req{method: "POST", path: "/v1/auth/logout", token: token})
	require.Equal(t, http.StatusNoContent, res.Status, "an access token may: %s", res.Raw)
}

func TestAPIKeyRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	e := newEnv(t, func(c *api.Config) { c.APIKeyRateLimit = limit })
	_, token := e.enterpriseUser(t, nil)
	key, _ := e.newAPIKey(t, token, "busy")
	other, _ := e.newAPIKey(t, token, "quiet")
	for i := range limit {
		res := e.do(req{method: "GET", path: "/v1/search?q=limit", token: key})
		require.Equal(t, http.StatusOK, res.Status, "request %d: %s", i+1, res.Raw)
	}
	res := e.do(req{method: "GET", path: "/v1/search?q=limit", token: key})
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	require.Equal(t, "api_key_rate_limited", reason(res))
	secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, secs >= 1 && secs <= 60, "Retry-After %d", secs)

	// The limit is the key's: another key of the same user, and the
	// user's access token, go on.
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/search?q=limit", token: other}).Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/search?q=limit", token: token}).Status)
}

func TestAPIKeyMalformedOrWrong(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.enterpriseUser(t, nil)
	key, _ := e.newAPIKey(t, token, "real")
	prefixLen := len("lkz_live_") + 16
	wrongSecret := key[:prefixLen+1] + strings.Repeat("A", len(key)-prefixLen-2) + "A"
	for name, bad := range map[string]string{
		"prefix only":  "lkz_live_",
		"garbage":      "lkz_live_not-a-key",
		"truncated":    key[:len(key)-1],
		"extended":     key + "A",
		"wrong secret": wrongSecret,
		"unknown id":   "lkz_live_0123456789abcdef" + key[prefixLen:],
	} {
		if bad == key {
			t.Fatalf("%s: the test key equals the real one", name)
		}
		for _, path := range []string{"/v1/users/me", "/v1/videos"} {
			res := e.do(req{method: "GET", path: path, token: bad})
			requireKeyRefused(t, res, "invalid_api_key")
		}
	}
}
