package dashboard

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
)

// RootPath is where asynqmon is mounted. asynqmon renders it into its
// single-page app, so it must match the route registered in NewHandler.
const RootPath = "/monitoring"

// Options configures NewHandler.
type Options struct {
	// Logger receives failed logins and metric collection errors, tagged
	// component=dashboard. Defaults to a logger that discards everything.
	Logger *slog.Logger

	// Password is the basic-auth password (DASHBOARD_PASSWORD). Required:
	// NewHandler refuses to build an unprotected dashboard.
	Password string

	// PrometheusAddress is the base URL of a Prometheus server that scrapes
	// this dashboard's /metrics (for example http://prometheus:9090). When
	// set, asynqmon draws its time-series charts from it. Optional.
	PrometheusAddress string

	// ReadOnly restricts asynqmon to viewing: its API then refuses every
	// method but GET. Defaults to false (operators may retry, archive and
	// delete tasks and pause queues).
	ReadOnly bool

	// Redis is the connection to the Redis that holds the asynq queues; the
	// same client the api and worker use. Required. The dashboard shares it
	// and never closes it; the caller closes it after the server has stopped.
	Redis redis.UniversalClient

	// User is the basic-auth user name (DASHBOARD_USER). Defaults to "admin".
	User string

	// APIMetrics, when set, serves the api's metrics at /metrics/api behind
	// the same auth: `lokiz dev` runs the api in the dashboard's process,
	// and the api's own port never serves them. Optional.
	APIMetrics http.Handler
}

// NewHandler builds the dashboard's http.Handler; see the package
// documentation for its routes. It returns an error when Password or Redis is
// missing. It opens no connection of its own, so there is nothing to close:
// Redis is only contacted per request and per scrape.
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Password == "" {
		return nil, errors.New("dashboard: a password is required (DASHBOARD_PASSWORD)")
	}
	if opts.Redis == nil {
		return nil, errors.New("dashboard: a Redis client is required")
	}
	user := cmp.Or(opts.User, "admin")
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "dashboard")

	metrics, err := newMetricsHandler(asynq.NewInspectorFromRedisClient(opts.Redis), logger)
	if err != nil {
		return nil, err
	}

	// asynqmon.New takes a RedisConnOpt and calls MakeRedisClient on it twice
	// (once for its Redis-info page, once for its Inspector). sharedRedis
	// answers both with the caller's client, so the dashboard keeps one pool
	// and inherits every client setting (TLS, Sentinel, cluster) instead of
	// re-deriving them. The price: asynqmon's own Close would close the
	// caller's client, so it is never called.
	monitor := asynqmon.New(asynqmon.Options{
		RootPath:          RootPath,
		RedisConnOpt:      sharedRedis{client: opts.Redis},
		PrometheusAddress: opts.PrometheusAddress,
		ReadOnly:          opts.ReadOnly,
	})

	private := http.NewServeMux()
	private.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, RootPath+"/", http.StatusFound)
	})
	// The pattern ends in a slash so that the whole subtree goes to asynqmon
	// and a bare /monitoring is redirected to /monitoring/.
	private.Handle(RootPath+"/", monitor)
	private.Handle("GET /metrics", metrics)
	if opts.APIMetrics != nil {
		private.Handle("GET /metrics/api", opts.APIMetrics)
	}

	// A browser that holds basic-auth credentials sends them to any site that
	// links here, and asynqmon's write endpoints are plain POSTs without a
	// CSRF token. CrossOriginProtection rejects state-changing cross-site
	// browser requests while still letting curl and scripts through.
	protected := requireBasicAuth(user, opts.Password, logger, http.NewCrossOriginProtection().Handler(private))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", health)
	mux.Handle("/", protected)
	return mux, nil
}

// health is a liveness check: it answers as long as the process serves HTTP.
// It deliberately does not ping Redis, because restarting the dashboard would
// not repair Redis; queue problems show up on /metrics (lokiz_dashboard_asynq_up).
func health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// sharedRedis is an asynq.RedisConnOpt that hands out an existing client
// instead of building a new one per call.
type sharedRedis struct {
	client redis.UniversalClient
}

var _ asynq.RedisConnOpt = sharedRedis{}

// MakeRedisClient returns the shared client; asynqmon asserts it to
// redis.UniversalClient.
func (s sharedRedis) MakeRedisClient() any { return s.client }
