package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/internal/redisurl"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/tracing"
	"github.com/lokiz/lokiz/worker"
)

// Connection pool defaults, sized in docs/benchmarks.md: 2,000 concurrent
// clients on one api process queue on these pools for at most the wait and
// are then shed with 503 overloaded, instead of waiting without limit.
const (
	// defaultDBMaxConns: PostgreSQL's default max_connections is 100; four
	// processes (api, worker, scheduler, dashboard) at 20 leave room for
	// migrations, psql and a second api replica's first connections.
	defaultDBMaxConns = 20
	// defaultDBPoolWait: a listing answers in a few milliseconds, so a
	// request that found no connection in a second is behind a queue it is
	// better to shed; shorter waits shed more than they save on a busy
	// machine (docs/benchmarks.md: 500ms let 1% of 2,000 clients through,
	// 1s 5%, 2s 31%).
	defaultDBPoolWait = time.Second
	// defaultRedisPoolSize and defaultRedisPoolTimeout: Redis serves one
	// client's commands in microseconds; 100 sockets keep rate limits and
	// counters off the critical path, and a second's wait is the most a
	// request spends queueing for one.
	defaultRedisPoolSize    = 100
	defaultRedisPoolTimeout = time.Second
)

// Config is everything the processes read from the environment. LoadConfig
// parses and checks it all before any connection is opened, and reports every
// problem at once.
type Config struct {
	// Env is LOKIZ_ENV: development or production. Unset, it is
	// development for the laptop roles (dev, seed, replicate-sim) and
	// production for every other (see LoadRoleConfig).
	Env     string
	Log     LogConfig
	DB      DBConfig
	Redis   RedisConfig
	HTTP    HTTPConfig
	Auth    AuthConfig
	Worker  WorkerConfig
	Dash    DashboardConfig
	Storage StorageConfig
	Media   MediaConfig
	AI      AIConfig
	Quota   QuotaConfig
	// Payments configures Stripe and Toss Payments.
	Payments PaymentsConfig
	// Email configures outgoing mail.
	Email EmailConfig
	// Realtime configures the api's notification WebSocket.
	Realtime RealtimeConfig
	// Tracing configures OpenTelemetry tracing (off unless an OTLP endpoint
	// is set).
	Tracing TracingConfig
	// ShutdownTimeout bounds the drain of every role (SHUTDOWN_TIMEOUT, default 20s).
	ShutdownTimeout time.Duration
	// Warnings are non-fatal notes found while loading (a generated secret).
	Warnings []string
}

// TracingConfig configures OpenTelemetry tracing, read from the SDK's
// standard variables. Tracing is on when an OTLP endpoint is set.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP traces URL:
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT
	// with /v1/traces appended; empty (both unset) turns tracing off.
	Endpoint string
	// ServiceName is OTEL_SERVICE_NAME; empty means lokiz-<role>.
	ServiceName string
	// SampleRatio is the share of new traces recorded
	// (OTEL_TRACES_SAMPLER_ARG, 0 to 1, default 1): parent-based, so a
	// task continues its request's decision.
	SampleRatio float64
}

// On reports whether tracing is configured.
func (c TracingConfig) On() bool { return c.Endpoint != "" }

// LogConfig configures the process logger.
type LogConfig struct {
	Level  slog.Level // LOG_LEVEL: debug, info (default), warn, error
	Format string     // LOG_FORMAT: text (development default) or json (production default)
}

// DBConfig configures Postgres.
type DBConfig struct {
	URL              string        // DATABASE_URL
	MaxConns         int32         // DB_MAX_CONNS, default 20 per process
	StatementTimeout time.Duration // DB_STATEMENT_TIMEOUT, default 30s
	// PoolWait bounds a request's wait for a free connection when all
	// MaxConns are busy (DB_POOL_WAIT_TIMEOUT, default 1s); past it the
	// api answers 503 overloaded with Retry-After.
	PoolWait time.Duration
	// ReadURL is a streaming replica of DATABASE_URL's database
	// (DATABASE_READ_URL, default none): the api sends the reads of its
	// feed, search, profile and list routes there (db/replica.go). Unset,
	// every statement goes to DATABASE_URL.
	ReadURL string
	// ReadAfterWrite is the read-your-writes window (DATABASE_READ_AFTER_WRITE,
	// default 5s): after a signed-in caller's write, their reads go to the
	// primary this long. At least ReadMaxLag + ReadCheckInterval when
	// ReadMaxLag bounds the lag.
	ReadAfterWrite time.Duration
	// ReadMaxLag is the replica's replay lag past which reads go to the
	// primary (DATABASE_READ_MAX_LAG, default 2s; 0 means no bound).
	ReadMaxLag time.Duration
	// ReadCheckInterval is how often the api checks the replica
	// (DATABASE_READ_CHECK_INTERVAL, default 1s, 100ms-1m).
	ReadCheckInterval time.Duration
}

// RedisConfig configures Redis.
type RedisConfig struct {
	URL string // REDIS_URL
	// PoolSize is the client's connections per process (REDIS_POOL_SIZE,
	// default 100).
	PoolSize int
	// PoolTimeout bounds the wait for a free connection (REDIS_POOL_TIMEOUT,
	// default 1s); past it the api answers 503 overloaded.
	PoolTimeout time.Duration
}

// HTTPConfig configures the api's listener and edge behaviour.
type HTTPConfig struct {
	Addr           string   // HTTP_ADDR, default :8000
	PublicBaseURL  string   // PUBLIC_BASE_URL, default http://localhost:8000
	PublicWebURL   string   // PUBLIC_WEB_URL: the web app, base of share links; default PUBLIC_BASE_URL
	CORSOrigins    []string // CORS_ALLOWED_ORIGINS, comma separated; default * in development, required in production
	TrustedProxies []string // TRUSTED_PROXIES, comma separated CIDRs/IPs, default none
	// MetricsAddr (METRICS_ADDR) is a separate listen address for the api's
	// Prometheus metrics; empty serves them nowhere but on the dashboard of
	// `lokiz dev`. They are never on the public api port.
	MetricsAddr string
	// PprofAddr (PPROF_ADDR) is an opt-in loopback listen address for the
	// api's net/http/pprof profiles (/debug/pprof/...); empty serves them
	// nowhere. Only a loopback host is accepted: profiles show internals.
	PprofAddr string
}

// AuthConfig configures tokens, password hashing and auth rate limits.
type AuthConfig struct {
	SecretKey        string        // SECRET_KEY
	TokenTTL         time.Duration // ACCESS_TOKEN_TTL, default 168h (7 days); use minutes in production
	RefreshTokenTTL  time.Duration // REFRESH_TOKEN_TTL, default 720h (30 days)
	BcryptCost       int           // BCRYPT_COST, default 12
	RateLimit        int           // AUTH_RATE_LIMIT: attempts per window per IP, default 20
	RateLimitWindow  time.Duration // AUTH_RATE_LIMIT_WINDOW, default 1m
	APIKeyRateLimit  int           // API_KEY_RATE_PER_MIN: requests per API key per minute, default 300
	APIKeyMaxPerUser int           // API_KEY_MAX_PER_USER: a user's API keys not revoked, default 10
}

// StorageConfig configures where uploads and media live.
type StorageConfig struct {
	Backend     string // STORAGE_BACKEND: local (default) or s3
	Dir         string // STORAGE_DIR, default ./data (local)
	S3Bucket    string // S3_BUCKET (s3)
	S3Region    string // S3_REGION, default us-east-1
	S3Endpoint  string // S3_ENDPOINT: an S3-compatible server; path-style when set
	S3PublicURL string // S3_PUBLIC_URL: a CDN in front of the bucket for downloads
	// S3AccessKeyID and S3SecretAccessKey (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)
	// are explicit keys for S3-compatible providers; when unset the standard
	// AWS chain (AWS_ACCESS_KEY_ID, profiles, instance roles) applies.
	S3AccessKeyID     string
	S3SecretAccessKey string
	UploadTTL         time.Duration // UPLOAD_URL_TTL, default 1h
	URLTTL            time.Duration // MEDIA_URL_TTL, default 6h: least lifetime of rendered download URLs
	// PrivateURLTTL (PRIVATE_MEDIA_URL_TTL, default 5m, 10s to 1h) is the
	// lifetime of the always-signed URLs of private objects.
	PrivateURLTTL time.Duration
}

// MediaConfig configures uploads, the media tasks and views.
type MediaConfig struct {
	VideoMaxBytes     int64         // VIDEO_MAX_BYTES, default 500 MiB
	ImageMaxBytes     int64         // IMAGE_MAX_BYTES, default 10 MiB
	VideoMaxDuration  time.Duration // VIDEO_MAX_DURATION, default 10m
	ViewFlushInterval time.Duration // VIEW_FLUSH_INTERVAL, default 10s
	TrendingInterval  time.Duration // TRENDING_INTERVAL, default 5m
	FeedCacheTTL      time.Duration // FEED_CACHE_TTL: anonymous first feed pages, default 5s, 0 turns it off
	AdminStatsTTL     time.Duration // ADMIN_STATS_CACHE_TTL: GET /v1/admin/stats cache, default 30s, 1s to 10m
	ViewRateLimit     int           // VIEW_RATE_LIMIT: view requests per IP per minute, default 300
	ReportRateLimit   int           // REPORT_RATE_LIMIT: reports per IP per hour, default 30
	SearchRateLimit   int           // SEARCH_RATE_LIMIT: searches per IP per minute, default 600
	// ViewAnonPerIP (VIEW_ANON_PER_IP, default 3) is how many anonymous
	// views of one video count from one client IP per day.
	ViewAnonPerIP int
	// TrustedCountryHeader (TRUSTED_COUNTRY_HEADER, default off) names the
	// header a trusted proxy sets to the client's country code; set it only
	// when every request passes through such a proxy, which overwrites it.
	TrustedCountryHeader string
	// ShareRateLimit (SHARE_RATE_LIMIT, default 30) caps share requests per
	// user (anonymous: per IP) per minute.
	ShareRateLimit int
	// SearchHistoryRateLimit (SEARCH_HISTORY_RATE_LIMIT, default 60) caps
	// POST /v1/search/history per user per minute.
	SearchHistoryRateLimit int
	// AutocompleteMinSearchers (AUTOCOMPLETE_MIN_SEARCHERS, default 5) is how
	// many distinct users must have searched a query in the last 7 days
	// before autocomplete suggests it to others.
	AutocompleteMinSearchers int
}

// AIConfig configures the AI jobs and their Replicate account.
type AIConfig struct {
	// ReplicateToken (REPLICATE_API_TOKEN) is the API token. Without one the
	// worker runs no AI tasks and the AI job routes answer 503; `lokiz dev`
	// then starts the bundled simulator instead.
	ReplicateToken string
	// ReplicateBaseURL (REPLICATE_BASE_URL) is the API root, default
	// https://api.replicate.com/v1; the simulator's is <sim>/v1.
	ReplicateBaseURL string
	// WebhookSecret (REPLICATE_WEBHOOK_SECRET, "whsec_..."): with it,
	// predictions report to PUBLIC_BASE_URL/v1/webhooks/replicate; without
	// it jobs are polled only.
	WebhookSecret string
	// CatalogFile (AI_CATALOG_FILE) replaces the built-in model catalog.
	CatalogFile string
	// PollMin and PollMax (AI_POLL_MIN, default 2s; AI_POLL_MAX, default
	// 30s) bound the backoff of the polls that back webhooks up.
	PollMin, PollMax time.Duration
	// Timeout (REPLICATE_TIMEOUT, default 60s, at least 1s) bounds each
	// request to Replicate's API: a request unanswered that long is given
	// up and retried by its task.
	Timeout time.Duration
	// OutputHosts (AI_OUTPUT_HOSTS, comma separated, default Replicate's
	// delivery hosts) are the only hosts outputs are downloaded from, over
	// https, and never from an internal address.
	OutputHosts []string
	// OutputMaxBytes (AI_OUTPUT_MAX_BYTES, default 500 MiB) bounds each
	// downloaded output.
	OutputMaxBytes int64
}

// PaymentsConfig configures the payment providers. A provider without its
// secret key is off: its routes answer 503 and no order names it.
type PaymentsConfig struct {
	// StripeSecretKey (STRIPE_SECRET_KEY, sk_… or rk_…) turns Stripe on;
	// StripeWebhookSecret (STRIPE_WEBHOOK_SECRET, whsec_…) is then required.
	StripeSecretKey     string
	StripeWebhookSecret string
	// StripeAPIBase (STRIPE_API_BASE, default https://api.stripe.com): http
	// is accepted on a loopback address only (stripe-mock), never in
	// production.
	StripeAPIBase string
	// StripeSuccessURL and StripeCancelURL (STRIPE_SUCCESS_URL,
	// STRIPE_CANCEL_URL) are where Checkout sends the payer back; Stripe puts
	// the session id at {CHECKOUT_SESSION_ID}. Default: the web app
	// (PUBLIC_WEB_URL) + /payments/success and /payments/cancel.
	StripeSuccessURL, StripeCancelURL string
	// StripeLocale (STRIPE_CHECKOUT_LOCALE) is the hosted page's language.
	StripeLocale string
	// TossSecretKey and TossClientKey (TOSS_SECRET_KEY, TOSS_CLIENT_KEY) turn
	// Toss Payments on; both are needed.
	TossSecretKey, TossClientKey string
	// TossAPIBase (TOSS_API_BASE, default https://api.tosspayments.com):
	// http on a loopback address only (the simulator), never in production.
	TossAPIBase string
	// TossWebhookToken (TOSS_WEBHOOK_TOKEN) must be in the webhook URL
	// registered with Toss (…/v1/webhooks/toss?token=…); required in
	// production, since Toss does not sign its payment webhooks.
	TossWebhookToken string
	// PendingAfter (PAYMENTS_RECONCILE_AFTER, default 10m) is how long an
	// order may stay pending before the reconciler asks its provider.
	PendingAfter time.Duration
}

// Stripe is the Stripe provider's configuration; ok is false when Stripe is off.
func (c PaymentsConfig) Stripe() (cfg payments.StripeConfig, ok bool) {
	return payments.StripeConfig{
		SecretKey: c.StripeSecretKey, WebhookSecret: c.StripeWebhookSecret, APIBase: c.StripeAPIBase,
		SuccessURL: c.StripeSuccessURL, CancelURL: c.StripeCancelURL, Locale: c.StripeLocale,
	}, c.StripeSecretKey != ""
}

// Toss is the Toss provider's configuration; ok is false when Toss is off.
func (c PaymentsConfig) Toss() (cfg payments.TossConfig, ok bool) {
	return payments.TossConfig{
		SecretKey: c.TossSecretKey, ClientKey: c.TossClientKey, BaseURL: c.TossAPIBase, WebhookToken: c.TossWebhookToken,
	}, c.TossSecretKey != ""
}

// QuotaConfig holds the per-user quotas on costly work (429 with
// Retry-After once spent) and the lifetime of captured frames.
type QuotaConfig struct {
	AIJobsPerMinute   int           // QUOTA_AI_JOBS_PER_MINUTE, default 20
	AIJobsPerDay      int           // QUOTA_AI_JOBS_PER_DAY, default 300
	CapturesPerMinute int           // QUOTA_FRAME_CAPTURES_PER_MINUTE, default 30
	CapturesPerDay    int           // QUOTA_FRAME_CAPTURES_PER_DAY, default 1000
	UploadsPerMinute  int           // QUOTA_UPLOADS_PER_MINUTE: upload URLs, default 20
	UploadsPerDay     int           // QUOTA_UPLOADS_PER_DAY, default 300
	UploadBytesPerDay int64         // QUOTA_UPLOAD_BYTES_PER_DAY, default 5 GiB
	CommentsPerMinute int           // QUOTA_COMMENTS_PER_MINUTE, default 30
	CommentsPerDay    int           // QUOTA_COMMENTS_PER_DAY, default 1000
	ReportsPerMinute  int           // QUOTA_REPORTS_PER_MINUTE, default 10
	ReportsPerDay     int           // QUOTA_REPORTS_PER_DAY, default 100
	FrameMaxAge       time.Duration // FRAME_MAX_AGE: captured frames are deleted after it, default 168h (7 days)
}

// EmailConfig configures outgoing mail (mail.Config) and its rules.
type EmailConfig struct {
	// SMTP is where mail goes (SMTP_HOST, SMTP_PORT, SMTP_USERNAME,
	// SMTP_PASSWORD, SMTP_FROM, SMTP_TLS, SMTP_ALLOW_PLAINTEXT). Without
	// SMTP_HOST no mail is sent (`lokiz dev` then starts a capture server).
	SMTP mail.Config
	// DigestPeriod (EMAIL_DIGEST_PERIOD, default 1h, 1m to 168h) is the
	// least time between two notification digests of one user.
	DigestPeriod time.Duration
	// WelcomeAfterVerification (WELCOME_CREDITS_AFTER_VERIFICATION, default
	// false) grants the welcome credits at the first e-mail verification
	// instead of at registration. Needs mail.
	WelcomeAfterVerification bool
	// RequestLimit (EMAIL_REQUEST_LIMIT, default 5) caps verification-mail
	// requests per user and reset requests per address, per hour.
	RequestLimit int
}

// Enabled reports whether mail can be sent.
func (c EmailConfig) Enabled() bool { return c.SMTP.Host != "" }

// RealtimeConfig holds the limits of WS /v1/notifications/ws, per api
// process.
type RealtimeConfig struct {
	MaxPerUser   int           // WS_MAX_PER_USER: one user's sockets per api process, default 5
	MaxConns     int           // WS_MAX_CONNS: sockets per api process, default 20000
	SendBuffer   int           // WS_SEND_BUFFER: events waiting per socket before it is dropped as too slow, default 64
	PingInterval time.Duration // WS_PING_INTERVAL, default 30s
	PongTimeout  time.Duration // WS_PONG_TIMEOUT, default 10s
	// SessionCheckInterval (WS_SESSION_CHECK_INTERVAL, default 30s) is how
	// often the sessions of open sockets are re-read from Postgres.
	SessionCheckInterval time.Duration
}

// WorkerConfig configures the asynq server.
type WorkerConfig struct {
	Concurrency int // WORKER_CONCURRENCY, default 10
	// Queues (WORKER_QUEUES, default every queue) are the queues this
	// process serves, with tasks.QueueWeights' weights: a fleet can give
	// ffmpeg work (media) and Replicate work (ai, ai_priority) processes
	// of their own (docs/scaling.md).
	Queues map[string]int
	// NotificationGroupWindow is NOTIFICATION_GROUP_WINDOW, default 24h: how
	// long after its first event a grouped notification (likes of a video,
	// follows, glitches of a video) still takes new actors while unread.
	NotificationGroupWindow time.Duration
	// NotificationOutboxAge is NOTIFICATION_OUTBOX_AGE, default 30s: how
	// old a notification's outbox row must be (its fast-path task lost)
	// before notify:outbox enqueues its delivery again.
	NotificationOutboxAge time.Duration
	// VideoStuckAfter (VIDEO_STUCK_AFTER, default 20m) is how long a video
	// may stay processing before videos:reconcile enqueues its finalize
	// again; AIStuckAfter (AI_STUCK_AFTER, default 2m) is how long an open
	// AI job may go untouched before ai:reconcile resumes it.
	VideoStuckAfter time.Duration
	AIStuckAfter    time.Duration
	// FramesStuckAfter (FRAMES_STUCK_AFTER, default 15m) is how long a
	// frame capture may stay pending before frames:reconcile enqueues it
	// again.
	FramesStuckAfter time.Duration
	// ReconcileInterval (RECONCILE_INTERVAL, unset by default) runs the
	// reconcilers (videos, ai, frames, payments) "@every" this period
	// instead of their cron minutes; the chaos suite sets it to seconds.
	ReconcileInterval time.Duration
}

// DashboardConfig configures `lokiz dashboard`.
type DashboardConfig struct {
	Addr     string // DASHBOARD_ADDR, default :8081
	User     string // DASHBOARD_USER, default admin
	Password string // DASHBOARD_PASSWORD (required in production)
}

// Production reports whether LOKIZ_ENV is production.
func (c Config) Production() bool { return c.Env == "production" }

// developmentRoles are the roles that run as development when LOKIZ_ENV is
// unset: the laptop mode and its helpers. Every other role is production
// unless LOKIZ_ENV=development says otherwise.
var developmentRoles = map[string]bool{"dev": true, "seed": true, "replicate-sim": true}

// LoadRoleConfig is LoadConfig for the named role: safe by default, an
// unset LOKIZ_ENV means production for every role but dev, seed and
// replicate-sim.
func LoadRoleConfig(role string, getenv func(string) string) (Config, error) {
	return LoadConfig(func(name string) string {
		if v := getenv(name); name != "LOKIZ_ENV" || strings.TrimSpace(v) != "" || developmentRoles[role] {
			return v
		}
		return "production"
	})
}

// LoadConfig reads the configuration through getenv (os.Getenv in main, a map
// in tests). Secrets also accept NAME_FILE, a path whose content is the value.
// An unset LOKIZ_ENV is development here; the roles read their
// configuration through LoadRoleConfig.
func LoadConfig(getenv func(string) string) (Config, error) {
	p := &parser{getenv: getenv}
	var c Config

	c.Env = p.str("LOKIZ_ENV", "development")
	if c.Env != "development" && c.Env != "production" {
		p.fail("LOKIZ_ENV must be development or production, not %q", c.Env)
	}
	prod := c.Env == "production"

	c.Log.Level = p.level("LOG_LEVEL", slog.LevelInfo)
	c.Log.Format = p.str("LOG_FORMAT", map[bool]string{true: "json", false: "text"}[prod])
	if c.Log.Format != "text" && c.Log.Format != "json" {
		p.fail("LOG_FORMAT must be text or json, not %q", c.Log.Format)
	}

	devDB := "postgres://postgres:postgres@127.0.0.1:5432/lokiz?sslmode=disable"
	devRedis := "redis://127.0.0.1:6379/0"
	if prod {
		devDB, devRedis = "", ""
	}
	c.DB.URL = p.secret("DATABASE_URL", devDB)
	if c.DB.URL == "" {
		p.fail("DATABASE_URL is required in production")
	} else if u, err := url.Parse(c.DB.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		p.fail("DATABASE_URL must be a postgres:// URL")
	}
	c.DB.MaxConns = int32(p.intIn("DB_MAX_CONNS", defaultDBMaxConns, 1, 1000))
	c.DB.StatementTimeout = p.duration("DB_STATEMENT_TIMEOUT", 30*time.Second)
	c.DB.PoolWait = p.duration("DB_POOL_WAIT_TIMEOUT", defaultDBPoolWait)
	if c.DB.PoolWait > time.Minute {
		p.fail("DB_POOL_WAIT_TIMEOUT must be at most 1m, not %s", c.DB.PoolWait)
	}
	c.DB.ReadURL = p.secret("DATABASE_READ_URL", "")
	if u, err := url.Parse(c.DB.ReadURL); c.DB.ReadURL != "" && (err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql")) {
		p.fail("DATABASE_READ_URL must be a postgres:// URL")
	}
	c.DB.ReadAfterWrite = p.duration("DATABASE_READ_AFTER_WRITE", 5*time.Second)
	c.DB.ReadMaxLag = p.durationOrOff("DATABASE_READ_MAX_LAG", 2*time.Second)
	c.DB.ReadCheckInterval = p.duration("DATABASE_READ_CHECK_INTERVAL", time.Second)
	if c.DB.ReadCheckInterval < 100*time.Millisecond || c.DB.ReadCheckInterval > time.Minute {
		p.fail("DATABASE_READ_CHECK_INTERVAL must be between 100ms and 1m, not %s", c.DB.ReadCheckInterval)
	}
	if c.DB.ReadAfterWrite > time.Hour {
		p.fail("DATABASE_READ_AFTER_WRITE must be at most 1h, not %s", c.DB.ReadAfterWrite)
	}
	if c.DB.ReadURL != "" && c.DB.ReadMaxLag > 0 && c.DB.ReadAfterWrite < c.DB.ReadMaxLag+c.DB.ReadCheckInterval {
		p.fail("DATABASE_READ_AFTER_WRITE (%s) must be at least DATABASE_READ_MAX_LAG + DATABASE_READ_CHECK_INTERVAL (%s): "+
			"otherwise a caller may read the replica before it holds their change", c.DB.ReadAfterWrite, c.DB.ReadMaxLag+c.DB.ReadCheckInterval)
	}

	c.Redis.URL = p.secret("REDIS_URL", devRedis)
	if c.Redis.URL == "" {
		p.fail("REDIS_URL is required in production")
	} else if _, err := redisurl.Parse(c.Redis.URL); err != nil {
		p.fail("REDIS_URL: %v (forms: redis://host:port/db, redis-sentinel://host1:port1,host2:port2/<master-name>[/db], redis-cluster://host1:port1,host2:port2)", err)
	}
	c.Redis.PoolSize = p.intIn("REDIS_POOL_SIZE", defaultRedisPoolSize, 1, 10000)
	c.Redis.PoolTimeout = p.duration("REDIS_POOL_TIMEOUT", defaultRedisPoolTimeout)
	if c.Redis.PoolTimeout > time.Minute {
		p.fail("REDIS_POOL_TIMEOUT must be at most 1m, not %s", c.Redis.PoolTimeout)
	}

	c.HTTP.Addr = p.str("HTTP_ADDR", ":8000")
	c.HTTP.PublicBaseURL = strings.TrimRight(p.str("PUBLIC_BASE_URL", "http://localhost:8000"), "/")
	if u, err := url.Parse(c.HTTP.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("PUBLIC_BASE_URL must be an absolute http(s) URL, not %q", c.HTTP.PublicBaseURL)
	}
	c.HTTP.PublicWebURL = strings.TrimRight(p.str("PUBLIC_WEB_URL", ""), "/")
	if c.HTTP.PublicWebURL == "" {
		c.HTTP.PublicWebURL = c.HTTP.PublicBaseURL
	} else if u, err := url.Parse(c.HTTP.PublicWebURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("PUBLIC_WEB_URL must be an absolute http(s) URL, not %q", c.HTTP.PublicWebURL)
	}
	// Production names its origins: a forgotten variable must not open the
	// api to every site (checked by the roles that serve the api).
	c.HTTP.CORSOrigins = p.list("CORS_ALLOWED_ORIGINS", map[bool][]string{false: {"*"}}[prod])
	for _, o := range c.HTTP.CORSOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "") {
			p.fail("CORS_ALLOWED_ORIGINS: %q is not * or an origin such as https://app.example.com", o)
		}
	}
	c.HTTP.TrustedProxies = p.list("TRUSTED_PROXIES", nil)
	c.HTTP.MetricsAddr = p.str("METRICS_ADDR", "")
	if c.HTTP.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.MetricsAddr); err != nil {
			p.fail("METRICS_ADDR must be host:port or :port, not %q", c.HTTP.MetricsAddr)
		} else if c.HTTP.MetricsAddr == c.HTTP.Addr {
			p.fail("METRICS_ADDR must differ from HTTP_ADDR: metrics stay off the public api port")
		}
	}
	c.HTTP.PprofAddr = p.str("PPROF_ADDR", "")
	if c.HTTP.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.HTTP.PprofAddr)
		ip := net.ParseIP(host)
		if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			p.fail("PPROF_ADDR must be a loopback host:port such as 127.0.0.1:6060, not %q", c.HTTP.PprofAddr)
		} else if c.HTTP.PprofAddr == c.HTTP.Addr || c.HTTP.PprofAddr == c.HTTP.MetricsAddr {
			p.fail("PPROF_ADDR must differ from HTTP_ADDR and METRICS_ADDR")
		}
	}

	c.Auth.SecretKey = p.secret("SECRET_KEY", "")
	switch {
	case c.Auth.SecretKey == "" && prod:
		p.fail("SECRET_KEY is required in production (at least 32 characters)")
	case c.Auth.SecretKey == "":
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		c.Auth.SecretKey = hex.EncodeToString(b)
		c.Warnings = append(c.Warnings, "SECRET_KEY is not set: using a random key for this process; tokens will not survive a restart and other processes cannot verify them")
	case len(c.Auth.SecretKey) < 32 && prod:
		p.fail("SECRET_KEY must be at least 32 characters in production")
	}
	c.Auth.TokenTTL = p.duration("ACCESS_TOKEN_TTL", 7*24*time.Hour)
	c.Auth.RefreshTokenTTL = p.duration("REFRESH_TOKEN_TTL", 30*24*time.Hour)
	if c.Auth.RefreshTokenTTL < c.Auth.TokenTTL {
		p.fail("REFRESH_TOKEN_TTL (%s) must not be shorter than ACCESS_TOKEN_TTL (%s)", c.Auth.RefreshTokenTTL, c.Auth.TokenTTL)
	}
	c.Auth.BcryptCost = p.intIn("BCRYPT_COST", 12, 4, 16)
	if prod && c.Auth.BcryptCost < 10 {
		p.fail("BCRYPT_COST must be at least 10 in production")
	}
	c.Auth.RateLimit = p.intIn("AUTH_RATE_LIMIT", 20, 1, 100000)
	c.Auth.RateLimitWindow = p.duration("AUTH_RATE_LIMIT_WINDOW", time.Minute)
	c.Auth.APIKeyRateLimit = p.intIn("API_KEY_RATE_PER_MIN", 300, 1, 1000000)
	c.Auth.APIKeyMaxPerUser = p.intIn("API_KEY_MAX_PER_USER", 10, 1, 1000)

	c.Worker.Concurrency = p.intIn("WORKER_CONCURRENCY", 10, 1, 1000)
	c.Worker.Queues = p.workerQueues("WORKER_QUEUES")
	c.Worker.NotificationGroupWindow = p.duration("NOTIFICATION_GROUP_WINDOW", db.DefaultNotificationGroupWindow)
	c.Worker.NotificationOutboxAge = p.duration("NOTIFICATION_OUTBOX_AGE", db.DefaultNotificationOutboxAge)
	c.Worker.VideoStuckAfter = p.duration("VIDEO_STUCK_AFTER", worker.StuckAfter)
	c.Worker.AIStuckAfter = p.duration("AI_STUCK_AFTER", worker.AIStuckAfter)
	if c.Worker.VideoStuckAfter < time.Second || c.Worker.AIStuckAfter < time.Second {
		p.fail("VIDEO_STUCK_AFTER and AI_STUCK_AFTER must be at least 1s")
	}
	c.Worker.FramesStuckAfter = p.duration("FRAMES_STUCK_AFTER", worker.FramesStuckAfter)
	if c.Worker.FramesStuckAfter < time.Second {
		p.fail("FRAMES_STUCK_AFTER must be at least 1s")
	}
	c.Worker.ReconcileInterval = p.durationOrOff("RECONCILE_INTERVAL", 0)
	if c.Worker.ReconcileInterval != 0 && (c.Worker.ReconcileInterval < time.Second || c.Worker.ReconcileInterval%time.Second != 0) {
		p.fail("RECONCILE_INTERVAL must be a whole number of seconds, at least 1s")
	}

	c.Dash.Addr = p.str("DASHBOARD_ADDR", ":8081")
	c.Dash.User = p.str("DASHBOARD_USER", "admin")
	c.Dash.Password = p.secret("DASHBOARD_PASSWORD", "")
	if c.Dash.Password == "" && !prod {
		c.Dash.Password = "lokiz"
		c.Warnings = append(c.Warnings, "DASHBOARD_PASSWORD is not set: the dashboard accepts the development password \"lokiz\"")
	}

	c.Storage.Backend = p.str("STORAGE_BACKEND", "local")
	c.Storage.Dir = p.str("STORAGE_DIR", "./data")
	c.Storage.S3Bucket = p.str("S3_BUCKET", "")
	c.Storage.S3Region = p.str("S3_REGION", "us-east-1")
	c.Storage.S3Endpoint = p.str("S3_ENDPOINT", "")
	c.Storage.S3PublicURL = p.str("S3_PUBLIC_URL", "")
	c.Storage.S3AccessKeyID = p.str("S3_ACCESS_KEY_ID", "")
	c.Storage.S3SecretAccessKey = p.secret("S3_SECRET_ACCESS_KEY", "")
	if (c.Storage.S3AccessKeyID == "") != (c.Storage.S3SecretAccessKey == "") {
		p.fail("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together")
	}
	switch c.Storage.Backend {
	case "local":
	case "s3":
		if c.Storage.S3Bucket == "" {
			p.fail("S3_BUCKET is required when STORAGE_BACKEND is s3")
		}
	default:
		p.fail("STORAGE_BACKEND must be local or s3, not %q", c.Storage.Backend)
	}
	c.Storage.UploadTTL = p.duration("UPLOAD_URL_TTL", time.Hour)
	c.Storage.URLTTL = p.duration("MEDIA_URL_TTL", 6*time.Hour)
	c.Storage.PrivateURLTTL = p.duration("PRIVATE_MEDIA_URL_TTL", 5*time.Minute)
	if c.Storage.PrivateURLTTL < 10*time.Second || c.Storage.PrivateURLTTL > time.Hour {
		p.fail("PRIVATE_MEDIA_URL_TTL must be from 10s to 1h")
	}

	c.Media.VideoMaxBytes = int64(p.intIn("VIDEO_MAX_BYTES", 500<<20, 1<<10, 5<<30))
	c.Media.ImageMaxBytes = int64(p.intIn("IMAGE_MAX_BYTES", 10<<20, 1<<10, 100<<20))
	c.Media.VideoMaxDuration = p.duration("VIDEO_MAX_DURATION", 10*time.Minute)
	c.Media.ViewFlushInterval = p.duration("VIEW_FLUSH_INTERVAL", 10*time.Second)
	if c.Media.ViewFlushInterval < time.Second || c.Media.ViewFlushInterval%time.Second != 0 {
		p.fail("VIEW_FLUSH_INTERVAL must be a whole number of seconds, at least 1s")
	}
	c.Media.TrendingInterval = p.duration("TRENDING_INTERVAL", 5*time.Minute)
	if c.Media.TrendingInterval < time.Second || c.Media.TrendingInterval%time.Second != 0 {
		p.fail("TRENDING_INTERVAL must be a whole number of seconds, at least 1s")
	}
	c.Media.FeedCacheTTL = p.durationOrOff("FEED_CACHE_TTL", 5*time.Second)
	c.Media.AdminStatsTTL = p.duration("ADMIN_STATS_CACHE_TTL", 30*time.Second)
	if c.Media.AdminStatsTTL < time.Second || c.Media.AdminStatsTTL > 10*time.Minute {
		p.fail("ADMIN_STATS_CACHE_TTL must be from 1s to 10m")
	}
	if c.Media.FeedCacheTTL < 0 || c.Media.FeedCacheTTL > time.Minute {
		p.fail("FEED_CACHE_TTL must be from 0 (off) to 1m")
	}
	c.Media.ViewRateLimit = p.intIn("VIEW_RATE_LIMIT", 300, 1, 1000000)
	c.Media.ReportRateLimit = p.intIn("REPORT_RATE_LIMIT", 30, 1, 100000)
	c.Media.SearchRateLimit = p.intIn("SEARCH_RATE_LIMIT", 600, 1, 1000000)
	c.Media.ViewAnonPerIP = p.intIn("VIEW_ANON_PER_IP", 3, 1, 1000000)
	c.Media.TrustedCountryHeader = p.str("TRUSTED_COUNTRY_HEADER", "")
	if h := c.Media.TrustedCountryHeader; h != "" && !headerNameRE.MatchString(h) {
		p.fail("TRUSTED_COUNTRY_HEADER must be a header name (letters, digits and dashes)")
	}
	c.Media.ShareRateLimit = p.intIn("SHARE_RATE_LIMIT", 30, 1, 1000000)
	c.Media.SearchHistoryRateLimit = p.intIn("SEARCH_HISTORY_RATE_LIMIT", 60, 1, 1000000)
	c.Media.AutocompleteMinSearchers = p.intIn("AUTOCOMPLETE_MIN_SEARCHERS", 5, 1, 1000000)

	c.AI.ReplicateToken = p.secret("REPLICATE_API_TOKEN", "")
	c.AI.ReplicateBaseURL = strings.TrimRight(p.str("REPLICATE_BASE_URL", "https://api.replicate.com/v1"), "/")
	if u, err := url.Parse(c.AI.ReplicateBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("REPLICATE_BASE_URL must be an absolute http(s) URL, not %q", c.AI.ReplicateBaseURL)
	} else if prod && u.Scheme != "https" {
		// A plain-http provider is a simulator, whose outputs the worker
		// fetches from its own address (see app.outputPolicy): development only.
		p.fail("REPLICATE_BASE_URL must be https in production")
	}
	c.AI.WebhookSecret = p.secret("REPLICATE_WEBHOOK_SECRET", "")
	if c.AI.WebhookSecret != "" && !strings.HasPrefix(c.AI.WebhookSecret, "whsec_") {
		p.fail("REPLICATE_WEBHOOK_SECRET must be the whsec_... key from Replicate's webhook settings")
	}
	c.AI.CatalogFile = p.str("AI_CATALOG_FILE", "")
	c.AI.OutputHosts = p.list("AI_OUTPUT_HOSTS", replicate.DefaultOutputHosts)
	if err := (replicate.OutputPolicy{Hosts: c.AI.OutputHosts}).Validate(); err != nil {
		p.fail("AI_OUTPUT_HOSTS: %v", err)
	}
	c.AI.OutputMaxBytes = int64(p.intIn("AI_OUTPUT_MAX_BYTES", 500<<20, 1<<10, 5<<30))
	c.AI.PollMin = p.duration("AI_POLL_MIN", 2*time.Second)
	c.AI.PollMax = p.duration("AI_POLL_MAX", 30*time.Second)
	if c.AI.PollMin < 100*time.Millisecond || c.AI.PollMax < c.AI.PollMin {
		p.fail("AI_POLL_MIN must be at least 100ms and AI_POLL_MAX at least AI_POLL_MIN")
	}
	c.AI.Timeout = p.duration("REPLICATE_TIMEOUT", 60*time.Second)
	if c.AI.Timeout < time.Second {
		p.fail("REPLICATE_TIMEOUT must be at least 1s")
	}

	c.Payments = p.paymentsConfig(prod, c.HTTP)
	c.Email = p.emailConfig(prod)

	c.Quota.AIJobsPerMinute = p.intIn("QUOTA_AI_JOBS_PER_MINUTE", 20, 1, 1000000)
	c.Quota.AIJobsPerDay = p.intIn("QUOTA_AI_JOBS_PER_DAY", 300, 1, 1000000)
	c.Quota.CapturesPerMinute = p.intIn("QUOTA_FRAME_CAPTURES_PER_MINUTE", 30, 1, 1000000)
	c.Quota.CapturesPerDay = p.intIn("QUOTA_FRAME_CAPTURES_PER_DAY", 1000, 1, 1000000)
	c.Quota.UploadsPerMinute = p.intIn("QUOTA_UPLOADS_PER_MINUTE", 20, 1, 1000000)
	c.Quota.UploadsPerDay = p.intIn("QUOTA_UPLOADS_PER_DAY", 300, 1, 1000000)
	c.Quota.UploadBytesPerDay = p.bytes("QUOTA_UPLOAD_BYTES_PER_DAY", 5<<30, 1<<20, 1<<50)
	if c.Quota.UploadBytesPerDay < max(c.Media.VideoMaxBytes, c.Media.ImageMaxBytes) {
		p.fail("QUOTA_UPLOAD_BYTES_PER_DAY must be at least VIDEO_MAX_BYTES and IMAGE_MAX_BYTES, or no upload of the largest size could ever be signed")
	}
	c.Quota.CommentsPerMinute = p.intIn("QUOTA_COMMENTS_PER_MINUTE", 30, 1, 1000000)
	c.Quota.CommentsPerDay = p.intIn("QUOTA_COMMENTS_PER_DAY", 1000, 1, 1000000)
	c.Quota.ReportsPerMinute = p.intIn("QUOTA_REPORTS_PER_MINUTE", 10, 1, 1000000)
	c.Quota.ReportsPerDay = p.intIn("QUOTA_REPORTS_PER_DAY", 100, 1, 1000000)
	c.Quota.FrameMaxAge = p.duration("FRAME_MAX_AGE", 7*24*time.Hour)
	if c.Quota.FrameMaxAge < time.Hour {
		p.fail("FRAME_MAX_AGE must be at least 1h: frames are AI inputs the user just picked")
	}

	c.Realtime.MaxPerUser = p.intIn("WS_MAX_PER_USER", 5, 1, 1000)
	c.Realtime.MaxConns = p.intIn("WS_MAX_CONNS", 20000, 1, 10000000)
	c.Realtime.SendBuffer = p.intIn("WS_SEND_BUFFER", 64, 1, 100000)
	c.Realtime.PingInterval = p.duration("WS_PING_INTERVAL", 30*time.Second)
	c.Realtime.PongTimeout = p.duration("WS_PONG_TIMEOUT", 10*time.Second)
	c.Realtime.SessionCheckInterval = p.duration("WS_SESSION_CHECK_INTERVAL", 30*time.Second)
	if c.Realtime.PingInterval < time.Second || c.Realtime.PongTimeout < time.Second || c.Realtime.SessionCheckInterval < time.Second {
		p.fail("WS_PING_INTERVAL, WS_PONG_TIMEOUT and WS_SESSION_CHECK_INTERVAL must be at least 1s")
	}

	c.ShutdownTimeout = p.duration("SHUTDOWN_TIMEOUT", 20*time.Second)

	c.Tracing = p.tracingConfig()

	if len(p.errs) > 0 {
		return Config{}, errors.New("invalid configuration:\n  - " + strings.Join(p.errs, "\n  - "))
	}
	return c, nil
}

// RequireCORSOrigins is checked by the roles that serve the api: production
// needs CORS_ALLOWED_ORIGINS set.
func (c Config) RequireCORSOrigins() error {
	if len(c.HTTP.CORSOrigins) == 0 {
		return errors.New("invalid configuration:\n  - CORS_ALLOWED_ORIGINS is required in production (the web app's origins, comma separated)")
	}
	return nil
}

// RequireDashboardPassword is checked by the roles that serve the dashboard.
func (c Config) RequireDashboardPassword() error {
	if c.Dash.Password == "" {
		return errors.New("invalid configuration:\n  - DASHBOARD_PASSWORD is required in production to serve the dashboard")
	}
	return nil
}

type parser struct {
	getenv func(string) string
	errs   []string
}

// headerNameRE is what TRUSTED_COUNTRY_HEADER may be: an HTTP header name.
var headerNameRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)

func (p *parser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

// secret reads NAME, or the content of the file named by NAME_FILE.
func (p *parser) secret(name, def string) string {
	v := p.getenv(name)
	if file := p.getenv(name + "_FILE"); file != "" {
		if v != "" {
			p.fail("%s and %s_FILE are both set; use one", name, name)
			return ""
		}
		b, err := os.ReadFile(file)
		if err != nil {
			p.fail("%s_FILE: cannot read %s", name, file)
			return ""
		}
		v = strings.TrimSpace(string(b))
	}
	if v == "" {
		return def
	}
	return v
}

// tracingConfig reads the OpenTelemetry variables.
func (p *parser) tracingConfig() TracingConfig {
	var c TracingConfig
	if v := p.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""); v != "" {
		if err := tracing.CheckEndpoint(v); err != nil {
			p.fail("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT %v, not %q", err, v)
		}
		c.Endpoint = v
	} else if v := p.str("OTEL_EXPORTER_OTLP_ENDPOINT", ""); v != "" {
		if err := tracing.CheckEndpoint(v); err != nil {
			p.fail("OTEL_EXPORTER_OTLP_ENDPOINT %v, not %q", err, v)
		}
		c.Endpoint = strings.TrimRight(v, "/") + "/v1/traces"
	}
	c.ServiceName = p.str("OTEL_SERVICE_NAME", "")
	c.SampleRatio = 1
	if v := p.str("OTEL_TRACES_SAMPLER_ARG", ""); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			p.fail("OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, not %q", v)
		}
		c.SampleRatio = r
	}
	return c
}

// paymentsConfig reads the payment providers' settings. A provider's other
// settings are checked only when its key turns it on.
func (p *parser) paymentsConfig(prod bool, h HTTPConfig) PaymentsConfig {
	var c PaymentsConfig
	c.StripeSecretKey = p.secret("STRIPE_SECRET_KEY", "")
	c.StripeWebhookSecret = p.secret("STRIPE_WEBHOOK_SECRET", "")
	c.StripeAPIBase = strings.TrimRight(p.str("STRIPE_API_BASE", payments.StripeAPIBase), "/")
	web := cmp.Or(h.PublicWebURL, h.PublicBaseURL)
	c.StripeSuccessURL = p.str("STRIPE_SUCCESS_URL", web+"/payments/success?session_id={CHECKOUT_SESSION_ID}")
	c.StripeCancelURL = p.str("STRIPE_CANCEL_URL", web+"/payments/cancel")
	c.StripeLocale = p.str("STRIPE_CHECKOUT_LOCALE", "")
	if c.StripeSecretKey != "" {
		if !strings.HasPrefix(c.StripeSecretKey, "sk_") && !strings.HasPrefix(c.StripeSecretKey, "rk_") {
			p.fail("STRIPE_SECRET_KEY must be a secret (sk_...) or restricted (rk_...) key")
		}
		if !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
			p.fail("STRIPE_WEBHOOK_SECRET must be set to the endpoint's signing secret (whsec_...) when STRIPE_SECRET_KEY is")
		}
		if _, err := payments.CheckAPIBase(c.StripeAPIBase); err != nil {
			p.fail("STRIPE_API_BASE: %v", err)
		} else if prod && !strings.HasPrefix(c.StripeAPIBase, "https://") {
			p.fail("STRIPE_API_BASE must be https in production")
		}
	}
	c.TossSecretKey = p.secret("TOSS_SECRET_KEY", "")
	c.TossClientKey = p.str("TOSS_CLIENT_KEY", "")
	c.TossAPIBase = strings.TrimRight(p.str("TOSS_API_BASE", payments.DefaultTossBaseURL), "/")
	c.TossWebhookToken = p.secret("TOSS_WEBHOOK_TOKEN", "")
	if c.TossSecretKey != "" || c.TossClientKey != "" {
		if c.TossSecretKey == "" || c.TossClientKey == "" {
			p.fail("TOSS_SECRET_KEY and TOSS_CLIENT_KEY are set together or not at all")
		}
		if prod && !strings.HasPrefix(c.TossAPIBase, "https://") {
			p.fail("TOSS_API_BASE must be https in production")
		}
		if prod && c.TossWebhookToken == "" {
			p.fail("TOSS_WEBHOOK_TOKEN is required in production: Toss does not sign its webhooks")
		}
		if _, err := payments.NewToss(payments.TossConfig{SecretKey: "x", ClientKey: "x", BaseURL: c.TossAPIBase}); err != nil {
			p.fail("TOSS_API_BASE: %v", err)
		}
	}
	c.PendingAfter = p.duration("PAYMENTS_RECONCILE_AFTER", 10*time.Minute)
	if c.PendingAfter < 10*time.Second {
		p.fail("PAYMENTS_RECONCILE_AFTER must be at least 10s")
	}
	return c
}

// emailConfig reads the SMTP settings and the mail rules.
func (p *parser) emailConfig(prod bool) EmailConfig {
	var c EmailConfig
	c.SMTP = mail.Config{
		Host: p.str("SMTP_HOST", ""), Port: p.intIn("SMTP_PORT", 0, 0, 65535),
		Username: p.str("SMTP_USERNAME", ""), Password: p.secret("SMTP_PASSWORD", ""),
		From: p.str("SMTP_FROM", "LOKIZ <no-reply@localhost>"), TLS: p.str("SMTP_TLS", mail.TLSStartTLS),
		AllowPlaintext: p.boolean("SMTP_ALLOW_PLAINTEXT", false),
	}
	if c.SMTP.Host != "" && prod && strings.TrimSpace(p.getenv("SMTP_FROM")) == "" {
		p.fail("SMTP_FROM is required in production with SMTP_HOST (an address of your domain, e.g. \"LOKIZ <no-reply@lokiz.app>\")")
	}
	if c.SMTP.Host != "" {
		if err := c.SMTP.Validate(prod); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				p.fail("%s", e)
			}
		}
	}
	c.DigestPeriod = p.duration("EMAIL_DIGEST_PERIOD", mail.DefaultDigestPeriod)
	if c.DigestPeriod < time.Second || c.DigestPeriod > 7*24*time.Hour {
		p.fail("EMAIL_DIGEST_PERIOD must be from 1s to 168h")
	}
	c.WelcomeAfterVerification = p.boolean("WELCOME_CREDITS_AFTER_VERIFICATION", false)
	if c.WelcomeAfterVerification && c.SMTP.Host == "" && prod {
		p.fail("WELCOME_CREDITS_AFTER_VERIFICATION needs mail: set SMTP_HOST, or no one could ever get the welcome credits")
	}
	c.RequestLimit = p.intIn("EMAIL_REQUEST_LIMIT", 5, 1, 1000)
	return c
}

// boolean reads true/false (also 1/0).
func (p *parser) boolean(name string, def bool) bool {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		p.fail("%s must be true or false, not %q", name, raw)
		return def
	}
	return v
}

func (p *parser) intIn(name string, def, lo, hi int) int {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		p.fail("%s must be a whole number from %d to %d, not %q", name, lo, hi, raw)
		return def
	}
	return n
}

// bytes reads a whole number of bytes, from lo to hi.
func (p *parser) bytes(name string, def, lo, hi int64) int64 {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail("%s must be a whole number of bytes from %d to %d, not %q", name, lo, hi, raw)
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.fail("%s must be a positive duration such as 30s or 5m, not %q", name, raw)
		return def
	}
	return d
}

// durationOrOff is duration that also takes 0 (off).
func (p *parser) durationOrOff(name string, def time.Duration) time.Duration {
	if raw := strings.TrimSpace(p.getenv(name)); raw != "" {
		if d, err := time.ParseDuration(raw); err == nil && d == 0 {
			return 0
		}
	}
	return p.duration(name, def)
}

func (p *parser) level(name string, def slog.Level) slog.Level {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(raw)); err != nil {
		p.fail("%s must be debug, info, warn or error, not %q", name, raw)
		return def
	}
	return l
}

// workerQueues reads a comma-separated subset of the task queues; unset
// means every queue. Each keeps its weight from tasks.QueueWeights.
func (p *parser) workerQueues(name string) map[string]int {
	all := tasks.QueueWeights()
	names := p.list(name, nil)
	if names == nil {
		return all
	}
	out := make(map[string]int, len(names))
	for _, q := range names {
		w, ok := all[q]
		if !ok {
			known := slices.Sorted(maps.Keys(all))
			p.fail("%s: unknown queue %q (the queues: %s)", name, q, strings.Join(known, ", "))
			return all
		}
		out[q] = w
	}
	return out
}

func (p *parser) list(name string, def []string) []string {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	var out []string
	for _, part := range strings.Split(raw, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
