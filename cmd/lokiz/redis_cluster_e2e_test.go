package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/redisurl"
	"github.com/lokiz/lokiz/internal/testproc"
)

// TestRedisClusterJourney runs a real `lokiz dev` (api, worker, scheduler
// and dashboard in one process) on a three-master Redis Cluster of its own
// (REDIS_URL=redis-cluster://...) and walks every Redis feature the roles
// use across the cluster's slots: the rate limits (every request), the
// upload quota's charge script, the view-counting script and the flusher's
// batch rename into Postgres, the for-you pointer and marker read, an asynq
// round trip (a like becomes a notify task the worker runs) whose
// notification reaches the recipient's WebSocket through pub/sub, and
// asynqmon's queue and Redis pages. A CROSSSLOT error anywhere fails it:
// the answers must be right and no log line may mention one.
func TestRedisClusterJourney(t *testing.T) {
	t.Parallel()
	cluster := testproc.StartCluster(t, 3)
	dbURL := dbtest.NewEmptyDB(t)
	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	c := startDev(t, map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": cluster.URL(),
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"DASHBOARD_PASSWORD": "cluster-dash",
		"SECRET_KEY":         strings.Repeat("c", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "STORAGE_DIR": t.TempDir(),
		"VIEW_FLUSH_INTERVAL": "1s", "TRENDING_INTERVAL": "1s",
	})
	aliceToken, alice := c.register("alice_cl")
	bobToken, _ := c.register("bob_cl")
	carolToken, _ := c.register("carol_cl")

	pool, err := db.Open(context.Background(), dbURL, db.PoolOptions{MaxConns: 2})
	require.NoError(t, err)
	defer pool.Close()
	video := dbtest.Video(t, db.NewStore(pool), dbtest.VideoOpts{Owner: uuid.MustParse(alice), NoMedia: true}).ID.String()

	// Pub/sub: alice's socket is subscribed through the hub's PSUBSCRIBE on
	// one node; the worker's PUBLISH may go to any other.
	ws := dialSocket(t, c.base, aliceToken, "")
	require.Equal(t, "caught_up", readSocket(t, ws, c.logs)["type"])

	// asynq round trip: the like enqueues notify:deliver, the worker runs it.
	status, out := c.call("POST", "/v1/likes/videos/"+video, bobToken, nil)
	require.Equal(t, http.StatusCreated, status, "%v", out)
	ev := readSocket(t, ws, c.logs)
	require.Equal(t, "notification", ev["type"], "%v", ev)
	require.Equal(t, "like", ev["notification"].(map[string]any)["type"])

	// The view-counting script (five {views} keys) and the flusher's
	// RENAME of the pending hash into a batch, then Postgres (the owner's
	// own views never count).
	for _, token := range []string{carolToken, bobToken} {
		status, out = c.call("POST", "/v1/videos/"+video+"/view", token, map[string]any{})
		require.Equal(t, http.StatusOK, status, "%v", out)
		require.Equal(t, true, out["counted"], "%v", out)
	}
	require.Eventually(t, func() bool {
		var n int64
		err := pool.QueryRow(context.Background(), "SELECT view_count FROM videos WHERE id = $1", video).Scan(&n)
		return err == nil && n == 2
	}, 30*time.Second, 100*time.Millisecond, "the two views never reached Postgres; logs:\n%s", c.logs)

	// The upload quota's charge script (several counters of one user).
	status, out = c.call("POST", "/v1/videos/upload-url", bobToken, map[string]any{"content_type": "video/mp4", "caption": "q", "size_bytes": 1000})
	require.Equal(t, http.StatusOK, status, "%v", out)

	// The for-you first page: the MGET of the pointer and the marker, twice
	// (the second read finds the ranking the first one stored).
	for range 2 {
		status, out = c.call("GET", "/v1/feed/for-you", bobToken, nil)
		require.Equal(t, http.StatusOK, status, "%v", out)
	}

	// trending:recompute publishes a snapshot and then its pointer (two
	// slots); the for-you ranking above read it.
	cfg, err := redisurl.Parse(cluster.URL())
	require.NoError(t, err)
	rdb := cfg.NewClient(2, time.Second)
	defer rdb.Close()
	require.Eventually(t, func() bool {
		snap, err := rdb.Get(context.Background(), "lokiz:trending:current").Result()
		return err == nil && snap != "" && rdb.Exists(context.Background(), "lokiz:trending:snapshot:"+snap).Val() == 1
	}, 30*time.Second, 100*time.Millisecond, "no trending snapshot published; logs:\n%s", c.logs)

	// asynqmon on a ClusterClient: its queue list, its cluster page and the
	// scheduler's entries (the heartbeat writes its list and then the index,
	// two slots).
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest("GET", "http://"+dashAddr+"/monitoring/api/scheduler_entries", nil)
		req.SetBasicAuth("admin", "cluster-dash")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var out struct {
			Entries []any `json:"entries"`
		}
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&out) == nil && len(out.Entries) > 0
	}, 30*time.Second, 200*time.Millisecond, "asynqmon lists no scheduler entries")
	for _, path := range []string{"/monitoring/api/queues", "/monitoring/api/redis_info"} {
		req, _ := http.NewRequest("GET", "http://"+dashAddr+path, nil)
		req.SetBasicAuth("admin", "cluster-dash")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		require.True(t, json.Valid(body), "%s: %s", path, body)
		if path == "/monitoring/api/redis_info" {
			require.Contains(t, string(body), `"cluster":true`, "asynqmon took the cluster client")
		}
	}

	logs := c.logs.String()
	require.NotContains(t, strings.ToUpper(logs), "CROSSSLOT", logs)
	for _, l := range c.logs.Lines(t, "") {
		require.NotEqual(t, "ERROR", fmt.Sprint(l["level"]), "%v", l)
	}
}
