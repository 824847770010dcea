package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/tracing"
	"github.com/lokiz/lokiz/views"
)

// BenchmarkViewCountHTTPTracing is BenchmarkViewCountHTTP with tracing off
// and on in the same run. On means everything the api role installs when
// OTEL_EXPORTER_OTLP_ENDPOINT is set: the request's server span, the pool's
// statement tracer and the Redis hook, every trace sampled (ratio 1), spans
// batched to an exporter that drops them (the cost of the OTLP upload
// itself is the collector's network, not measured here). Off is the
// default: nothing installed.
func BenchmarkViewCountHTTPTracing(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			var p *tracing.Provider
			if on {
				p = tracing.New(tracing.Config{ServiceName: "bench", SampleRatio: 1}, tracetest.NewNoopExporter())
				b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			}
			e := newTracedEnv(b, p)
			_, owner := e.register("viewtrace")
			id := e.video(owner, dbtest.VideoOpts{})
			postViews(b, e.h, id)
		})
	}
}

// newTracedEnv is newEnv for the view routes (no rate limits) with tracing
// installed as cmd/lokiz installs it when p is not nil.
func newTracedEnv(t testing.TB, p *tracing.Provider) *testEnv {
	t.Helper()
	cfg := testConfig()
	cfg.ViewRateLimit, cfg.ViewAnonPerIP = 1<<30, 1<<30
	_, url := dbtest.NewDB(t)
	on := p != nil
	pool, err := db.Open(context.Background(), url, db.PoolOptions{Tracing: on})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := db.NewStore(pool)
	rdb := newRedis(t)
	deps := api.Deps{}
	if on {
		rdb.AddHook(tracing.RedisHook{})
		deps.Tracer = p.Tracer()
	}
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, logs := testkit.NewLogger()
	st := newLocalStorage(t, cfg)
	deps.Store, deps.Redis, deps.Tasks, deps.Logger = store, rdb, tasks.NewClient(qc), logger
	deps.Storage, deps.StorageHandler = st, st.Handler()
	deps.Views = views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow)
	srv, err := api.New(cfg, deps)
	require.NoError(t, err)
	return &testEnv{
		t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256)),
	}
}
