package api_test

import (
	"context"
	"fmt"
	"github.com/lokiz/lokiz/db/dbtest"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
)

func TestRegister(t *testing.T) {
	t.Parallel()

	t.Run("CreatesAccountWithLedgerRow", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
			"username": "  Mina_K ", "email": " Mina@Example.COM", "password": "s3cret-pass"}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		require.Equal(t, "bearer", res.Body["token_type"])
		require.NotEmpty(t, res.Body["access_token"])
		require.InDelta(t, time.Hour.Seconds(), res.Body["expires_in"], 5)

		user := res.Body["user"].(map[string]any)
		id := uuid.MustParse(user["id"].(string))
		require.Equal(t, 7, int(id.Version()), "new ids are UUIDv7")
		require.Equal(t, map[string]any{
			"id": user["id"], "username": "mina_k", "email": "mina@example.com", "email_verified": false, "language": "en",
			"display_name": "mina_k", "bio": nil, "profile_image_url": nil, "profile_image": nil,
			"credits": float64(100), "role": "user", "subscription_tier": "free", "subscription_expires_at": nil,
			"show_ads": true, "limits": map[string]any{"template_max_seconds": float64(10), "sticker_max_seconds": float64(10),
				"music_max_seconds": float64(60), "max_resolution": "720p"},
			"follower_count": float64(0), "following_count": float64(0), "video_count": float64(0),
			"total_likes": float64(0), "like_count": float64(0),
			"created_at": user["created_at"], "updated_at": user["updated_at"],
		}, user)
		require.True(t, strings.HasSuffix(user["created_at"].(string), "Z"), "times are UTC with Z")

		// The 100 credits are a ledger row, and the balance equals the ledger.
		var txType string
		var credits, balance int
		err := e.store.Pool().QueryRow(context.Background(),
			"SELECT transaction_type, credits, balance_after FROM credit_transactions WHERE user_id = $1", id).
			Scan(&txType, &credits, &balance)
		require.NoError(t, err)
		require.Equal(t, "bonus", txType)
		require.Equal(t, 100, credits)
		require.Equal(t, 100, balance)

		// The stored hash is bcrypt and never the password.
		var hash string
		require.NoError(t, e.store.Pool().QueryRow(context.Background(),
			"SELECT hashed_password FROM users WHERE id = $1", id).Scan(&hash))
		require.True(t, strings.HasPrefix(hash, "$2a$"), hash)
		require.NotContains(t, hash, "s3cret-pass")
	})

	t.Run("DuplicateUsernameAndEmail", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.register("taken")
		res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
			"username": "TAKEN", "email": "new@example.com", "password": "password1"}})
		require.Equal(t, http.StatusConflict, res.Status)
		require.Equal(t, "Username already taken", errorDetail(res))
		require.Equal(t, "conflict", errorCode(res))

		res = e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
			"username": "fresh", "email": "Taken@Example.com", "password": "password1"}})
		require.Equal(t, http.StatusConflict, res.Status)
		require.Equal(t, "Email already registered", errorDetail(res))
	})

	t.Run("ConcurrentDuplicateRegistrations", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		const n = 6
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
					"username": "same", "email": fmt.Sprintf("same%d@example.com", i), "password": "password1"}})
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		created, conflicts := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			}
		}
		require.Equal(t, 1, created, "statuses: %v", statuses)
		require.Equal(t, n-1, conflicts, "statuses: %v", statuses)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tests := []struct {
			name string
			body any
			loc  []any
		}{
			{"ShortUsername", map[string]any{"username": "ab", "email": "a@example.com", "password": "password1"}, []any{"body", "username"}},
			{"BadUsernameChars", map[string]any{"username": "bad-name", "email": "a@example.com", "password": "password1"}, []any{"body", "username"}},
			{"MissingUsername", map[string]any{"email": "a@example.com", "password": "password1"}, []any{"body", "username"}},
			{"BadEmail", map[string]any{"username": "okname", "email": "nope", "password": "password1"}, []any{"body", "email"}},
			{"ShortPassword", map[string]any{"username": "okname", "email": "a@example.com", "password": "short"}, []any{"body", "password"}},
			{"LongPassword", map[string]any{"username": "okname", "email": "a@example.com", "password": strings.Repeat("x", 73)}, []any{"body", "password"}},
			{"WrongType", map[string]any{"username": 42, "email": "a@example.com", "password": "password1"}, []any{"body", "username"}},
			{"MalformedJSON", `{"username": "x",`, []any{"body"}},
			{"EmptyBody", "", []any{"body"}},
			{"ArrayBody", `[1,2]`, []any{"body"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(req{method: "POST", path: "/v1/auth/register", body: tt.body})
				require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
				require.Equal(t, "validation_error", errorCode(res))
				errs := res.Body["errors"].([]any)
				require.NotEmpty(t, errs)
				require.Equal(t, tt.loc, errs[0].(map[string]any)["loc"])
			})
		}
		var users int
		require.NoError(t, e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&users))
		require.Zero(t, users, "no invalid registration created a row")
	})

	t.Run("UnknownFieldsAreIgnored", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
			"username": "extra", "email": "extra@example.com", "password": "password1", "credits": 999999, "role": "admin"}})
		require.Equal(t, http.StatusCreated, res.Status)
		user := res.Body["user"].(map[string]any)
		require.Equal(t, float64(100), user["credits"])
		require.Equal(t, "user", user["role"])
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("loginuser")

	t.Run("ByEmail", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{
			"email": "LoginUser@example.com", "password": "password-loginuser"}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, "loginuser", res.Body["user"].(map[string]any)["username"])
	})
	t.Run("ByUsernameAsTheFrontendSends", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{
			"username": "LoginUser", "password": "password-loginuser"}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		token := res.Body["access_token"].(string)
		me := e.do(req{method: "GET", path: "/v1/auth/me", token: token})
		require.Equal(t, http.StatusOK, me.Status)
		require.Equal(t, "loginuser@example.com", me.Body["email"])
	})
	t.Run("EmailInUsernameField", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{
			"username": "loginuser@example.com", "password": "password-loginuser"}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	})
	t.Run("WrongPassword", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{
			"email": "loginuser@example.com", "password": "wrong-password"}})
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "Incorrect email or password", errorDetail(res))
		require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
	})
	t.Run("UnknownUserLooksTheSame", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{
			"email": "nobody@example.com", "password": "password1"}})
		require.Equal(t, http.StatusUnauthorized, res.Status)
		require.Equal(t, "Incorrect email or password", errorDetail(res))
	})
	t.Run("MissingFields", func(t *testing.T) {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"password": "x"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
		res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "a@b.co"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)
		require.Equal(t, []any{"body", "password"}, res.Body["errors"].([]any)[0].(map[string]any)["loc"])
	})
}

func TestBannedUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, id := e.register("banned")
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/v1/auth/me", token: token}).Status)

	dbtest.SetUser(t, e.store, uuid.MustParse(id), dbtest.UserChange{Active: new(false)})

	// The token that worked a moment ago stops working at once.
	res := e.do(req{method: "GET", path: "/v1/auth/me", token: token})
	require.Equal(t, http.StatusUnauthorized, res.Status)
	require.Equal(t, "account_disabled", res.Body["reason"])

	// Logging in again is refused, after the password check.
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "banned", "password": "password-banned"}})
	require.Equal(t, http.StatusForbidden, res.Status)
	require.Equal(t, "account_disabled", res.Body["reason"])
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "banned", "password": "wrong-password"}})
	require.Equal(t, http.StatusUnauthorized, res.Status, "a wrong password reveals nothing about the ban")

	// Their profile is no longer found.
	_, other := e.register("observer")
	_ = other
	res = e.do(req{method: "GET", path: "/v1/users/" + id})
	require.Equal(t, http.StatusNotFound, res.Status)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, id := e.register("tokenuser")
	secret := []byte(e.config.SecretKey)
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		require.NoError(t, err)
		return s
	}
	now := time.Now()

	t.Run("ClaimsAreSubSidIatExp", func(t *testing.T) {
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(token, claims)
		require.NoError(t, err)
		require.Equal(t, id, claims["sub"])
		sid, err := uuid.Parse(claims["sid"].(string))
		require.NoError(t, err)
		require.Equal(t, 7, int(sid.Version()), "session ids are UUIDv7")
		require.Contains(t, claims, "iat")
		require.Contains(t, claims, "exp")
	})
	sid := func() string {
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(token, claims)
		require.NoError(t, err)
		return claims["sid"].(string)
	}()

	cases := []struct {
		name   string
		header string
		detail string
	}{
		{"Missing", "", "Not authenticated"},
		{"WrongScheme", "Basic abc", "Authorization header must be 'Bearer <token>'"},
		{"EmptyBearer", "Bearer ", "Authorization header must be 'Bearer <token>'"},
		{"Garbage", "Bearer not-a-jwt", "Could not validate credentials"},
		{"WrongKey", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another-key"),
			jwt.MapClaims{"sub": id, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}), "Could not validate credentials"},
		{"Expired", "Bearer " + sign(jwt.SigningMethodHS256, secret,
			jwt.MapClaims{"sub": id, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), "Token has expired"},
		{"NoExp", "Bearer " + sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": id}), "Could not validate credentials"},
		{"NoneAlg", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			jwt.MapClaims{"sub": id, "exp": now.Add(time.Hour).Unix()}), "Could not validate credentials"},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, secret,
			jwt.MapClaims{"sub": id, "exp": now.Add(time.Hour).Unix()}), "Could not validate credentials"},
		{"SubNotUUID", "Bearer " + sign(jwt.SigningMethodHS256, secret,
			jwt.MapClaims{"sub": "admin", "exp": now.Add(time.Hour).Unix()}), "Could not validate credentials"},
		{"UnknownUser", "Bearer " + sign(jwt.SigningMethodHS256, secret,
			jwt.MapClaims{"sub": uuid.NewString(), "sid": sid, "exp": now.Add(time.Hour).Unix()}), "Session not found"},
		// Tokens issued before sessions existed name none: they could never
		// be revoked, so they are refused.
		{"NoSid", "Bearer " + sign(jwt.SigningMethodHS256, secret,
			jwt.MapClaims{"sub": id, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}), "Could not validate credentials"},
		{"UnknownSid", "Bearer " + sign(jwt.SigningMethodHS256, secret,
			jwt.MapClaims{"sub": id, "sid": uuid.NewString(), "exp": now.Add(time.Hour).Unix()}), "Session not found"},
		{"SidNotUUID", "Bearer " + sign(jwt.SigningMethodHS256, secret,
			jwt.MapClaims{"sub": id, "sid": "one", "exp": now.Add(time.Hour).Unix()}), "Could not validate credentials"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			headers := map[string]string{}
			if tt.header != "" {
				headers["Authorization"] = tt.header
			}
			res := e.do(req{method: "GET", path: "/v1/auth/me", headers: headers})
			require.Equal(t, http.StatusUnauthorized, res.Status, "%s", res.Raw)
			require.Equal(t, tt.detail, errorDetail(res))
			require.Equal(t, "unauthorized", errorCode(res))
			require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
		})
	}

	t.Run("LowerCaseSchemeWorks", func(t *testing.T) {
		res := e.do(req{method: "GET", path: "/v1/auth/me", headers: map[string]string{"Authorization": "bearer " + token}})
		require.Equal(t, http.StatusOK, res.Status)
	})
}

func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.AuthRateLimit = 3; c.AuthRateWindow = time.Minute })
	body := map[string]any{"email": "nobody@example.com", "password": "password1"}
	for i := 0; i < 3; i++ {
		res := e.do(req{method: "POST", path: "/v1/auth/login", body: body})
		require.Equal(t, http.StatusUnauthorized, res.Status)
	}
	// Register shares the bucket: the fourth attempt from this IP is refused.
	res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
		"username": "limited", "email": "limited@example.com", "password": "password1"}})
	require.Equal(t, http.StatusTooManyRequests, res.Status)
	require.Equal(t, "rate_limited", errorCode(res))
	require.NotEmpty(t, res.Header.Get("Retry-After"))

	// Another IP is unaffected.
	e.ip = "192.0.2." + fmt.Sprint(time.Now().UnixNano()%250+1)
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: body})
	require.Equal(t, http.StatusUnauthorized, res.Status)
}
