package dashboard_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/dashboard"
)

// redisDB is the Redis database index reserved for this package's tests; it
// is the only one they flush.
const redisDB = 5

const (
	testUser     = "ops"
	testPassword = "correct horse battery staple"
)

// redisAddr is the test Redis: TEST_REDIS_ADDR (host:port) or the local
// server. Only the address is configurable so that no setting can point the
// flush at another database.
func redisAddr() string {
	return cmp.Or(os.Getenv("TEST_REDIS_ADDR"), "127.0.0.1:6379")
}

func TestMain(m *testing.M) {
	// Flush once, before any test runs: tests run in parallel on the same
	// database and tell their data apart by queue name.
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := rdb.FlushDB(ctx).Err()
	cancel()
	_ = rdb.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "dashboard tests need Redis at %s (TEST_REDIS_ADDR): %v\n", redisAddr(), err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

type testBundle struct {
	handler http.Handler
	redis   *redis.Client
	client  *asynq.Client
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), DB: redisDB})
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(t.Context()).Err())

	h, err := dashboard.NewHandler(dashboard.Options{Redis: rdb, User: testUser, Password: testPassword, Logger: testLogger(t)})
	require.NoError(t, err)

	// The asynq client shares the connection too; closing it would close rdb.
	return &testBundle{handler: h, redis: rdb, client: asynq.NewClientFromRedisClient(rdb)}
}

// testLogger writes through t, so a failing test shows what the handler logged.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// uniqueQueue returns a queue name no other test uses.
func uniqueQueue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "dashtest_" + hex.EncodeToString(b)
}

// enqueue puts a task into queue and fails the test if asynq refuses.
func enqueue(t *testing.T, c *asynq.Client, queue string, opts ...asynq.Option) {
	t.Helper()
	_, err := c.EnqueueContext(t.Context(), asynq.NewTask("dashtest:noop", []byte(`{}`)), append(opts, asynq.Queue(queue))...)
	require.NoError(t, err)
}

// do sends one request through h, with the test credentials when auth is set.
func do(t *testing.T, h http.Handler, method, target string, auth bool, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if auth {
		req.SetBasicAuth(testUser, testPassword)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
