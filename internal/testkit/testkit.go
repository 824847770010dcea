// Package testkit is shared test support for the packages that talk to
// Redis and assert on log output: a connection to a package's own Redis
// database, throwaway asynq queues, and a concurrency-safe JSON log buffer.
// Postgres has its own helper, db/dbtest.
package testkit

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
)

// RedisAddr is TEST_REDIS_ADDR, or the local Redis.
func RedisAddr() string { return cmp.Or(os.Getenv("TEST_REDIS_ADDR"), "127.0.0.1:6379") }

// Redis connects to database index db of the test Redis (each test package
// uses its own index, so packages running at once never share keys) and
// fails t when Redis is not there. The client is closed when t ends.
func Redis(t testing.TB, db int) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db, PoolSize: 64})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("testkit: Redis must be running at %s: %v", RedisAddr(), err)
	}
	return rdb
}

// UniqueQueue returns an asynq queue name no other test uses; the queue and
// its tasks are deleted when t ends.
func UniqueQueue(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	q := "test_" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(q, true) })
	return q
}

// LogBuffer collects log output written from any goroutine.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLogger returns a debug-level JSON logger writing to a fresh LogBuffer.
func NewLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// Write implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many JSON records have msg; safe inside
// require.Eventually, whose condition runs outside the test goroutine.
func (b *LogBuffer) Count(msg string) int {
	n := 0
	for _, rec := range b.records() {
		if rec["msg"] == msg {
			n++
		}
	}
	return n
}

// Lines returns the JSON records whose msg is msg (all when msg is ""); a
// line that is not JSON fails t.
func (b *LogBuffer) Lines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace([]byte(b.String())), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatalf("testkit: log line is not JSON: %s", raw)
		}
		if msg == "" || rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (b *LogBuffer) records() []map[string]any {
	var out []map[string]any
	for _, raw := range bytes.Split([]byte(b.String()), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(raw, &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}
