package scheduler

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisDB is this package's own Redis database index; other packages' tests
// run at the same time on other indexes.
const redisDB = 3

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

// uniqueQueue returns a queue name no other test uses; the queue and its
// tasks are deleted when t ends.
func uniqueQueue(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	q := "test_" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(q, true) })
	return q
}

// logBuffer collects JSON log lines written from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// newLogger returns a debug-level JSON logger writing to a fresh logBuffer.
func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// lines returns the records whose msg is msg (all records when msg is "").
func (b *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal(raw, &rec), "log line %s", raw)
		if msg == "" || rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}
