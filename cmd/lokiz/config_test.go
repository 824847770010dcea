package main

import (
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lokiz/lokiz/tasks"
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
	require.Equal(t, 24*time.Hour, c.Worker.NotificationGroupWindow)
	require.Equal(t, 30*time.Second, c.Worker.NotificationOutboxAge)
	require.Equal(t, 20*time.Second, c.ShutdownTimeout)
	require.Equal(t, slog.LevelInfo, c.Log.Level)
	require.Equal(t, "text", c.Log.Format)
	require.Equal(t, 5*time.Minute, c.Media.TrendingInterval)
	require.Equal(t, 5*time.Second, c.Media.FeedCacheTTL)
	require.Equal(t, "https://api.replicate.com/v1", c.AI.ReplicateBaseURL)
	require.Empty(t, c.AI.ReplicateToken, "no token: AI is off (dev starts the simulator)")
	require.Equal(t, 2*time.Second, c.AI.PollMin)
	require.Equal(t, 30*time.Second, c.AI.PollMax)
	require.Equal(t, 60*time.Second, c.AI.Timeout)
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

		"NOTIFICATION_GROUP_WINDOW": "6h",
		"NOTIFICATION_OUTBOX_AGE":   "2m",
	}))
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("k", 40), c.Auth.SecretKey)
	require.Equal(t, []string{"https://lokiz.app", "https://www.lokiz.app"}, c.HTTP.CORSOrigins)
	require.Equal(t, "json", c.Log.Format)
	require.Equal(t, slog.LevelWarn, c.Log.Level)
	require.Equal(t, 32, c.Worker.Concurrency)
	require.Equal(t, 6*time.Hour, c.Worker.NotificationGroupWindow)
	require.Equal(t, 2*time.Minute, c.Worker.NotificationOutboxAge)
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
		"REPLICATE_TIMEOUT":        "500ms",

		"NOTIFICATION_GROUP_WINDOW": "-1h",
		"NOTIFICATION_OUTBOX_AGE":   "0s",

		"DATABASE_READ_URL":            "mysql://y",
		"DATABASE_READ_CHECK_INTERVAL": "10ms",
		"OTEL_EXPORTER_OTLP_ENDPOINT":  "collector:4318",
		"OTEL_TRACES_SAMPLER_ARG":      "1.5",
	}))
	require.Error(t, err)
	for _, want := range []string{"LOKIZ_ENV", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "LOG_LEVEL", "LOG_FORMAT",
		"WORKER_CONCURRENCY", "SHUTDOWN_TIMEOUT", "BCRYPT_COST", "SECRET_KEY and SECRET_KEY_FILE", "TRENDING_INTERVAL", "FEED_CACHE_TTL",
		"REPLICATE_BASE_URL", "REPLICATE_WEBHOOK_SECRET", "AI_POLL_MIN", "REPLICATE_TIMEOUT", "NOTIFICATION_GROUP_WINDOW", "NOTIFICATION_OUTBOX_AGE",
		"DATABASE_READ_URL", "DATABASE_READ_CHECK_INTERVAL",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER_ARG"} {
		require.Contains(t, err.Error(), want)
	}
	require.Equal(t, 22, strings.Count(err.Error(), "\n  - "), err.Error())
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

// TestLoadConfigReadReplica: the read replica's settings, their defaults,
// and the window that must cover the lag bound plus a check.
func TestLoadConfigReadReplica(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Empty(t, c.DB.ReadURL)
	require.Equal(t, 5*time.Second, c.DB.ReadAfterWrite)
	require.Equal(t, 2*time.Second, c.DB.ReadMaxLag)
	require.Equal(t, time.Second, c.DB.ReadCheckInterval)

	c, err = LoadConfig(envMap(map[string]string{
		"DATABASE_READ_URL": "postgres://replica/lokiz", "DATABASE_READ_AFTER_WRITE": "2s",
		"DATABASE_READ_MAX_LAG": "0", "DATABASE_READ_CHECK_INTERVAL": "200ms",
	}))
	require.NoError(t, err)
	require.Equal(t, "postgres://replica/lokiz", c.DB.ReadURL)
	require.Equal(t, 2*time.Second, c.DB.ReadAfterWrite)
	require.Zero(t, c.DB.ReadMaxLag, "0 sets no bound")

	_, err = LoadConfig(envMap(map[string]string{
		"DATABASE_READ_URL": "postgres://replica/lokiz", "DATABASE_READ_AFTER_WRITE": "2s", "DATABASE_READ_MAX_LAG": "2s",
	}))
	require.ErrorContains(t, err, "DATABASE_READ_AFTER_WRITE (2s) must be at least DATABASE_READ_MAX_LAG + DATABASE_READ_CHECK_INTERVAL (3s)")
	for _, bad := range []map[string]string{
		{"DATABASE_READ_AFTER_WRITE": "0"},
		{"DATABASE_READ_AFTER_WRITE": "2h"},
		{"DATABASE_READ_MAX_LAG": "-1s"},
		{"DATABASE_READ_CHECK_INTERVAL": "2m"},
	} {
		_, err = LoadConfig(envMap(bad))
		require.Error(t, err, "%v", bad)
	}
}

// TestLoadConfigPrivacyLimits: the limits of issue 11's private searches
// and fair counters, their defaults and their bounds.
func TestLoadConfigPrivacyLimits(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, 3, c.Media.ViewAnonPerIP)
	require.Equal(t, 30, c.Media.ShareRateLimit)
	require.Equal(t, 60, c.Media.SearchHistoryRateLimit)
	require.Equal(t, 5, c.Media.AutocompleteMinSearchers)

	c, err = LoadConfig(envMap(map[string]string{
		"VIEW_ANON_PER_IP": "10", "SHARE_RATE_LIMIT": "5", "SEARCH_HISTORY_RATE_LIMIT": "20", "AUTOCOMPLETE_MIN_SEARCHERS": "1",
	}))
	require.NoError(t, err)
	require.Equal(t, 10, c.Media.ViewAnonPerIP)
	require.Equal(t, 5, c.Media.ShareRateLimit)
	require.Equal(t, 20, c.Media.SearchHistoryRateLimit)
	require.Equal(t, 1, c.Media.AutocompleteMinSearchers)

	_, err = LoadConfig(envMap(map[string]string{
		"VIEW_ANON_PER_IP": "0", "SHARE_RATE_LIMIT": "-1", "SEARCH_HISTORY_RATE_LIMIT": "many", "AUTOCOMPLETE_MIN_SEARCHERS": "0",
	}))
	require.Error(t, err)
	for _, want := range []string{"VIEW_ANON_PER_IP", "SHARE_RATE_LIMIT", "SEARCH_HISTORY_RATE_LIMIT", "AUTOCOMPLETE_MIN_SEARCHERS"} {
		require.Contains(t, err.Error(), want)
	}
	require.Equal(t, 4, strings.Count(err.Error(), "\n  - "), err.Error())
}

// TestRolesAreProductionByDefault: without LOKIZ_ENV, only the laptop roles
// run as development; every other role applies production's rules, and
// LOKIZ_ENV=development must be said explicitly.
func TestRolesAreProductionByDefault(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"dev", "seed", "replicate-sim"} {
		c, err := LoadRoleConfig(role, envMap(nil))
		require.NoError(t, err, role)
		require.Equal(t, "development", c.Env, role)
	}
	for _, role := range []string{"api", "worker", "scheduler", "dashboard", "migrate"} {
		_, err := LoadRoleConfig(role, envMap(nil))
		require.ErrorContains(t, err, "DATABASE_URL is required in production", role)
		c, err := LoadRoleConfig(role, envMap(map[string]string{"LOKIZ_ENV": "development"}))
		require.NoError(t, err, role)
		require.Equal(t, "development", c.Env, role)
	}
	c, err := LoadRoleConfig("dev", envMap(map[string]string{
		"LOKIZ_ENV": "production", "DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:6379", "SECRET_KEY": strings.Repeat("k", 40),
	}))
	require.NoError(t, err)
	require.True(t, c.Production(), "an explicit LOKIZ_ENV wins for every role")
}

// TestProductionNeedsCORSOrigins: production has no CORS default; the roles
// that serve the api refuse to start without one.
func TestProductionNeedsCORSOrigins(t *testing.T) {
	t.Parallel()
	prod := map[string]string{"LOKIZ_ENV": "production", "DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:6379", "SECRET_KEY": strings.Repeat("k", 40)}
	c, err := LoadConfig(envMap(prod))
	require.NoError(t, err)
	require.Empty(t, c.HTTP.CORSOrigins)
	require.ErrorContains(t, c.RequireCORSOrigins(), "CORS_ALLOWED_ORIGINS is required in production")

	prod["CORS_ALLOWED_ORIGINS"] = "https://lokiz.app"
	c, err = LoadConfig(envMap(prod))
	require.NoError(t, err)
	require.NoError(t, c.RequireCORSOrigins())

	dev, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.NoError(t, dev.RequireCORSOrigins(), "development keeps *")

	for _, bad := range []string{"lokiz.app", "https://lokiz.app/", "https://lokiz.app/path", "ftp://x"} {
		_, err := LoadConfig(envMap(map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.example, " + bad}))
		require.ErrorContains(t, err, "CORS_ALLOWED_ORIGINS", bad)
	}
}

func TestFeedCacheCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	for _, off := range []string{"0", "0s"} {
		c, err := LoadConfig(envMap(map[string]string{"FEED_CACHE_TTL": off}))
		require.NoError(t, err, off)
		require.Zero(t, c.Media.FeedCacheTTL, off)
	}
	_, err := LoadConfig(envMap(map[string]string{"FEED_CACHE_TTL": "-1s"}))
	require.ErrorContains(t, err, "FEED_CACHE_TTL")
}

func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(map[string]string{"METRICS_ADDR": "127.0.0.1:9100"}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9100", c.HTTP.MetricsAddr)
	for _, bad := range []string{"9100", ":8000"} {
		_, err := LoadConfig(envMap(map[string]string{"METRICS_ADDR": bad}))
		require.ErrorContains(t, err, "METRICS_ADDR", bad)
	}
}

// TestPprofAddr: profiles are opt-in and only on a loopback address.
func TestPprofAddr(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Empty(t, c.HTTP.PprofAddr, "off unless asked for")
	for _, good := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		c, err := LoadConfig(envMap(map[string]string{"PPROF_ADDR": good}))
		require.NoError(t, err, good)
		require.Equal(t, good, c.HTTP.PprofAddr)
	}
	for _, bad := range []string{"6060", ":6060", "0.0.0.0:6060", "10.0.0.5:6060", "example.com:6060", "127.0.0.1:8000"} {
		_, err := LoadConfig(envMap(map[string]string{"PPROF_ADDR": bad, "HTTP_ADDR": "127.0.0.1:8000"}))
		require.ErrorContains(t, err, "PPROF_ADDR", bad)
	}
}

// TestAIOutputConfig: the output allow-list and size cap, and production's
// https-only provider; the simulator's origin is allowed only in
// development with a plain-http provider, or for the simulator dev started.
func TestAIOutputConfig(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"replicate.delivery", "*.replicate.delivery"}, c.AI.OutputHosts)
	require.EqualValues(t, 500<<20, c.AI.OutputMaxBytes)
	a := &app{cfg: c}
	require.Empty(t, a.outputPolicy().Simulator, "the real provider: no exception")

	c, err = LoadConfig(envMap(map[string]string{"AI_OUTPUT_HOSTS": "cdn.example.com, *.files.example.com", "AI_OUTPUT_MAX_BYTES": "2048",
		"REPLICATE_BASE_URL": "http://127.0.0.1:8090/v1"}))
	require.NoError(t, err)
	require.Equal(t, []string{"cdn.example.com", "*.files.example.com"}, c.AI.OutputHosts)
	require.EqualValues(t, 2048, c.AI.OutputMaxBytes)
	a = &app{cfg: c}
	require.Equal(t, "http://127.0.0.1:8090", a.outputPolicy().Simulator, "development: the plain-http provider is a simulator")
	require.Equal(t, c.AI.OutputHosts, a.outputPolicy().Hosts)

	_, err = LoadConfig(envMap(map[string]string{"AI_OUTPUT_HOSTS": "https://cdn.example.com,10.0.0.1"}))
	require.ErrorContains(t, err, "AI_OUTPUT_HOSTS")

	prod := map[string]string{"LOKIZ_ENV": "production", "DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:6379",
		"SECRET_KEY": strings.Repeat("k", 40), "REPLICATE_BASE_URL": "http://127.0.0.1:8090/v1"}
	_, err = LoadConfig(envMap(prod))
	require.ErrorContains(t, err, "REPLICATE_BASE_URL must be https in production")
	prod["REPLICATE_BASE_URL"] = "https://replicate.internal.example/v1"
	c, err = LoadConfig(envMap(prod))
	require.NoError(t, err)
	require.Empty(t, (&app{cfg: c}).outputPolicy().Simulator)
	require.Equal(t, "http://127.0.0.1:5555", (&app{cfg: c, simOrigin: "http://127.0.0.1:5555"}).outputPolicy().Simulator,
		"the simulator a process started itself is its provider")
}

func TestLoadConfigPrivateMediaURLTTL(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, c.Storage.PrivateURLTTL, "private URLs live minutes by default")

	c, err = LoadConfig(envMap(map[string]string{"PRIVATE_MEDIA_URL_TTL": "90s"}))
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, c.Storage.PrivateURLTTL)

	for _, bad := range []string{"5s", "2h", "soon", "-1m"} {
		_, err := LoadConfig(envMap(map[string]string{"PRIVATE_MEDIA_URL_TTL": bad}))
		require.ErrorContains(t, err, "PRIVATE_MEDIA_URL_TTL", bad)
	}
}

func TestLoadConfigQuotas(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, QuotaConfig{
		AIJobsPerMinute: 20, AIJobsPerDay: 300,
		CapturesPerMinute: 30, CapturesPerDay: 1000,
		UploadsPerMinute: 20, UploadsPerDay: 300, UploadBytesPerDay: 5 << 30,
		CommentsPerMinute: 30, CommentsPerDay: 1000,
		ReportsPerMinute: 10, ReportsPerDay: 100,
		FrameMaxAge: 7 * 24 * time.Hour,
	}, c.Quota)

	c, err = LoadConfig(envMap(map[string]string{
		"QUOTA_AI_JOBS_PER_MINUTE":        "5",
		"QUOTA_AI_JOBS_PER_DAY":           "50",
		"QUOTA_FRAME_CAPTURES_PER_MINUTE": "6",
		"QUOTA_FRAME_CAPTURES_PER_DAY":    "60",
		"QUOTA_UPLOADS_PER_MINUTE":        "7",
		"QUOTA_UPLOADS_PER_DAY":           "70",
		"QUOTA_UPLOAD_BYTES_PER_DAY":      "10737418240",
		"QUOTA_COMMENTS_PER_MINUTE":       "8",
		"QUOTA_COMMENTS_PER_DAY":          "80",
		"QUOTA_REPORTS_PER_MINUTE":        "2",
		"QUOTA_REPORTS_PER_DAY":           "20",
		"FRAME_MAX_AGE":                   "48h",
	}))
	require.NoError(t, err)
	require.Equal(t, QuotaConfig{
		AIJobsPerMinute: 5, AIJobsPerDay: 50,
		CapturesPerMinute: 6, CapturesPerDay: 60,
		UploadsPerMinute: 7, UploadsPerDay: 70, UploadBytesPerDay: 10 << 30,
		CommentsPerMinute: 8, CommentsPerDay: 80,
		ReportsPerMinute: 2, ReportsPerDay: 20,
		FrameMaxAge: 48 * time.Hour,
	}, c.Quota)

	_, err = LoadConfig(envMap(map[string]string{
		"QUOTA_AI_JOBS_PER_MINUTE":   "0",
		"QUOTA_COMMENTS_PER_DAY":     "many",
		"QUOTA_UPLOAD_BYTES_PER_DAY": "-1",
		"FRAME_MAX_AGE":              "10m",
	}))
	require.Error(t, err)
	for _, want := range []string{"QUOTA_AI_JOBS_PER_MINUTE", "QUOTA_COMMENTS_PER_DAY", "QUOTA_UPLOAD_BYTES_PER_DAY", "FRAME_MAX_AGE"} {
		require.Contains(t, err.Error(), want)
	}
	require.Equal(t, 4, strings.Count(err.Error(), "\n  - "), err.Error())

	// A daily byte quota below the largest single upload could never be met.
	_, err = LoadConfig(envMap(map[string]string{"QUOTA_UPLOAD_BYTES_PER_DAY": "104857600", "VIDEO_MAX_BYTES": "209715200"}))
	require.ErrorContains(t, err, "QUOTA_UPLOAD_BYTES_PER_DAY must be at least VIDEO_MAX_BYTES")
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

// TestLoadConfigAPIKeys: the per-key rate limit and the cap of live keys
// per user, their defaults and their bounds.
func TestLoadConfigAPIKeys(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, 300, c.Auth.APIKeyRateLimit)
	require.Equal(t, 10, c.Auth.APIKeyMaxPerUser)

	c, err = LoadConfig(envMap(map[string]string{"API_KEY_RATE_PER_MIN": "60", "API_KEY_MAX_PER_USER": "3"}))
	require.NoError(t, err)
	require.Equal(t, 60, c.Auth.APIKeyRateLimit)
	require.Equal(t, 3, c.Auth.APIKeyMaxPerUser)

	_, err = LoadConfig(envMap(map[string]string{"API_KEY_RATE_PER_MIN": "0", "API_KEY_MAX_PER_USER": "lots"}))
	require.Error(t, err)
	require.Contains(t, err.Error(), "API_KEY_RATE_PER_MIN")
	require.Contains(t, err.Error(), "API_KEY_MAX_PER_USER")
}

func TestLoadConfigPayments(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(map[string]string{
		"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_WEBHOOK_SECRET": "whsec_abc", "STRIPE_API_BASE": "http://127.0.0.1:12111",
		"TOSS_SECRET_KEY": "test_sk", "TOSS_CLIENT_KEY": "test_ck", "TOSS_API_BASE": "http://127.0.0.1:9000",
		"PUBLIC_WEB_URL": "https://lokiz.app",
	}))
	require.NoError(t, err)
	sc, ok := c.Payments.Stripe()
	require.True(t, ok)
	require.Equal(t, "http://127.0.0.1:12111", sc.APIBase, "a loopback mock is fine in development")
	require.Equal(t, "https://lokiz.app/payments/success?session_id={CHECKOUT_SESSION_ID}", sc.SuccessURL)
	_, ok = c.Payments.Toss()
	require.True(t, ok)
	require.Equal(t, 10*time.Minute, c.Payments.PendingAfter)
	quick, err := LoadConfig(envMap(map[string]string{"PAYMENTS_RECONCILE_AFTER": "10s", "REPLICATE_TIMEOUT": "1s"}))
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, quick.Payments.PendingAfter, "the floor is 10s (the chaos suite's fast recovery)")
	require.Equal(t, time.Second, quick.AI.Timeout)

	off, err := LoadConfig(envMap(map[string]string{}))
	require.NoError(t, err)
	_, ok = off.Payments.Stripe()
	require.False(t, ok, "no key, no Stripe")
	_, ok = off.Payments.Toss()
	require.False(t, ok)

	_, err = LoadConfig(envMap(map[string]string{
		"LOKIZ_ENV": "production", "SECRET_KEY": strings.Repeat("k", 40), "CORS_ALLOWED_ORIGINS": "https://lokiz.app",
		"STRIPE_SECRET_KEY": "pk_live_wrong", "STRIPE_API_BASE": "http://127.0.0.1:12111",
		"TOSS_SECRET_KEY": "live_sk", "TOSS_API_BASE": "http://127.0.0.1:9000",
		"PAYMENTS_RECONCILE_AFTER": "5s",
	}))
	require.Error(t, err)
	for _, want := range []string{
		"STRIPE_SECRET_KEY must be a secret", "STRIPE_WEBHOOK_SECRET must be set", "STRIPE_API_BASE must be https in production",
		"TOSS_SECRET_KEY and TOSS_CLIENT_KEY are set together", "TOSS_API_BASE must be https in production",
		"TOSS_WEBHOOK_TOKEN is required in production", "PAYMENTS_RECONCILE_AFTER",
	} {
		require.Contains(t, err.Error(), want)
	}
}

// TestRealtimeConfig: the socket limits have their documented defaults,
// are read from WS_*, and refuse nonsense.
func TestRealtimeConfig(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, RealtimeConfig{MaxPerUser: 5, MaxConns: 20000, SendBuffer: 64, PingInterval: 30 * time.Second,
		PongTimeout: 10 * time.Second, SessionCheckInterval: 30 * time.Second}, c.Realtime)
	c, err = LoadConfig(envMap(map[string]string{"WS_MAX_PER_USER": "2", "WS_MAX_CONNS": "100", "WS_SEND_BUFFER": "8",
		"WS_PING_INTERVAL": "5s", "WS_PONG_TIMEOUT": "2s", "WS_SESSION_CHECK_INTERVAL": "1m"}))
	require.NoError(t, err)
	require.Equal(t, RealtimeConfig{MaxPerUser: 2, MaxConns: 100, SendBuffer: 8, PingInterval: 5 * time.Second,
		PongTimeout: 2 * time.Second, SessionCheckInterval: time.Minute}, c.Realtime)
	_, err = LoadConfig(envMap(map[string]string{"WS_MAX_PER_USER": "0", "WS_PING_INTERVAL": "10ms"}))
	require.Error(t, err)
	require.Contains(t, err.Error(), "WS_MAX_PER_USER")
	require.Contains(t, err.Error(), "WS_PING_INTERVAL")
}

// TestLoadConfigTrustedCountryHeader: off by default, a header name when
// set, anything else refused.
func TestLoadConfigTrustedCountryHeader(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.Empty(t, c.Media.TrustedCountryHeader)
	c, err = LoadConfig(envMap(map[string]string{"TRUSTED_COUNTRY_HEADER": "CF-IPCountry"}))
	require.NoError(t, err)
	require.Equal(t, "CF-IPCountry", c.Media.TrustedCountryHeader)
	_, err = LoadConfig(envMap(map[string]string{"TRUSTED_COUNTRY_HEADER": "CF IPCountry:"}))
	require.ErrorContains(t, err, "TRUSTED_COUNTRY_HEADER")
}

// TestLoadConfigReconcileKnobs: the reconcilers keep their production
// timing unless told otherwise (the chaos suite shortens it), and a period
// the cron library would round is refused.
func TestLoadConfigReconcileKnobs(t *testing.T) {
	t.Parallel()
	base := map[string]string{"LOKIZ_ENV": "development", "DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:6379"}
	c, err := LoadConfig(envMap(base))
	require.NoError(t, err)
	require.Equal(t, 20*time.Minute, c.Worker.VideoStuckAfter)
	require.Equal(t, 2*time.Minute, c.Worker.AIStuckAfter)
	require.Equal(t, 15*time.Minute, c.Worker.FramesStuckAfter)
	require.Zero(t, c.Worker.ReconcileInterval, "the cron table by default")

	set := maps.Clone(base)
	set["VIDEO_STUCK_AFTER"], set["AI_STUCK_AFTER"], set["RECONCILE_INTERVAL"], set["FRAMES_STUCK_AFTER"] = "20s", "15s", "5s", "10s"
	c, err = LoadConfig(envMap(set))
	require.NoError(t, err)
	require.Equal(t, []time.Duration{20 * time.Second, 15 * time.Second, 5 * time.Second, 10 * time.Second},
		[]time.Duration{c.Worker.VideoStuckAfter, c.Worker.AIStuckAfter, c.Worker.ReconcileInterval, c.Worker.FramesStuckAfter})

	bad := maps.Clone(base)
	bad["VIDEO_STUCK_AFTER"], bad["RECONCILE_INTERVAL"], bad["FRAMES_STUCK_AFTER"] = "500ms", "1500ms", "100ms"
	_, err = LoadConfig(envMap(bad))
	require.ErrorContains(t, err, "VIDEO_STUCK_AFTER and AI_STUCK_AFTER must be at least 1s")
	require.ErrorContains(t, err, "FRAMES_STUCK_AFTER must be at least 1s")
	require.ErrorContains(t, err, "RECONCILE_INTERVAL must be a whole number of seconds")
}

// The pool limits that turn overload into 503s: defaults sized in
// docs/benchmarks.md, overridable, and refused out of range.
func TestLoadConfigPoolLimits(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(nil))
	require.NoError(t, err)
	require.EqualValues(t, 20, c.DB.MaxConns)
	require.Equal(t, time.Second, c.DB.PoolWait)
	require.Equal(t, 100, c.Redis.PoolSize)
	require.Equal(t, time.Second, c.Redis.PoolTimeout)

	c, err = LoadConfig(envMap(map[string]string{
		"DB_MAX_CONNS": "40", "DB_POOL_WAIT_TIMEOUT": "250ms", "REDIS_POOL_SIZE": "300", "REDIS_POOL_TIMEOUT": "2s",
	}))
	require.NoError(t, err)
	require.EqualValues(t, 40, c.DB.MaxConns)
	require.Equal(t, 250*time.Millisecond, c.DB.PoolWait)
	require.Equal(t, 300, c.Redis.PoolSize)
	require.Equal(t, 2*time.Second, c.Redis.PoolTimeout)

	_, err = LoadConfig(envMap(map[string]string{
		"DB_MAX_CONNS": "0", "DB_POOL_WAIT_TIMEOUT": "5m", "REDIS_POOL_SIZE": "none", "REDIS_POOL_TIMEOUT": "0s",
	}))
	require.Error(t, err)
	for _, want := range []string{"DB_MAX_CONNS", "DB_POOL_WAIT_TIMEOUT", "REDIS_POOL_SIZE", "REDIS_POOL_TIMEOUT"} {
		require.Contains(t, err.Error(), want)
	}
	require.Equal(t, 4, strings.Count(err.Error(), "\n  - "), err.Error())
}

// TestWorkerQueues: WORKER_QUEUES picks the queues a worker process
// serves, each with its usual weight; unset is every queue, and a name
// that is not a queue is a configuration error that lists the queues.
func TestWorkerQueues(t *testing.T) {
	c, err := LoadConfig(envMap(map[string]string{"LOKIZ_ENV": "development"}))
	require.NoError(t, err)
	require.Equal(t, tasks.QueueWeights(), c.Worker.Queues)

	c, err = LoadConfig(envMap(map[string]string{"LOKIZ_ENV": "development", "WORKER_QUEUES": " ai_priority, ai ,critical"}))
	require.NoError(t, err)
	all := tasks.QueueWeights()
	require.Equal(t, map[string]int{tasks.QueueAIPriority: all[tasks.QueueAIPriority], tasks.QueueAI: all[tasks.QueueAI],
		tasks.QueueCritical: all[tasks.QueueCritical]}, c.Worker.Queues)

	_, err = LoadConfig(envMap(map[string]string{"LOKIZ_ENV": "development", "WORKER_QUEUES": "media,ffmpeg"}))
	require.ErrorContains(t, err, `WORKER_QUEUES: unknown queue "ffmpeg"`)
	require.ErrorContains(t, err, "ai, ai_priority, critical, default, email, low, media")
}

// TestLoadConfigRedisURLForms: REDIS_URL takes a server, a Sentinel set or
// a Cluster node list (internal/redisurl), and refuses the rest at startup
// without echoing a password.
func TestLoadConfigRedisURLForms(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"redis://127.0.0.1:6379/0",
		"rediss://:pw@cache.example:6380/1",
		"redis-sentinel://s1:26379,s2:26379,s3:26379/mymaster",
		"redis-sentinel://:pw@s1:26379,s2:26379/mymaster/2?sentinel_password=x",
		"redis-cluster://n1:7000,n2:7001,n3:7002",
		"redis-cluster://:pw@n1:7000/0",
	} {
		c, err := LoadConfig(envMap(map[string]string{"REDIS_URL": ok}))
		require.NoError(t, err, ok)
		require.Equal(t, ok, c.Redis.URL)
	}
	for bad, want := range map[string]string{
		"redis-sentinel://s1:26379,s2:26379":         "master's name",
		"redis-cluster://:hunter2@n1:7000,n2:7001/3": "only database 0",
		"redis-sentinel://:hunter2@s1:x/m":           "bad address",
		"memcached://x":                              "unknown scheme",
	} {
		_, err := LoadConfig(envMap(map[string]string{"REDIS_URL": bad}))
		require.ErrorContains(t, err, "REDIS_URL: ", bad)
		require.ErrorContains(t, err, want, bad)
		require.NotContains(t, err.Error(), "hunter2")
		require.Equal(t, 1, strings.Count(err.Error(), "\n  - "), err.Error())
	}
}

// TestLoadConfigTracing: tracing is off unless an OTLP endpoint is set; the
// traces endpoint is used as is, the base endpoint gets /v1/traces; the
// sampling ratio defaults to 1.
func TestLoadConfigTracing(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envMap(map[string]string{}))
	require.NoError(t, err)
	require.False(t, c.Tracing.On())
	require.Equal(t, 1.0, c.Tracing.SampleRatio)

	c, err = LoadConfig(envMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}))
	require.NoError(t, err)
	require.True(t, c.Tracing.On())
	require.Equal(t, "http://collector:4318/v1/traces", c.Tracing.Endpoint)

	c, err = LoadConfig(envMap(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://collector:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.com/otlp/v1/traces",
		"OTEL_SERVICE_NAME":                  "lokiz-api-eu",
		"OTEL_TRACES_SAMPLER_ARG":            "0.25",
	}))
	require.NoError(t, err)
	require.Equal(t, "https://traces.example.com/otlp/v1/traces", c.Tracing.Endpoint)
	require.Equal(t, "lokiz-api-eu", c.Tracing.ServiceName)
	require.Equal(t, 0.25, c.Tracing.SampleRatio)
}
