package tasks_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisDB is this package's own Redis database index; other packages' tests
// run at the same time on other indexes.
const redisDB = 6

// newRedis connects to the test Redis and fails t when it is not there.
func newRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: cmp.Or(os.Getenv("TEST_REDIS_ADDR"), "127.0.0.1:6379"),
		DB:   redisDB,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(context.Background()).Err(), "Redis must be running for these tests")
	return rdb
}

// uniqueQueue returns a queue name no other test uses, deleted with its
// tasks when t ends.
func uniqueQueue(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	q := "test_" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(q, true) })
	return q
}
