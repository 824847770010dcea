package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
)

// A request that finds every PostgreSQL connection busy waits at most the
// pool wait, then answers 503 unavailable, reason overloaded, with
// Retry-After: back-pressure instead of a queue without limit. It is a
// warning and a counter, not an error, and the next request after the
// connection is free succeeds.
func TestPoolExhaustedIs503Overloaded(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	const wait = 300 * time.Millisecond
	pool, err := db.Open(context.Background(), url, db.PoolOptions{MaxConns: 1, AcquireTimeout: wait})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := newEnvWithStore(t, db.NewStore(pool))

	held, err := pool.Acquire(context.Background())
	require.NoError(t, err)
	for _, path := range []string{"/v1/videos/", "/v1/search/users?q=mina"} {
		start := time.Now()
		res := e.do(req{method: "GET", path: path, unspecified: true})
		took := time.Since(start)
		require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s: %s", path, res.Raw)
		require.Equal(t, "unavailable", res.Body["code"], "%s", res.Raw)
		require.Equal(t, "overloaded", reason(res))
		require.Equal(t, "1", res.Header.Get("Retry-After"))
		require.GreaterOrEqual(t, took, wait, "the request waited for a connection first")
		require.Less(t, took, wait+time.Second, "and not much longer than the wait")
	}
	require.EqualValues(t, 2, db.PoolWaitTimeouts(pool))
	held.Release()

	res := e.do(req{method: "GET", path: "/v1/videos/"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)

	require.NotContains(t, e.logs.String(), `"level":"ERROR"`)
	require.Equal(t, 2, e.logs.Count("overloaded: no connection free"))
	w := httptest.NewRecorder()
	e.srv.Metrics().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	require.Contains(t, string(body), `lokiz_http_overloaded_total{dependency="postgres"} 2`)
	require.NotContains(t, string(body), `status="500"`)
	shed := 0
	for l := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(l, "lokiz_http_requests_total{") && strings.Contains(l, `status="503"} 1`) {
			shed++
		}
	}
	require.Equal(t, 2, shed, "each shed request is counted as a 503: %s", body)
}

// A caller whose own deadline ends first gets its own deadline's error,
// not ErrPoolBusy: only the pool's wait is overload.
func TestPoolWaitCallerDeadlineIsNotPoolBusy(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	pool, err := db.Open(context.Background(), url, db.PoolOptions{MaxConns: 1, AcquireTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	held, err := pool.Acquire(context.Background())
	require.NoError(t, err)
	defer held.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = pool.Exec(ctx, "SELECT 1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, db.IsPoolBusy(err), "%v", err)
	require.Zero(t, db.PoolWaitTimeouts(pool))
}

// A request that finds every Redis connection busy waits at most
// REDIS_POOL_TIMEOUT (the client's PoolTimeout), then answers 503
// unavailable, reason overloaded, with Retry-After, and is counted under
// dependency="redis"; once the connection is free the same request counts.
func TestRedisPoolExhaustedIs503Overloaded(t *testing.T) {
	t.Parallel()
	const wait = 300 * time.Millisecond
	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(), DB: redisDB, PoolSize: 1, PoolTimeout: wait})
	t.Cleanup(func() { _ = rdb.Close() })
	store := dbtest.NewStore(t)
	e := newEnvWithRedis(t, store, rdb)
	_, owner := e.register("redis_pool_owner")
	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: uuid.MustParse(owner), NoMedia: true}).ID

	held := rdb.Conn() // takes the pool's only connection on first use
	require.NoError(t, held.Ping(context.Background()).Err())
	start := time.Now()
	res := e.do(req{method: "POST", path: "/v1/videos/" + video.String() + "/view", unspecified: true})
	took := time.Since(start)
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Raw)
	require.Equal(t, "unavailable", res.Body["code"], "%s", res.Raw)
	require.Equal(t, "overloaded", reason(res))
	require.Equal(t, "1", res.Header.Get("Retry-After"))
	require.GreaterOrEqual(t, took, wait, "the request waited for a connection first")
	require.Less(t, took, wait+2*time.Second, "and not much longer than the wait")
	require.NoError(t, held.Close())

	res = e.do(req{method: "POST", path: "/v1/videos/" + video.String() + "/view", unspecified: true})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, true, res.Body["counted"], "%s", res.Raw)

	require.NotContains(t, e.logs.String(), `"level":"ERROR"`)
	w := httptest.NewRecorder()
	e.srv.Metrics().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	require.Contains(t, string(body), `lokiz_http_overloaded_total{dependency="redis"} 1`)
	require.NotContains(t, string(body), `status="500"`)
}
