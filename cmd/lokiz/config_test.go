package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, "development", c.Env)
	require.Equal(t, ":8000", c.HTTP.Addr)
	require.Equal(t, ":8081", c.Dash.Addr)
	require.Equal(t, "http://localhost:8000", c.HTTP.PublicBaseURL)
	require.Equal(t, []string{"*"}, c.HTTP.CORSOrigins)
	require.Equal(t, "postgres://postgres:postgres@127.0.0.1:5432/lokiz?sslmode=disable", c.DB.URL)
	require.Equal(t, "redis://127.0.0.1:6379/0", c.Redis.URL)
	require.Equal(t, 7*24*time.Hour, c.Auth.TokenTTL)
	require.Equal(t, 30*24*time.Hour, c.Auth.RefreshTokenTTL)
	require.Equal(t, 12, c.Auth.BcryptCost)
	require.Equal(t, 10, c.Worker.Concurrency)
	require.Equal(t, 20*time.Second, c.ShutdownTimeout)
	require.Equal(t, slog.LevelInfo, c.Log.Level)
	require.Equal(t, "text", c.Log.Format)
	require.Equal(t, 5*time.Minute, c.Media.TrendingInterval)
	require.Equal(t, 5*time.Second, c.Media.FeedCacheTTL)
	require.Equal(t, "https://api.replicate.com/v1", c.AI.ReplicateBaseURL)
	require.Empty(t, c.AI.ReplicateToken, "no token: AI is off (dev starts the simulator)")
	require.Equal(t, 2*time.Second, c.AI.PollMin)
	require.Equal(t, 30*time.Second, c.AI.PollMax)
	require.Len(t, c.Auth.SecretKey, 64, "development generates a key")
	require.Len(t, c.Warnings, 2, "generated SECRET_KEY and default dashboard password are announced")
}

func TestLoadConfigProductionRequiresSecrets(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(envMap(map[string]string{"LOKIZ_ENV": "production"}))
	require.Error(t, err)
	msg := err.Error()
	// Every problem is reported at once.
	for _, want := range []string{"DATABASE_URL is required", "REDIS_URL is required", "SECRET_KEY is required"} {
		require.Contains(t, msg, want)
	}
	require.True(t, strings.HasPrefix(msg, "invalid configuration:\n  - "), msg)
}

func TestLoadConfigProduction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(strings.Repeat("k", 40)+"\n"), 0o600))
	c, err := LoadConfig(envMap(map[string]string{
		"LOKIZ_ENV":            "production",
		"DATABASE_URL":         "postgres://u:p@db:5432/lokiz",
		"REDIS_URL":            "rediss://cache:6380/2",
		"SECRET_KEY_FILE":      secretFile,
		"CORS_ALLOWED_ORIGINS": "https://lokiz.app, https://www.lokiz.app",
		"LOG_LEVEL":            "warn",
		"WORKER_CONCURRENCY":   "32",
		"SHUTDOWN_TIMEOUT":     "45s",
	}))
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("k", 40), c.Auth.SecretKey)
	require.Equal(t, []string{"https://lokiz.app", "https://www.lokiz.app"}, c.HTTP.CORSOrigins)
	require.Equal(t, "json", c.Log.Format)
	require.Equal(t, slog.LevelWarn, c.Log.Level)
	require.Equal(t, 32, c.Worker.Concurrency)
	require.Equal(t, 45*time.Second, c.ShutdownTimeout)
	require.Empty(t, c.Dash.Password, "production has no default dashboard password")
	require.Error(t, c.RequireDashboardPassword())
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(envMap(map[string]string{
		"LOKIZ_ENV":                "staging",
		"DATABASE_URL":             "mysql://x",
		"REDIS_URL":                "http://x",
		"PUBLIC_BASE_URL":          "not a url",
		"LOG_LEVEL":                "loud",
		"LOG_FORMAT":               "xml",
		"WORKER_CONCURRENCY":       "0",
		"SHUTDOWN_TIMEOUT":         "soon",
		"BCRYPT_COST":              "99",
		"SECRET_KEY":               "x",
		"SECRET_KEY_FILE":          "/also/set",
		"TRENDING_INTERVAL":        "1500ms",
		"FEED_CACHE_TTL":           "1h",
		"REPLICATE_BASE_URL":       "ftp://x",
		"REPLICATE_WEBHOOK_SECRET": "plain",
		"AI_POLL_MIN":              "10ms",
	}))
	require.Error(t, err)
	for _, want := range []string{"LOKIZ_ENV", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "LOG_LEVEL", "LOG_FORMAT",
		"WORKER_CONCURRENCY", "SHUTDOWN_TIMEOUT", "BCRYPT_COST", "SECRET_KEY and SECRET_KEY_FILE", "TRENDING_INTERVAL", "FEED_CACHE_TTL",
		"REPLICATE_BASE_URL", "REPLICATE_WEBHOOK_SECRET", "AI_POLL_MIN"} {
		require.Contains(t, err.Error(), want)
	}
	require.Equal(t, 15, strings.Count(err.Error(), "\n  - "), err.Error())
}

func TestLoadConfigShortSecretInProduction(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(envMap(map[string]string{
		"LOKIZ_ENV": "production", "DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:6379",
		"SECRET_KEY": "short", "BCRYPT_COST": "4",
	}))
	require.ErrorContains(t, err, "SECRET_KEY must be at least 32 characters")
	require.ErrorContains(t, err, "BCRYPT_COST must be at least 10 in production")
}

func TestLoadConfigRefreshTokenTTL(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(map[string]string{"ACCESS_TOKEN_TTL": "15m", "REFRESH_TOKEN_TTL": "48h"}))
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, c.Auth.TokenTTL)
	require.Equal(t, 48*time.Hour, c.Auth.RefreshTokenTTL)

	_, err = LoadConfig(envMap(map[string]string{"REFRESH_TOKEN_TTL": "soon"}))
	require.ErrorContains(t, err, "REFRESH_TOKEN_TTL must be a positive duration")
	_, err = LoadConfig(envMap(map[string]string{"ACCESS_TOKEN_TTL": "48h", "REFRESH_TOKEN_TTL": "1h"}))
	require.ErrorContains(t, err, "REFRESH_TOKEN_TTL (1h0m0s) must not be shorter than ACCESS_TOKEN_TTL (48h0m0s)")
}
