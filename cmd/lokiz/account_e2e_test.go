package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// TestAccountJourney runs the session and account lifecycle through a real
// `lokiz dev`: a refresh, a logout that ends one session only, and an
// account deletion whose erase task, on the dev process's worker, deletes
// the stored video (its signed URL then answers 404); then the mail
// journey (verification with the welcome credits, a password reset) on the
// same process.
func TestAccountJourney(t *testing.T) {
	t.Parallel()
	const redisIndex = 10 // its own database: 15 is the hostile-provider journey's
	dbURL := dbtest.NewEmptyDB(t)
	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	c := startDev(t, map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("x", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
		"ACCESS_TOKEN_TTL": "15m", "REFRESH_TOKEN_TTL": "24h",
		// No SMTP_HOST: `lokiz dev` captures the mail (mailJourney).
		"WELCOME_CREDITS_AFTER_VERIFICATION": "true",
	})

	status, reg := c.call("POST", "/v1/auth/register", "", map[string]any{"username": "journey_leaver", "email": "leaver@example.com", "password": "leaver-password"})
	require.Equal(t, http.StatusCreated, status, "%v", reg)
	require.InDelta(t, (15 * time.Minute).Seconds(), reg["expires_in"], 5, "ACCESS_TOKEN_TTL reaches the api")
	status, refreshed := c.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": reg["refresh_token"]})
	require.Equal(t, http.StatusOK, status, "%v", refreshed)
	token := refreshed["access_token"].(string)
	status, other := c.call("POST", "/v1/auth/login", "", map[string]any{"username": "journey_leaver", "password": "leaver-password"})
	require.Equal(t, http.StatusOK, status, "%v", other)

	status, _ = c.call("POST", "/v1/auth/logout", other["access_token"].(string), nil)
	require.Equal(t, http.StatusNoContent, status)
	status, _ = c.call("GET", "/v1/auth/me", other["access_token"].(string), nil)
	require.Equal(t, http.StatusUnauthorized, status, "the logged-out session is over")
	status, _ = c.call("GET", "/v1/videos/feed", other["access_token"].(string), nil)
	require.Equal(t, http.StatusUnauthorized, status, "also on an optional-auth route")
	status, _ = c.call("GET", "/v1/auth/me", token, nil)
	require.Equal(t, http.StatusOK, status, "the other session goes on")

	video := c.uploadVideo(token, "last video")
	status, v := c.call("GET", "/v1/videos/"+video, "", nil)
	require.Equal(t, http.StatusOK, status)
	videoURL := v["video_url"].(string)
	require.NotEmpty(t, c.download(videoURL))

	status, _ = c.call("DELETE", "/v1/users/me", token, map[string]any{"password": "leaver-password"})
	require.Equal(t, http.StatusNoContent, status)
	status, _ = c.call("GET", "/v1/videos/"+video, "", nil)
	require.Equal(t, http.StatusNotFound, status, "the video is gone from reads at once")
	require.Eventually(t, func() bool {
		resp, err := c.client.Get(videoURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound
	}, 60*time.Second, 200*time.Millisecond, "the worker never erased the stored video; logs:\n%s", c.logs)
	status, _ = c.call("POST", "/v1/auth/register", "", map[string]any{"username": "journey_leaver", "email": "leaver@example.com", "password": "another-password"})
	require.Equal(t, http.StatusCreated, status, "the username and email are free again")

	mailJourney(t, c)
}
