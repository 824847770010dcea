package scheduler

import (
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/internal/testkit"
)

// redisDB is this package's own Redis database index; other packages' tests
// run at the same time on other indexes.
const redisDB = 3

func newRedis(t *testing.T) redis.UniversalClient { return testkit.Redis(t, redisDB) }

func uniqueQueue(t *testing.T, rdb redis.UniversalClient) string { return testkit.UniqueQueue(t, rdb) }

func newLogger() (*slog.Logger, *testkit.LogBuffer) { return testkit.NewLogger() }
