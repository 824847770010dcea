package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/sync/errgroup"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/dashboard"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/internal/redisurl"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/mail/mailtest"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/tosssim"
	"github.com/lokiz/lokiz/realtime"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/scheduler"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/tracing"
	"github.com/lokiz/lokiz/trending"
	"github.com/lokiz/lokiz/views"
	"github.com/lokiz/lokiz/worker"
)

// app holds the connections one process shares between its roles.
type app struct {
	cfg Config
	// listen opens the HTTP servers' listeners (environment.Listen).
	listen  func(addr string) (net.Listener, error)
	log     *slog.Logger
	pool    *pgxpool.Pool
	store   *db.Store
	rdb     redis.UniversalClient
	storage storage.Store
	catalog replicate.Catalog
	// tierLimits are the catalog's studio limits of each tier.
	tierLimits lokiz.TierLimits
	// apiMetrics is the registry of the api's metrics, served on
	// METRICS_ADDR and, in `lokiz dev`, on the dashboard; never on the api's
	// own port.
	apiMetrics *prometheus.Registry
	// simOrigin is the origin of the Replicate simulator this process
	// started (`lokiz dev` without a token); its outputs are fetched.
	simOrigin string
	// devCheckout is the development checkout `lokiz dev` uses without a
	// Stripe key (startDevPayments); never set in production.
	devCheckout *payments.DevCheckout
	// tossSim is the Toss simulator `lokiz dev` runs without a Toss key.
	tossSim *tosssim.Server
	// devMail is the SMTP capture server `lokiz dev` runs without
	// SMTP_HOST; the api lists its mail at /dev/mail. Never in production.
	devMail *mailtest.Server
	// providersOnce builds the payment providers once per process, so the
	// api and the worker of `lokiz dev` share the development checkout.
	providersOnce sync.Once
	providers     payments.Providers
	providersErr  error
	// tracing is the process's tracer provider, nil when tracing is off
	// (startTracing); spanExporter replaces the OTLP exporter in tests.
	tracing      *tracing.Provider
	spanExporter sdktrace.SpanExporter
	role         string
}

// loadApp reads and validates the configuration of role, then builds the
// logger. No connection is opened before the configuration is known to be
// valid.
func loadApp(env *environment, role string) (*app, error) {
	cfg, err := LoadRoleConfig(role, env.getenv)
	if err != nil {
		return nil, err
	}
	catalog, err := replicate.LoadCatalogFile(cfg.AI.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n  - AI_CATALOG_FILE: %w", err)
	}
	log := newLogger(cfg, env.stderr)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &app{cfg: cfg, log: log, catalog: catalog.Models, tierLimits: catalog.TierLimits, apiMetrics: reg, listen: env.Listen,
		spanExporter: env.spanExporter, role: role}, nil
}

// startTracing builds the tracer provider when tracing is configured (or a
// test gave the environment an exporter). Call it before connect: the
// database pool, the Redis client and the HTTP clients are instrumented only
// when it is on.
func (a *app) startTracing(ctx context.Context) error {
	cfg := tracing.Config{
		Endpoint:       a.cfg.Tracing.Endpoint,
		ServiceName:    cmp.Or(a.cfg.Tracing.ServiceName, "lokiz-"+a.role),
		ServiceVersion: version,
		SampleRatio:    a.cfg.Tracing.SampleRatio,
	}
	if a.spanExporter != nil {
		a.tracing = tracing.NewSyncProvider(cfg, a.spanExporter)
		return nil
	}
	p, err := tracing.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if p != nil {
		a.log.Info("tracing on", "endpoint", cfg.Endpoint, "service", cfg.ServiceName, "sample_ratio", cfg.SampleRatio)
	}
	a.tracing = p
	return nil
}

// httpClient is a client for an outside service with timeout, whose
// requests make client spans when tracing is on.
func (a *app) httpClient(timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if a.tracing != nil {
		c = tracing.Client(c)
	}
	return c
}

// outputPolicy is where the worker may download AI outputs from: the
// configured hosts over https, plus the simulator's own origin when the
// simulator is the provider — the one `lokiz dev` started, or in
// development a plain-http REPLICATE_BASE_URL (production refuses one at
// start, so production never fetches from a loopback or http origin).
func (a *app) outputPolicy() replicate.OutputPolicy {
	p := replicate.OutputPolicy{Hosts: a.cfg.AI.OutputHosts, Simulator: a.simOrigin}
	if u, err := url.Parse(a.cfg.AI.ReplicateBaseURL); p.Simulator == "" && !a.cfg.Production() && err == nil && u.Scheme == "http" {
		p.Simulator = u.Scheme + "://" + u.Host
	}
	return p
}

// apiMetricsHandler serves the api's metrics.
func (a *app) apiMetricsHandler() http.Handler {
	return promhttp.HandlerFor(a.apiMetrics, promhttp.HandlerOpts{Registry: a.apiMetrics})
}

// aiModels is what the api records of the catalog; nil (AI routes answer
// 503) without a Replicate token.
func (a *app) aiModels() api.AIModels {
	if a.cfg.AI.ReplicateToken == "" {
		return nil
	}
	m := api.AIModels{}
	for jobType, e := range a.catalog {
		m[jobType] = api.AIModel{Name: e.Name(), Deadline: time.Duration(e.Deadline)}
	}
	return m
}

// replicateClient is the worker's Replicate client; nil without a token.
func (a *app) replicateClient() (*replicate.Client, error) {
	if a.cfg.AI.ReplicateToken == "" {
		a.log.Warn("REPLICATE_API_TOKEN is not set: AI jobs are refused and no AI task runs")
		return nil, nil
	}
	return replicate.New(replicate.Config{BaseURL: a.cfg.AI.ReplicateBaseURL, Token: a.cfg.AI.ReplicateToken,
		HTTPClient: a.httpClient(a.cfg.AI.Timeout)})
}

// webhookURL is where predictions report, or "" to poll only.
func (a *app) webhookURL() string {
	if a.cfg.AI.WebhookSecret == "" {
		return ""
	}
	return a.cfg.HTTP.PublicBaseURL + "/v1/webhooks/replicate"
}

// connect opens Postgres and Redis. With requireSchema, it refuses to go on
// when the database is behind the binary's migrations.
func (a *app) connect(ctx context.Context, requireSchema bool) error {
	pool, err := db.Open(ctx, a.cfg.DB.URL, db.PoolOptions{MaxConns: a.cfg.DB.MaxConns,
		StatementTimeout: a.cfg.DB.StatementTimeout, AcquireTimeout: a.cfg.DB.PoolWait, Tracing: a.tracing != nil})
	if err != nil {
		return fmt.Errorf("connect to Postgres (DATABASE_URL): %w", err)
	}
	a.pool, a.store = pool, db.NewStore(pool)
	if requireSchema {
		if err := db.CheckSchema(ctx, pool); err != nil {
			a.close()
			if errors.Is(err, db.ErrPendingMigrations) {
				return fmt.Errorf("%w (or `lokiz dev`, which migrates at start)", err)
			}
			return err
		}
	}
	rc, err := redisurl.Parse(a.cfg.Redis.URL)
	if err != nil {
		a.close()
		return fmt.Errorf("parse REDIS_URL: %w", err)
	}
	a.rdb = rc.NewClient(a.cfg.Redis.PoolSize, a.cfg.Redis.PoolTimeout)
	if a.tracing != nil {
		a.rdb.AddHook(tracing.RedisHook{})
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		a.close()
		return fmt.Errorf("connect to Redis (REDIS_URL, %s): %w", rc, err)
	}
	a.log.Debug("redis connected", "redis", rc.String())
	st, err := storage.New(ctx, storage.Config{
		Backend: a.cfg.Storage.Backend,
		Local: storage.LocalConfig{
			Dir: a.cfg.Storage.Dir, BaseURL: a.cfg.HTTP.PublicBaseURL, SecretKey: a.cfg.Auth.SecretKey,
			Logger: a.log.With("component", "storage"),
		},
		S3: storage.S3Config{
			Bucket: a.cfg.Storage.S3Bucket, Region: a.cfg.Storage.S3Region,
			Endpoint: a.cfg.Storage.S3Endpoint, PublicURL: a.cfg.Storage.S3PublicURL,
			Credentials: s3Credentials(a.cfg.Storage),
			HTTPClient:  a.s3HTTPClient(),
		},
	})
	if err != nil {
		a.close()
		return fmt.Errorf("open storage: %w", err)
	}
	a.storage = st
	return nil
}

// s3HTTPClient is nil (the SDK's own client) with tracing off, and the
// SDK's transport wrapped in client spans with it on.
func (a *app) s3HTTPClient() *http.Client {
	if a.tracing == nil {
		return nil
	}
	return &http.Client{Transport: tracing.Transport(awshttp.NewBuildableClient().GetTransport())}
}

// close releases connections in order: Redis, then Postgres, then flushes
// the spans not yet exported.
func (a *app) close() {
	if c, ok := a.storage.(io.Closer); ok {
		_ = c.Close()
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
	if a.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.tracing.Shutdown(ctx); err != nil {
			a.log.Warn("tracing: spans not flushed at exit", "error", err)
		}
		a.tracing = nil
	}
}

// serveAPI runs the api until ctx ends, then drains: readiness turns 503,
// in-flight requests finish within SHUTDOWN_TIMEOUT, the queue client closes.
func (a *app) serveAPI(ctx context.Context, ready chan<- string) error {
	qc := asynq.NewClientFromRedisClient(a.rdb)
	defer qc.Close()
	tc := tasks.NewClient(qc).WithDeleter(asynq.NewInspectorFromRedisClient(a.rdb))
	bill, err := a.billingService(tc)
	if err != nil {
		return err
	}
	// One WebSocket hub per api process: one Redis subscription for all
	// its sockets.
	hub := realtime.New(a.rdb, a.store, realtime.Config{
		MaxPerUser: a.cfg.Realtime.MaxPerUser, MaxConns: a.cfg.Realtime.MaxConns,
		SendBuffer: a.cfg.Realtime.SendBuffer, PingInterval: a.cfg.Realtime.PingInterval,
		PongTimeout: a.cfg.Realtime.PongTimeout, SessionCheckInterval: a.cfg.Realtime.SessionCheckInterval,
	}, a.log)
	if err := a.apiMetrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lokiz_ws_connections",
		Help: "Notification WebSockets this api process holds.",
	}, func() float64 { return float64(hub.Len()) })); err != nil {
		return fmt.Errorf("register realtime metrics: %w", err)
	}
	if err := registerPoolMetrics(a.apiMetrics, a.pool); err != nil {
		return err
	}
	store, stopReplica, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer stopReplica()
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(hubCtx) }()
	defer func() {
		stopHub()
		<-hubDone
	}()
	wctx, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	err = hub.WaitReady(wctx)
	cancelWait()
	if err != nil {
		return fmt.Errorf("realtime: no Redis subscription after 10s: %w", err)
	}
	srv, err := api.New(api.Config{
		Env:                  a.cfg.Env,
		Version:              version,
		PublicBaseURL:        a.cfg.HTTP.PublicBaseURL,
		PublicWebURL:         a.cfg.HTTP.PublicWebURL,
		CORSOrigins:          a.cfg.HTTP.CORSOrigins,
		TrustedProxies:       a.cfg.HTTP.TrustedProxies,
		SecretKey:            a.cfg.Auth.SecretKey,
		TokenTTL:             a.cfg.Auth.TokenTTL,
		RefreshTokenTTL:      a.cfg.Auth.RefreshTokenTTL,
		BcryptCost:           a.cfg.Auth.BcryptCost,
		AuthRateLimit:        a.cfg.Auth.RateLimit,
		AuthRateWindow:       a.cfg.Auth.RateLimitWindow,
		APIKeyRateLimit:      a.cfg.Auth.APIKeyRateLimit,
		APIKeyMaxPerUser:     a.cfg.Auth.APIKeyMaxPerUser,
		UploadURLTTL:         a.cfg.Storage.UploadTTL,
		MediaURLTTL:          a.cfg.Storage.URLTTL,
		VideoMaxBytes:        a.cfg.Media.VideoMaxBytes,
		ImageMaxBytes:        a.cfg.Media.ImageMaxBytes,
		ViewRateLimit:        a.cfg.Media.ViewRateLimit,
		ReportRateLimit:      a.cfg.Media.ReportRateLimit,
		SearchRateLimit:      a.cfg.Media.SearchRateLimit,
		ViewAnonPerIP:        a.cfg.Media.ViewAnonPerIP,
		TrustedCountryHeader: a.cfg.Media.TrustedCountryHeader,
		ShareRateLimit:       a.cfg.Media.ShareRateLimit,
		// Search privacy (issue 11).
		SearchHistoryRateLimit:   a.cfg.Media.SearchHistoryRateLimit,
		AutocompleteMinSearchers: a.cfg.Media.AutocompleteMinSearchers,
		FeedCacheTTL:             a.cfg.Media.FeedCacheTTL,
		AdminStatsTTL:            a.cfg.Media.AdminStatsTTL,
		Quotas: api.Quotas{
			AIJobsPerMinute: a.cfg.Quota.AIJobsPerMinute, AIJobsPerDay: a.cfg.Quota.AIJobsPerDay,
			CapturesPerMinute: a.cfg.Quota.CapturesPerMinute, CapturesPerDay: a.cfg.Quota.CapturesPerDay,
			UploadsPerMinute: a.cfg.Quota.UploadsPerMinute, UploadsPerDay: a.cfg.Quota.UploadsPerDay,
			UploadBytesPerDay: a.cfg.Quota.UploadBytesPerDay,
			CommentsPerMinute: a.cfg.Quota.CommentsPerMinute, CommentsPerDay: a.cfg.Quota.CommentsPerDay,
			ReportsPerMinute: a.cfg.Quota.ReportsPerMinute, ReportsPerDay: a.cfg.Quota.ReportsPerDay,
		},
		// S3 presigned PUTs sign an exact Content-Length.
		ExactUploadSize:        a.cfg.Storage.Backend == "s3",
		ReplicateWebhookSecret: a.cfg.AI.WebhookSecret,
		PrivateMediaURLTTL:     a.cfg.Storage.PrivateURLTTL,
		// E-mail (issue 14).
		EmailEnabled:                    a.cfg.Email.Enabled(),
		WelcomeCreditsAfterVerification: a.cfg.Email.WelcomeAfterVerification,
		EmailRequestLimit:               a.cfg.Email.RequestLimit,
		// Read replica (issue 17).
		ReadAfterWrite: a.cfg.DB.ReadAfterWrite,
	}, api.Deps{
		Store: store, Redis: a.rdb, Tasks: tc, Logger: a.log,
		Storage: a.storage, StorageHandler: storageHandler(a.storage),
		Views:        views.NewCounter(a.rdb, a.cfg.Auth.SecretKey, views.DedupeWindow),
		Trending:     trending.New(a.rdb),
		AIModels:     a.aiModels(),
		StudioLimits: a.tierLimits,
		Registry:     a.apiMetrics,
		Billing:      bill,
		DevMail:      a.devMailHandler(),
		Realtime:     hub,
		Tracer:       a.tracing.Tracer(),
	})
	if err != nil {
		return err
	}
	// Draining also closes every socket with 1001 going away (the http
	// server's Shutdown does not wait for hijacked connections), so clients
	// reconnect to another replica while this one finishes its requests.
	drain := func() {
		srv.Drain()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
		defer cancel()
		if err := hub.Shutdown(sctx); err != nil {
			a.log.Warn("sockets still open at the end of the shutdown timeout", "component", "realtime", "open", hub.Len())
		}
	}
	if a.cfg.HTTP.MetricsAddr == "" && a.cfg.HTTP.PprofAddr == "" {
		return a.serveHTTP(ctx, "api", a.cfg.HTTP.Addr, srv.Handler(), drain, ready)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.serveHTTP(gctx, "api", a.cfg.HTTP.Addr, srv.Handler(), drain, ready) })
	if a.cfg.HTTP.MetricsAddr != "" {
		g.Go(func() error {
			return a.serveHTTP(gctx, "metrics", a.cfg.HTTP.MetricsAddr, metricsMux(srv.Metrics()), nil, nil)
		})
	}
	if a.cfg.HTTP.PprofAddr != "" {
		g.Go(func() error { return a.serveHTTP(gctx, "pprof", a.cfg.HTTP.PprofAddr, pprofMux(), nil, nil) })
	}
	return g.Wait()
}

// readStore is the api's store: a.store, or with DATABASE_READ_URL one
// whose replica-allowed reads go to the replica (db/replica.go), checked
// every DATABASE_READ_CHECK_INTERVAL until stop is called. The replica's
// routing, state and lag are api metrics. The worker, scheduler and
// dashboard never read the replica: they act on what they read.
func (a *app) readStore(ctx context.Context) (store *db.Store, stop func(), err error) {
	if a.cfg.DB.ReadURL == "" {
		return a.store, func() {}, nil
	}
	rp, err := db.OpenReplicaPool(a.cfg.DB.ReadURL, db.PoolOptions{MaxConns: a.cfg.DB.MaxConns,
		StatementTimeout: a.cfg.DB.StatementTimeout, AcquireTimeout: a.cfg.DB.PoolWait, Tracing: a.tracing != nil})
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_READ_URL: %w", err)
	}
	r := db.NewReplica(ctx, a.pool, rp, db.ReplicaOptions{CheckInterval: a.cfg.DB.ReadCheckInterval,
		MaxLag: a.cfg.DB.ReadMaxLag, Logger: a.log})
	if r.State() != db.ReplicaUp {
		a.log.Warn("the read replica does not serve reads yet; the primary serves them until it does", "state", r.State().String())
	}
	if err := registerReplicaMetrics(a.apiMetrics, r); err != nil {
		rp.Close()
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); r.Run(rctx) }()
	return db.NewStoreWithReplica(r), func() {
		cancel()
		<-done
		rp.Close()
	}, nil
}

// registerReplicaMetrics exposes where replica-allowed reads went, and the
// replica's state and lag.
func registerReplicaMetrics(reg prometheus.Registerer, r *db.Replica) error {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lokiz_db_replica_up",
			Help: "1 while the read replica serves reads (answering, lag within DATABASE_READ_MAX_LAG), else 0.",
		}, func() float64 {
			if r.State() == db.ReplicaUp {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lokiz_db_replica_lag_seconds",
			Help: "The read replica's replay lag at the last check that reached it.",
		}, func() float64 { return r.Lag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lokiz_db_replica_pool_acquired_conns",
			Help: "Read replica connections of this process's pool in use.",
		}, func() float64 { return float64(r.Pool().Stat().AcquiredConns()) }),
	}
	for reason := range db.ReadReason(len(db.ReadReasons)) {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "lokiz_db_routed_reads_total",
			Help:        "Statements of the replica-allowed routes (feeds, search, profiles, lists) by the pool that served them and why.",
			ConstLabels: prometheus.Labels{"target": reason.Target(), "reason": db.ReadReasons[reason]},
		}, func() float64 { return float64(r.Reads(reason)) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register replica metrics: %w", err)
		}
	}
	return nil
}

// pprofMux serves net/http/pprof's profiles under /debug/pprof/, on the
// opt-in loopback listener PPROF_ADDR (the load harness takes the api's
// CPU profile through it).
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// metricsMux serves h at /metrics, on a listener of its own.
func metricsMux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return mux
}

// s3Credentials returns explicit keys when configured; nil lets the AWS SDK
// use its standard chain.
func s3Credentials(c StorageConfig) aws.CredentialsProvider {
	if c.S3AccessKeyID == "" {
		return nil
	}
	return credentials.NewStaticCredentialsProvider(c.S3AccessKeyID, c.S3SecretAccessKey, "")
}

// storageHandler is the local backend's signed-URL endpoint, which the api
// serves; other backends serve their own URLs.
func storageHandler(st storage.Store) http.Handler {
	if l, ok := st.(*storage.Local); ok {
		return l.Handler()
	}
	return nil
}

// serveDashboard runs asynqmon and the queue metrics until ctx ends;
// apiMetrics, when not nil (the api runs in this process), are served at
// /metrics/api behind the dashboard's auth.
func (a *app) serveDashboard(ctx context.Context, ready chan<- string, apiMetrics http.Handler) error {
	if err := a.cfg.RequireDashboardPassword(); err != nil {
		return err
	}
	h, err := dashboard.NewHandler(dashboard.Options{
		Redis: a.rdb, User: a.cfg.Dash.User, Password: a.cfg.Dash.Password, Logger: a.log,
		APIMetrics: apiMetrics,
	})
	if err != nil {
		return err
	}
	return a.serveHTTP(ctx, "dashboard", a.cfg.Dash.Addr, h, nil, ready)
}

// serveHTTP listens on addr and serves h until ctx ends. When ready is not
// nil it receives the bound address once the listener is open.
func (a *app) serveHTTP(ctx context.Context, name, addr string, h http.Handler, drain func(), ready chan<- string) error {
	ln, err := a.listen(addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// The limits every HTTP server of the process applies (documented in
	// docs/benchmarks.md): a client gets 10s to send its headers (slow
	// loris), a minute for the whole request and for the answer (uploads
	// and media go through presigned storage URLs or stream within it),
	// two minutes idle between keep-alive requests, and 64 KiB of headers.
	// Connections beyond what the handlers can serve wait in the kernel's
	// accept queue and in Go's scheduler, not in an error: what bounds the
	// work is the database and Redis pools' wait (DB_POOL_WAIT_TIMEOUT,
	// REDIS_POOL_TIMEOUT), which sheds with 503 overloaded.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	a.log.Info("listening", "component", name, "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s server: %w", name, err)
	case <-ctx.Done():
	}
	if drain != nil {
		drain()
	}
	a.log.Info("shutting down", "component", name, "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s shutdown: %w", name, err)
	}
	return nil
}

// runWorkerRole runs the asynq server until ctx ends.
func (a *app) runWorkerRole(ctx context.Context) error {
	qc := asynq.NewClientFromRedisClient(a.rdb)
	defer qc.Close()
	rep, err := a.replicateClient()
	if err != nil {
		return err
	}
	// The inspector lets the outbox drain replace an archived delivery.
	tc := tasks.NewClient(qc).WithDeleter(asynq.NewInspectorFromRedisClient(a.rdb))
	bill, err := a.billingService(tc)
	if err != nil {
		return err
	}
	mailer, err := a.mailer(tc)
	if err != nil {
		return err
	}
	w := worker.New(worker.Deps{
		Mailer: mailer,
		Store:  a.store, Redis: a.rdb, Storage: a.storage, Tasks: tc, Logger: a.log, Billing: bill,
		Media:     worker.MediaConfig{MaxDuration: a.cfg.Media.VideoMaxDuration, FrameMaxAge: a.cfg.Quota.FrameMaxAge},
		Replicate: rep, Catalog: a.catalog,
		AI: worker.AIConfig{WebhookURL: a.webhookURL(), PollMin: a.cfg.AI.PollMin, PollMax: a.cfg.AI.PollMax,
			MaxOutputBytes: a.cfg.AI.OutputMaxBytes, Outputs: a.outputPolicy()},
		NotificationGroupWindow: a.cfg.Worker.NotificationGroupWindow,
		NotificationOutboxAge:   a.cfg.Worker.NotificationOutboxAge,
		VideoStuckAfter:         a.cfg.Worker.VideoStuckAfter,
		AIStuckAfter:            a.cfg.Worker.AIStuckAfter,
		FramesStuckAfter:        a.cfg.Worker.FramesStuckAfter,
		Tracer:                  a.tracing.Tracer(),
	}, worker.Config{
		Concurrency:     a.cfg.Worker.Concurrency,
		Queues:          a.cfg.Worker.Queues,
		ShutdownTimeout: a.cfg.ShutdownTimeout,
	})
	return w.Run(ctx)
}

// mailer is the worker's mail sender; nil (e-mail tasks are dropped)
// without SMTP_HOST.
func (a *app) mailer(tc *tasks.Client) (*mail.Mailer, error) {
	if !a.cfg.Email.Enabled() {
		a.log.Warn("SMTP_HOST is not set: no mail is sent (verification, password reset and notification mail are off)")
		return nil, nil
	}
	sender, err := mail.NewSender(a.cfg.Email.SMTP)
	if err != nil {
		return nil, err
	}
	return mail.NewMailer(a.store, sender, tc, mail.MailerConfig{
		PublicBaseURL: a.cfg.HTTP.PublicBaseURL, PublicWebURL: a.cfg.HTTP.PublicWebURL,
		SecretKey: a.cfg.Auth.SecretKey, DigestPeriod: a.cfg.Email.DigestPeriod,
	}, a.log.With("component", "mail")), nil
}

// devMailHandler is the development mail box, when `lokiz dev` runs one.
func (a *app) devMailHandler() http.Handler {
	if a.devMail == nil || a.cfg.Production() {
		return nil
	}
	return a.devMail.Handler()
}

// runSchedulerRole runs the periodic-task scheduler until ctx ends.
func (a *app) runSchedulerRole(ctx context.Context) error {
	s, err := scheduler.New(a.rdb, a.log, scheduler.DefaultEntries(scheduler.Intervals{
		ViewFlush: a.cfg.Media.ViewFlushInterval, Trending: a.cfg.Media.TrendingInterval,
		Reconcile: a.cfg.Worker.ReconcileInterval}))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// paymentProviders builds the configured payment providers; a provider
// without its key is left nil (its routes answer 503).
func (a *app) paymentProviders() (payments.Providers, error) {
	var p payments.Providers
	if cfg, ok := a.cfg.Payments.Stripe(); ok {
		cfg.HTTPClient = a.httpClient(30 * time.Second)
		s, err := payments.NewStripe(cfg)
		if err != nil {
			return p, fmt.Errorf("stripe: %w", err)
		}
		p.Stripe = s
	}
	if cfg, ok := a.cfg.Payments.Toss(); ok {
		cfg.HTTPClient = a.httpClient(30 * time.Second)
		t, err := payments.NewToss(cfg)
		if err != nil {
			return p, fmt.Errorf("toss: %w", err)
		}
		p.Toss = t
	}
	if p.Stripe == nil && a.devCheckout != nil && !a.cfg.Production() {
		p.Dev = a.devCheckout
	}
	return p, nil
}

// billingService is the purchase flow over the configured providers (and,
// through its Subscriptions, the subscription flows: the api and the
// worker reach the providers only through it), built once per role; nil
// (the payment routes answer 503, no payment task runs) when no provider is
// configured.
func (a *app) billingService(tc *tasks.Client) (*billing.Service, error) {
	a.providersOnce.Do(func() { a.providers, a.providersErr = a.paymentProviders() })
	if a.providersErr != nil {
		return nil, a.providersErr
	}
	if len(a.providers.Names()) == 0 {
		a.log.Warn("no payment provider is configured (STRIPE_SECRET_KEY, TOSS_SECRET_KEY): credit purchases are refused")
		return nil, nil
	}
	return billing.New(a.store, tc, a.providers, billing.Config{
		CustomerKeySecret: a.cfg.Auth.SecretKey, PendingAfter: a.cfg.Payments.PendingAfter,
	}, a.log)
}

// registerPoolMetrics exports the PostgreSQL pool's use: connections in use
// against the cap, and the acquires that gave up after DB_POOL_WAIT_TIMEOUT.
func registerPoolMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lokiz_db_pool_acquired_conns",
			Help: "PostgreSQL connections of this process's pool in use.",
		}, func() float64 { return float64(pool.Stat().AcquiredConns()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lokiz_db_pool_max_conns",
			Help: "The cap of this process's PostgreSQL pool (DB_MAX_CONNS).",
		}, func() float64 { return float64(pool.Stat().MaxConns()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lokiz_db_pool_wait_timeouts_total",
			Help: "Statements that found no free PostgreSQL connection within DB_POOL_WAIT_TIMEOUT.",
		}, func() float64 { return float64(db.PoolWaitTimeouts(pool)) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register pool metrics: %w", err)
		}
	}
	return nil
}
