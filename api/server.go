package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/activity"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/realtime"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/studio"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
	"github.com/lokiz/lokiz/views"
)

// Config is what the api needs from the process configuration.
type Config struct {
	Env            string
	Version        string
	PublicBaseURL  string
	CORSOrigins    []string
	TrustedProxies []string
	SecretKey      string
	TokenTTL       time.Duration
	// RefreshTokenTTL is how long a refresh token works; each refresh issues
	// a new one for as long again. Zero means 720h (30 days).
	RefreshTokenTTL time.Duration
	// PasswordRateLimit caps current-password checks (password change,
	// account deletion) per user per PasswordRateWindow; zero means 10 per
	// 15 minutes.
	PasswordRateLimit  int
	PasswordRateWindow time.Duration
	BcryptCost         int
	AuthRateLimit      int
	AuthRateWindow     time.Duration
	// UploadURLTTL is how long an upload URL stays valid.
	UploadURLTTL time.Duration
	// MediaURLTTL is the least time a rendered media URL stays valid.
	MediaURLTTL time.Duration
	// PrivateMediaURLTTL is the lifetime of URLs rendered for private
	// objects (private or unfinished videos, AI outputs, frames, uploads not
	// yet used): always signed, never the public CDN base.
	PrivateMediaURLTTL time.Duration
	// VideoMaxBytes and ImageMaxBytes cap uploads.
	VideoMaxBytes int64
	ImageMaxBytes int64
	// ViewRateLimit caps view requests per client IP per minute.
	ViewRateLimit int
	// SearchRateLimit caps search and autocomplete requests per client IP per minute.
	SearchRateLimit int
	// ReportRateLimit caps reports per client IP per hour.
	ReportRateLimit int
	// ViewAnonPerIP caps the anonymous views of one video counted from one
	// client IP per day (default 3); signed-in viewers count once each.
	ViewAnonPerIP int
	// TrustedCountryHeader names a request header a trusted proxy in front
	// of the api sets to the client's country (for example CF-IPCountry);
	// "" (the default) reads none, and every view's country is unknown.
	TrustedCountryHeader string
	// ShareRateLimit caps share requests per caller (user, else client IP)
	// per minute (default 30).
	ShareRateLimit int
	// SearchHistoryRateLimit caps POST /v1/search/history per user per
	// minute (default 60).
	SearchHistoryRateLimit int
	// AutocompleteMinSearchers is how many distinct users must have
	// searched a query in the keyword window before autocomplete suggests
	// it to anyone else (default 5).
	AutocompleteMinSearchers int
	// Quotas are the per-user limits on costly work; zero fields take
	// DefaultQuotas.
	Quotas Quotas
	// FeedCacheTTL is how long the first page of the latest and trending
	// feeds is cached for anonymous callers; 0 turns the cache off.
	FeedCacheTTL time.Duration
	// PublicWebURL is the web app's address, the base of share links.
	PublicWebURL string
	// ExactUploadSize is set when the storage signs an exact Content-Length
	// (S3 presigned PUTs): clients must then declare size_bytes.
	ExactUploadSize bool
	// ReplicateWebhookSecret ("whsec_...") verifies Replicate's webhooks;
	// empty closes the webhook route (503): jobs are then polled.
	ReplicateWebhookSecret string
	// APIKeyRateLimit caps the requests of one API key per minute (default
	// 300); APIKeyMaxPerUser caps a user's keys not revoked (default 10).
	APIKeyRateLimit  int
	APIKeyMaxPerUser int
	// PurchaseRateLimit caps POST /v1/credits/purchase per user per minute
	// (default 10).
	PurchaseRateLimit int
	// EmailEnabled is set when the worker can send mail (SMTP configured,
	// or the development capture server): without it the verification and
	// reset requests answer 503 and registration sends no mail.
	EmailEnabled bool
	// WelcomeCreditsAfterVerification grants the welcome credits at the
	// first e-mail verification instead of at registration.
	WelcomeCreditsAfterVerification bool
	// EmailRequestLimit caps verification-mail requests per user, and reset
	// requests per address, per hour (default 5); reset requests are also
	// limited per IP by AuthRateLimit.
	EmailRequestLimit int
	// AdminStatsTTL is how long GET /v1/admin/stats answers from its
	// in-process cache (ADMIN_STATS_CACHE_TTL, default 30 s).
	AdminStatsTTL time.Duration
	// ActivityPrefix starts the active-user keys in Redis (package
	// activity); empty means activity.DefaultPrefix. The worker's must be
	// the same.
	ActivityPrefix string
	// ActivityDisabled turns off active-user counting on authenticated
	// requests (the benchmark's baseline); DAU, WAU and MAU then stay as
	// they are.
	ActivityDisabled bool
	// ActivityDedup is how long a user counted by this process is not
	// sent to Redis again (default activity.DefaultDedup, 5 minutes).
	ActivityDedup time.Duration
	// ReadAfterWrite is the read-your-writes window of a Store with a read
	// replica (DATABASE_READ_AFTER_WRITE): after a signed-in caller's
	// mutating request, that caller's reads stay on the primary this long
	// (api/replica.go). Zero, or a Store without a replica, reads the
	// primary only.
	ReadAfterWrite time.Duration
}

// Deps are the api's collaborators, built by cmd/lokiz.
type Deps struct {
	Store  *db.Store
	Redis  redis.UniversalClient
	Tasks  *tasks.Client
	Logger *slog.Logger
	// Storage holds uploads and media; StorageHandler, when not nil, is
	// mounted at /storage/ (the local backend's signed URLs).
	Storage        storage.Store
	StorageHandler http.Handler
	Views          *views.Counter
	// Trending reads the ranking the worker publishes; nil reads it from
	// Redis.
	Trending *trending.Ranking
	// Registry receives the api's metrics; nil makes a fresh one. They are
	// served by Server.Metrics, which the public router does not mount.
	Registry *prometheus.Registry
	// AIModels are the AI catalog's models by job type; without them the AI
	// job routes answer 503.
	AIModels AIModels
	// StudioLimits are the AI catalog's studio limits of each tier
	// (replicate.LoadCatalogFile); the built-in catalog's when nil.
	StudioLimits lokiz.TierLimits
	// Billing is the one entry point to the payment providers: the purchase
	// flow and its subscription flows (Billing.Subscriptions). Without it
	// the payment and subscribe routes answer 503 (the plans and the
	// caller's subscription are still shown); a provider that is not
	// configured answers 503 on the routes that need it. When its providers
	// hold the development checkout, its page is mounted at /dev/checkout/
	// (cmd/lokiz never builds one in production).
	Billing *billing.Service
	// DevMail, when not nil, is mounted at /dev/mail: the development mail
	// box of `lokiz dev`. New refuses it in production.
	DevMail http.Handler
	// Realtime is the process's WebSocket hub (its Run must be running);
	// without it WS /v1/notifications/ws answers 503.
	Realtime *realtime.Hub
	// Activity counts active users; nil builds one over Redis with
	// Config.ActivityPrefix.
	Activity *activity.Tracker
	// Tracer starts each request's server span (package tracing); nil
	// (tracing off) installs no tracing middleware.
	Tracer trace.Tracer
}

// Server is the api: a gin engine plus what its handlers share.
type Server struct {
	cfg      Config
	store    *db.Store
	rdb      redis.UniversalClient
	tasks    *tasks.Client
	storage  storage.Store
	views    *views.Counter
	trending *trending.Ranking
	foryou   *foryou.Ranker
	studio   *studio.Studio
	billing  *billing.Service
	subs     *billing.Subscriptions
	limits   lokiz.TierLimits
	hub      *realtime.Hub
	// activity counts DAU/WAU/MAU; inspector reads the asynq queues for the
	// admin stats, which statsCache holds for AdminStatsTTL.
	activity   *activity.Tracker
	inspector  *tasks.Inspector
	statsCache statsCache
	// mediaURLs holds the public media URLs of the current hour (mediaURL).
	mediaURLs mediaCache
	// afterSocketRegister, set by tests only, runs between a socket's
	// registration and its catch-up read.
	afterSocketRegister atomic.Pointer[func()]
	log                 *slog.Logger
	tokens              tokenIssuer
	limiter             rateLimiter
	engine              *gin.Engine
	metrics             http.Handler
	overloads           *prometheus.CounterVec // lokiz_http_overloaded_total, by dependency
	draining            atomic.Bool
}

// New builds the api with its whole route table.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil || deps.Redis == nil || deps.Logger == nil || deps.Storage == nil || deps.Views == nil || deps.Tasks == nil {
		return nil, errors.New("api: Store, Redis, Tasks, Storage, Views and Logger are required")
	}
	if len(cfg.SecretKey) == 0 {
		return nil, errors.New("api: SecretKey is required")
	}
	// Zero fields take their defaults.
	cfg.BcryptCost = cmp.Or(cfg.BcryptCost, 12)
	cfg.RefreshTokenTTL = cmp.Or(cfg.RefreshTokenTTL, 30*24*time.Hour)
	cfg.PasswordRateLimit = cmp.Or(cfg.PasswordRateLimit, defaultPasswordRateLimit)
	cfg.PasswordRateWindow = cmp.Or(cfg.PasswordRateWindow, defaultPasswordRateWindow)
	cfg.SearchRateLimit = cmp.Or(cfg.SearchRateLimit, 600)
	cfg.ReportRateLimit = cmp.Or(cfg.ReportRateLimit, 30)
	cfg.ViewAnonPerIP = cmp.Or(cfg.ViewAnonPerIP, 3)
	cfg.ShareRateLimit = cmp.Or(cfg.ShareRateLimit, 30)
	cfg.SearchHistoryRateLimit = cmp.Or(cfg.SearchHistoryRateLimit, 60)
	cfg.AutocompleteMinSearchers = cmp.Or(cfg.AutocompleteMinSearchers, 5)
	cfg.APIKeyRateLimit = cmp.Or(cfg.APIKeyRateLimit, defaultAPIKeyRateLimit)
	cfg.APIKeyMaxPerUser = cmp.Or(cfg.APIKeyMaxPerUser, defaultAPIKeyMaxPerUser)
	cfg.PurchaseRateLimit = cmp.Or(cfg.PurchaseRateLimit, 10)
	cfg.EmailRequestLimit = cmp.Or(cfg.EmailRequestLimit, 5)
	cfg.AdminStatsTTL = cmp.Or(cfg.AdminStatsTTL, defaultAdminStatsTTL)
	if deps.DevMail != nil && cfg.Env == "production" {
		return nil, errors.New("api: the development mail box is never served in production")
	}
	cfg.Quotas = cfg.Quotas.withDefaults()
	cfg.PublicWebURL = cmp.Or(cfg.PublicWebURL, cfg.PublicBaseURL)
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		cfg:      cfg,
		store:    deps.Store,
		rdb:      deps.Redis,
		tasks:    deps.Tasks,
		storage:  deps.Storage,
		views:    deps.Views,
		trending: deps.Trending,
		billing:  deps.Billing,
		hub:      deps.Realtime,
		log:      deps.Logger.With("component", "api"),
		tokens:   tokenIssuer{key: []byte(cfg.SecretKey), ttl: cfg.TokenTTL, now: time.Now},
		limiter:  rateLimiter{rdb: deps.Redis},
	}
	s.activity = deps.Activity
	if s.activity == nil {
		s.activity = activity.New(activity.Config{Redis: deps.Redis, Store: deps.Store, Prefix: cfg.ActivityPrefix, Dedup: cfg.ActivityDedup, Logger: s.log})
	}
	// The inspector shares the api's client and never closes it.
	s.inspector = tasks.NewInspector(deps.Redis)
	if s.trending == nil {
		s.trending = trending.New(deps.Redis)
	}
	if s.billing != nil {
		s.subs = s.billing.Subscriptions()
	} else {
		// No provider: subscribing answers 503, a subscription cannot exist.
		s.subs = &billing.Subscriptions{Store: deps.Store, CustomerKeySecret: []byte(cfg.SecretKey)}
	}
	s.limits = deps.StudioLimits
	if s.limits == nil {
		var err error
		if s.limits, err = replicate.DefaultTierLimits(); err != nil {
			return nil, err
		}
	} else if err := s.limits.Validate(); err != nil {
		return nil, fmt.Errorf("api: studio limits: %w", err)
	}
	s.studio = studio.New(studio.Config{
		Store: deps.Store, Storage: deps.Storage, Tasks: deps.Tasks, Logger: s.log, Models: deps.AIModels, Limits: s.limits,
		UploadSettledFunc: func(ctx context.Context, v db.Video, size int64) {
			if v.UploadMaxBytes != nil {
				s.refundUploadBytes(ctx, v.UserID, v.ID, v.CreatedAt, *v.UploadMaxBytes, size)
			}
		},
		CaptureWait: frameWait, CapturePoll: framePoll,
	})
	s.foryou = foryou.New(deps.Store, deps.Redis, s.trending)
	metrics, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.overloads = metrics.overloads
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.RedirectTrailingSlash = false // Handler drops a trailing slash before routing
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("api: TRUSTED_PROXIES: %w", err)
	}
	if deps.Tracer != nil {
		r.Use(traceRequests(deps.Tracer))
	}
	r.Use(withRequestID, s.recoverPanics, s.accessLog, metrics.observe, s.cors)
	r.NoRoute(func(c *gin.Context) { s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Not found")) })
	r.NoMethod(func(c *gin.Context) {
		s.writeError(c, &lokiz.Error{Code: codeMethodNotAllowed, Message: "Method not allowed"})
	})

	r.GET("/", s.root)
	r.GET("/health", s.health)
	r.GET("/ready", s.ready)
	if err := s.mountDocs(r); err != nil {
		return nil, err
	}
	if deps.StorageHandler != nil {
		h := gin.WrapH(deps.StorageHandler)
		get := s.withholdRemovedMedia(deps.StorageHandler) // api/admin.go
		r.GET("/storage/*key", get)
		r.HEAD("/storage/*key", get)
		r.PUT("/storage/*key", h)
	}

	// The 1 MiB body limit is for the JSON API; /storage/ takes uploads.
	// cleanParams holds every path and query parameter to the user-text rule.
	v1 := r.Group("/v1", s.limitBody, s.cleanParams, s.pinAfterSlowWrite)
	auth := s.requireAuth
	// optional checks a token when one is sent (a bad one is 401) and lets
	// anonymous callers through. Every route below runs auth or optional,
	// except those that issue tokens (register, login, refresh: a stale
	// header must not stop a sign-in) and the providers' signed webhooks.
	optional := s.optionalAuth
	// session is auth for the routes an API key may not use (403 with a
	// key): API keys, sessions, the password, account deletion, payments.
	session := s.requireSession
	authLimit := s.limitByIP("auth", cfg.AuthRateLimit, cfg.AuthRateWindow)
	// read lets a route's reads go to the read replica (DATABASE_READ_URL):
	// feeds, search, profiles and lists, after the caller is known
	// (api/replica.go). Without a replica it only calls the next handler.
	read := s.replicaRead

	// Accounts, sessions and profiles (reference §1.1, §1.10).
	v1.POST("/auth/register", authLimit, s.register)
	v1.POST("/auth/login", authLimit, s.login)
	v1.POST("/auth/refresh", authLimit, s.refresh)
	v1.POST("/auth/logout", session, s.logout)
	v1.POST("/auth/logout-all", session, s.logoutAll)
	v1.POST("/auth/password", session, s.changePassword)
	v1.GET("/auth/me", auth, s.getMe)
	v1.PATCH("/auth/me", auth, s.updateMe)
	v1.GET("/users/me", auth, s.getMe)
	v1.GET("/users/me/stats", auth, s.getMyStats)
	v1.PATCH("/users/me", auth, s.updateMe)
	v1.DELETE("/users/me", session, s.deleteMe)

	// E-mail verification, password reset and one-click unsubscribe
	// (issue 14, api/email.go). The token routes need no session: the
	// mailed token is the credential.
	v1.POST("/auth/verify-email/request", session, s.limitByCaller("verify-email", cfg.EmailRequestLimit, time.Hour), s.requestVerification)
	v1.POST("/auth/verify-email", authLimit, s.verifyEmail)
	v1.POST("/auth/password-reset/request", authLimit, s.requestPasswordReset)
	v1.POST("/auth/password-reset", authLimit, s.resetPassword)
	v1.GET("/email/unsubscribe", authLimit, s.unsubscribePage)
	v1.POST("/email/unsubscribe", authLimit, s.unsubscribe)
	if deps.DevMail != nil {
		r.GET("/dev/mail", gin.WrapH(deps.DevMail))
	}
	v1.GET("/users/:user_id", optional, read, s.getUser)
	v1.POST("/users/batch-info", optional, read, s.batchUsers)
	v1.GET("/users/:user_id/videos", optional, read, s.listVideosOfUser)

	// Uploads, drafts, videos, video lists and feeds (reference §1.2, §1.6,
	// §1.18; CONTRACT.md §3).
	v1.POST("/images/upload-url", auth, s.uploadQuota(), s.createImageUpload)
	v1.POST("/videos/upload-url", auth, s.uploadQuota(), s.createVideoUpload)
	v1.POST("/videos/draft", auth, s.createDraft)
	v1.GET("/videos/drafts", auth, s.listDrafts)
	v1.GET("/videos/drafts/:draft_id", auth, s.getDraft)
	v1.PUT("/videos/drafts/:draft_id", auth, s.saveDraft)
	v1.DELETE("/videos/drafts/:draft_id", auth, s.deleteDraft)
	v1.GET("/videos", optional, read, s.listVideos)
	v1.GET("/videos/feed", optional, read, s.feed)
	v1.GET("/videos/prefetch", optional, read, s.prefetch)
	v1.GET("/feed/following", optional, read, s.followingFeed)
	v1.GET("/feed/for-you", optional, read, s.forYouFeed)
	v1.GET("/videos/me", auth, s.listMyVideos)
	v1.POST("/videos/batch-metadata", optional, s.batchVideoMetadata)
	v1.GET("/videos/:video_id", optional, s.getVideo)
	v1.PATCH("/videos/:video_id", auth, s.updateVideo)
	v1.DELETE("/videos/:video_id", auth, s.deleteVideo)
	v1.POST("/videos/:video_id/complete", auth, s.completeVideo)
	v1.POST("/videos/:video_id/view", optional, s.recordView) // rate limited inside the counting script
	v1.GET("/videos/:video_id/stats", auth, s.getVideoStats)  // owner and admins (api/analytics.go)

	// Social: likes, follows, blocks, reports, comments (reference §1.7-§1.9,
	// §1.17; CONTRACT.md §2-§3).
	v1.POST("/likes/videos/:video_id", auth, s.likeVideo)
	v1.DELETE("/likes/videos/:video_id", auth, s.unlikeVideo)
	v1.GET("/likes/videos/:video_id/check", auth, s.checkLike)
	v1.POST("/likes/check-batch", auth, s.checkLikes)
	v1.GET("/users/:user_id/liked-videos", optional, read, s.listLikedVideos)
	v1.POST("/follows/users/:user_id", auth, s.follow)
	v1.DELETE("/follows/users/:user_id", auth, s.unfollow)
	v1.GET("/follows/users/:user_id/check", auth, s.checkFollow)
	v1.GET("/follows/users/:user_id/followers", optional, read, s.listFollowers)
	v1.GET("/follows/users/:user_id/following", optional, read, s.listFollowings)
	v1.POST("/follows/check-batch", auth, s.checkFollows)
	v1.POST("/blocks/users/:user_id", auth, s.block)
	v1.DELETE("/blocks/users/:user_id", auth, s.unblock)
	v1.GET("/blocks", auth, s.listBlocks)
	v1.POST("/moderation/block", auth, s.block)
	v1.DELETE("/moderation/block/:blocked_user_id", auth, s.unblock)
	v1.GET("/moderation/blocks", auth, s.listBlocks)
	v1.GET("/moderation/is-blocked/:user_id", auth, s.isBlocked)
	v1.POST("/videos/:video_id/report", auth, s.limitByIP("reports", cfg.ReportRateLimit, time.Hour), s.reportQuota(), s.reportVideo)
	v1.POST("/moderation/report", auth, s.limitByIP("reports", cfg.ReportRateLimit, time.Hour), s.reportQuota(), s.report)
	v1.GET("/moderation/reports", auth, s.listMyReports)

	// Admin (issue 15): a session (not an API key) of a user whose role is
	// admin; 401 signed out, 403 for anyone else (requireAdmin).
	admin := v1.Group("/admin", session, s.requireAdmin)
	admin.GET("/audit", s.listAudit)
	admin.PATCH("/users/:id/ban", s.banUser)
	admin.PATCH("/users/:id/unban", s.unbanUser)
	admin.PATCH("/videos/:id/remove", s.removeVideo)
	admin.PATCH("/videos/:id/restore", s.restoreVideo)
	admin.GET("/stats", s.adminStats)
	admin.GET("/users", s.adminUsers)
	admin.GET("/videos", s.adminVideos)
	admin.GET("/reports", s.listReviewReports)
	admin.GET("/reports/:id", s.getReviewReport)
	admin.PATCH("/reports/:id", s.decideReport)
	admin.PATCH("/comments/:id/remove", s.removeComment)
	admin.PATCH("/comments/:id/restore", s.restoreComment)
	// The original's spelling of the review queue (CONTRACT.md §3), behind
	// the same guard.
	v1.GET("/reports", session, s.requireAdmin, s.listReviewReports)
	v1.POST("/comments/videos/:video_id", auth, s.commentQuota(), s.createComment)
	v1.GET("/comments/videos/:video_id", optional, read, s.listComments)
	v1.PATCH("/comments/:comment_id", auth, s.updateComment)
	v1.DELETE("/comments/:comment_id", auth, s.deleteComment)
	v1.POST("/comments/batch-info", auth, s.batchComments)
	v1.POST("/comments/comments/:comment_id/like", auth, s.likeComment)
	v1.DELETE("/comments/comments/:comment_id/like", auth, s.unlikeComment)
	v1.GET("/comments/comments/:comment_id/like/check", auth, s.checkCommentLike)

	// The glitch graph (reference §1.4, §3.5; CONTRACT.md §4).
	v1.GET("/glitch/videos/:video_id/glitches", optional, read, s.listGlitches)
	v1.GET("/glitch/videos/:video_id/source", optional, s.glitchSource)
	v1.GET("/glitch/videos/:video_id/tree", optional, s.glitchTree)

	// The studio (reference §1.5).
	v1.GET("/studio/videos/:video_id/timeline", auth, s.studioTimeline)
	v1.GET("/studio/videos/:video_id/preview", auth, s.studioPreview)
	v1.POST("/studio/videos/:video_id/select-range", auth, s.studioSelectRange)

	// Frames (reference §1.3, §4.2; CONTRACT.md §3).
	v1.POST("/ai/capture-frame", auth, s.captureQuota(), s.captureFrame)
	v1.POST("/ai/capture-frames", auth, s.captureQuota(), s.captureFrames)
	v1.GET("/ai/capture-frames/:job_id", auth, s.getCapture)

	// AI jobs (reference §1.3; CONTRACT.md §4): accepted here, run by the
	// worker against Replicate, whose signed webhook reports their end.
	v1.POST("/ai/template", auth, s.aiJobQuota(), s.createAIJob(lokiz.JobI2VTemplate))
	v1.POST("/ai/glitch/animate", auth, s.aiJobQuota(), s.createAIJob(lokiz.JobGlitchAnimate))
	v1.POST("/ai/glitch/replace", auth, s.aiJobQuota(), s.createAIJob(lokiz.JobGlitchReplace))
	v1.POST("/ai/sticker-to-reality", auth, s.aiJobQuota(), s.createAIJob(lokiz.JobStickerToReality))
	v1.POST("/ai/music", auth, s.aiJobQuota(), s.createAIJob(lokiz.JobMusic))
	v1.GET("/ai/jobs", auth, s.listAIJobs)
	v1.GET("/ai/jobs/:job_id", auth, s.getAIJob)
	v1.DELETE("/ai/jobs/:job_id", auth, s.cancelAIJob)
	v1.POST("/ai/jobs/batch-status", auth, s.batchJobStatus)
	v1.POST("/webhooks/replicate", s.replicateWebhook)

	// AI presets (CONTRACT.md §3).
	v1.GET("/presets/glitch", optional, s.listPresets("glitch"))
	v1.GET("/presets/music", optional, s.listPresets("music"))

	// Credits (reference §1.14; DESIGN.md §3.5).
	v1.GET("/credits/packages", optional, s.creditPackages)
	v1.GET("/credits/balance", auth, s.creditBalance)
	v1.GET("/credits/history", auth, s.creditHistory)
	v1.GET("/credits/daily-status", auth, s.dailyStatus)
	v1.POST("/credits/daily-claim", auth, s.dailyClaim)
	v1.POST("/credits/purchase", session, s.limitByCaller("purchases", cfg.PurchaseRateLimit, time.Minute), s.purchaseCredits)

	// Payments (issue 13; DESIGN.md §3.5): orders, the Toss confirmation and
	// the providers' webhooks (no auth: a signature or the URL's token). A
	// webhook only wakes the worker, which asks the provider before it grants.
	v1.GET("/payments/orders/:order_id", session, s.getPaymentOrder)
	v1.POST("/payments/toss/confirm", session, s.limitByCaller("toss-confirm", 6*cfg.PurchaseRateLimit, time.Minute), s.tossConfirm)
	v1.POST("/webhooks/stripe", s.stripeWebhook)
	v1.POST("/webhooks/toss", s.tossWebhook)
	if deps.Billing != nil && deps.Billing.Providers().Dev != nil {
		// The development checkout (`lokiz dev` without a Stripe key only).
		dev := r.Group(strings.TrimSuffix(payments.DevCheckoutPath, "/"), s.limitBody)
		dev.GET("/:session_id", s.devCheckoutShow)
		dev.POST("/:session_id/pay", s.devCheckoutDecide(true))
		dev.POST("/:session_id/fail", s.devCheckoutDecide(false))
	}

	// Search (reference §1.12; CONTRACT.md §3).
	searchLimit := s.limitByIP("search", cfg.SearchRateLimit, time.Minute)
	v1.GET("/search", optional, searchLimit, read, s.searchAll)
	v1.GET("/search/users", optional, searchLimit, read, s.searchUsers)
	v1.GET("/search/videos", optional, searchLimit, read, s.searchVideos)
	v1.GET("/search/autocomplete", optional, searchLimit, read, s.autocomplete)
	v1.GET("/search/history", auth, s.listSearchHistory)
	v1.POST("/search/history", auth, s.limitByCaller("search-history", cfg.SearchHistoryRateLimit, time.Minute), s.addSearchHistory)
	v1.DELETE("/search/history/clear", auth, s.clearSearchHistory)
	v1.DELETE("/search/history/:history_id", auth, s.deleteSearchHistory)

	// Hashtags (reference §1.13).
	v1.GET("/hashtags/trending", optional, read, s.trendingHashtags)
	v1.GET("/hashtags/:hashtag_name/videos", optional, read, s.hashtagVideos)
	v1.POST("/hashtags/batch-stats", optional, s.hashtagBatchStats)

	// Notifications (reference §1.11; CONTRACT.md §3).
	v1.GET("/notifications", auth, s.listNotifications)
	v1.GET("/notifications/unread-count", auth, s.notificationUnreadCount)
	v1.GET("/notifications/ws", s.notificationSocket) // authenticates itself: header or ?token=
	v1.PATCH("/notifications/read-all", auth, s.markAllNotificationsRead)
	v1.POST("/notifications/batch-mark-read", auth, s.batchMarkNotificationsRead)
	v1.GET("/notifications/settings", auth, s.getNotificationSettings)
	v1.PATCH("/notifications/settings", auth, s.updateNotificationSettings)
	v1.PATCH("/notifications/:notification_id/read", auth, s.markNotificationRead)

	// Bookmarks and shares (reference §1.15, §1.16).
	v1.POST("/bookmarks/videos/:video_id", auth, s.bookmark)
	v1.DELETE("/bookmarks/videos/:video_id", auth, s.unbookmark)
	v1.GET("/bookmarks/videos/:video_id/check", auth, s.checkBookmark)
	v1.GET("/bookmarks", auth, read, s.listBookmarks)
	shareLimit := s.limitByCaller("shares", cfg.ShareRateLimit, time.Minute)
	v1.POST("/videos/:video_id/share", optional, shareLimit, s.shareVideo)
	v1.POST("/shares/videos/:video_id", optional, shareLimit, s.shareVideo)
	v1.GET("/videos/:video_id/share-count", optional, s.shareCount)
	v1.GET("/shares/videos/:video_id/count", optional, s.shareCount)

	// Personal API keys of enterprise users (issue 13): managed with an
	// access token only.
	v1.POST("/api-keys", session, s.createAPIKey)
	v1.GET("/api-keys", session, s.listAPIKeys)
	v1.DELETE("/api-keys/:key_id", session, s.revokeAPIKey)
	// Subscriptions (CONTRACT.md §3; issue 13): plans, subscribing through
	// Stripe or a Toss billing key, the caller's tier, cancel at period end.
	v1.GET("/subscriptions/plans", optional, s.subscriptionPlans)
	v1.POST("/subscriptions/subscribe", session, s.subscribe)
	v1.POST("/subscriptions/toss/billing", session, s.tossBilling)
	v1.GET("/subscriptions/me", auth, s.mySubscription)
	v1.DELETE("/subscriptions/cancel", session, s.cancelSubscription)

	s.engine = r
	return s, nil
}

// Metrics serves the api's Prometheus metrics: request counts and latency
// by route and status, Go runtime and process metrics. It is not routed on
// the api itself; cmd/lokiz serves it on METRICS_ADDR or on the dashboard.
func (s *Server) Metrics() http.Handler { return s.metrics }

// Handler returns the http.Handler to serve. Every route answers with and
// without a trailing slash, without a redirect (CONTRACT.md §1): the slash
// is dropped before routing, so the route table names each path once.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r.URL.Path = strings.TrimSuffix(p, "/")
			if r.URL.RawPath != "" {
				r.URL.RawPath = strings.TrimSuffix(r.URL.RawPath, "/")
			}
		}
		s.engine.ServeHTTP(w, r)
	})
}

// Drain makes /ready answer 503 so load balancers stop sending traffic
// before the listener closes.
func (s *Server) Drain() { s.draining.Store(true) }
