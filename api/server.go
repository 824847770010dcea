package api

import (
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

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// Config is what the api needs from the process configuration.
type Config struct {
	Env             string
	Version         string
	PublicBaseURL   string
	CORSOrigins     []string
	TrustedProxies  []string
	SecretKey       string
	TokenTTL        time.Duration
	BcryptCost      int
	AuthRateLimit   int
	AuthRateWindow  time.Duration
}

// Deps are the api's collaborators, built by cmd/lokiz.
type Deps struct {
	Store  *db.Store
	Redis  redis.UniversalClient
	Tasks  *tasks.Client
	Logger *slog.Logger
	// Registry receives the api's metrics; nil makes a fresh one.
	Registry *prometheus.Registry
}

// Server is the api: a gin engine plus what its handlers share.
type Server struct {
	cfg      Config
	store    *db.Store
	rdb      redis.UniversalClient
	tasks    *tasks.Client
	log      *slog.Logger
	tokens   tokenIssuer
	limiter  rateLimiter
	engine   *gin.Engine
	draining atomic.Bool
}

// New builds the api with its whole route table.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil || deps.Redis == nil || deps.Logger == nil {
		return nil, errors.New("api: Store, Redis and Logger are required")
	}
	if len(cfg.SecretKey) == 0 {
		return nil, errors.New("api: SecretKey is required")
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 12
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		cfg:     cfg,
		store:   deps.Store,
		rdb:     deps.Redis,
		tasks:   deps.Tasks,
		log:     deps.Logger.With("component", "api"),
		tokens:  tokenIssuer{key: []byte(cfg.SecretKey), ttl: cfg.TokenTTL, now: time.Now},
		limiter: rateLimiter{rdb: deps.Redis},
	}
	metrics, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.RedirectTrailingSlash = false // both spellings are routed explicitly
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("api: TRUSTED_PROXIES: %w", err)
	}
	r.Use(withRequestID, s.recoverPanics, s.accessLog, metrics.observe, s.cors, s.limitBody)
	r.NoRoute(func(c *gin.Context) { s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Not found")) })
	r.NoMethod(func(c *gin.Context) {
		s.writeError(c, &lokiz.Error{Code: codeMethodNotAllowed, Message: "Method not allowed"})
	})

	r.GET("/", s.root)
	r.GET("/health", s.health)
	r.GET("/ready", s.ready)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	if err := s.mountDocs(r); err != nil {
		return nil, err
	}

	v1 := r.Group("/v1")
	auth := s.requireAuth
	optional := s.optionalAuth
	authLimit := s.limitByIP("auth", cfg.AuthRateLimit, cfg.AuthRateWindow)

	// Accounts (reference §1.1, §1.10).
	v1.POST("/auth/register", authLimit, s.register)
	v1.POST("/auth/login", authLimit, s.login)
	v1.GET("/auth/me", auth, s.getMe)
	v1.PATCH("/auth/me", auth, s.updateMe)
	v1.GET("/users/me", auth, s.getMe)
	v1.PATCH("/users/me", auth, s.updateMe)
	v1.GET("/users/:user_id", optional, s.getUser)
	v1.POST("/users/batch-info", optional, s.batchUsers)

	s.engine = r
	return s, nil
}

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
