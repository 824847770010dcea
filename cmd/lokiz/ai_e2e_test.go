package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/replicate/sim"
)

// waitJob polls the job until it ends and returns it; the statuses seen on
// the way are the contract's words only.
func (c *devClient) waitJob(token, id string) map[string]any {
	c.t.Helper()
	var job map[string]any
	lastProgress := -1.0
	require.Eventually(c.t, func() bool {
		status, j := c.call("GET", "/v1/ai/jobs/"+id, token, nil)
		require.Equal(c.t, http.StatusOK, status, "%v", j)
		job = j
		require.Contains(c.t, []any{"pending", "processing", "completed", "failed", "canceled"}, j["status"])
		p := j["progress"].(float64)
		require.GreaterOrEqual(c.t, p, lastProgress, "progress never goes back")
		lastProgress = p
		return j["status"] == "completed" || j["status"] == "failed" || j["status"] == "canceled"
	}, 90*time.Second, 100*time.Millisecond, "the job never ended; logs:\n%s", c.logs)
	return job
}

// TestAIJourney is the glitch through a real `lokiz dev` (api, asynq worker
// and scheduler, Postgres, Redis, ffmpeg) and the Replicate simulator behind
// the real replicate-go client: upload → frames → glitch → webhook (or
// polling) → finalize → a private, playable result → publish → the source's
// glitch_count is 1 and its owner is notified.
func TestAIJourney(t *testing.T) {
	t.Parallel()
	for mode, redisIndex := range map[string]int{"webhooks": 12, "polling": 13} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dbURL := dbtest.NewEmptyDB(t)
			apiAddr, dashAddr := freeAddr(t), freeAddr(t)
			vars := map[string]string{
				"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
				"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
				"SECRET_KEY": strings.Repeat("a", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "4",
				"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
				"AI_POLL_MIN": "200ms", "AI_POLL_MAX": "1s",
			}
			var s *sim.Server
			if mode == "polling" {
				// A simulator of our own, and no webhook secret: the worker
				// polls. (Without a token, dev would start one with webhooks.)
				s = sim.New(sim.Options{Latency: sim.Latency{Starting: 50 * time.Millisecond, Processing: 500 * time.Millisecond}})
				srv := httptest.NewServer(s.Handler())
				t.Cleanup(func() { srv.Close(); _ = s.Close() })
				vars["REPLICATE_API_TOKEN"] = "journey"
				vars["REPLICATE_BASE_URL"] = srv.URL + "/v1"
			}
			c := startDev(t, vars)

			ownerToken, _ := c.register("owner_" + mode)
			token, _ := c.register("glitcher_" + mode)
			source := c.uploadVideo(ownerToken, "dance #ai")

			// A frame of the owner's video is the glitcher's image.
			status, frames := c.call("POST", "/v1/ai/capture-frames", token, map[string]any{"video_id": source, "timestamps": []float64{0.5, 1.5}})
			require.Equal(t, http.StatusOK, status, "%v; logs:\n%s", frames, c.logs)
			frame := frames["frames"].([]any)[1].(map[string]any)["image_url"].(string)

			status, job := c.call("POST", "/v1/ai/glitch/animate", token, map[string]any{"template_video_id": source, "user_image_url": frame, "prompt": "neon"})
			require.Equal(t, http.StatusAccepted, status, "%v", job)
			require.Equal(t, "pending", job["status"])
			jobID := job["id"].(string)
			job = c.waitJob(token, jobID)
			require.Equal(t, "completed", job["status"], "%v; logs:\n%s", job, c.logs)
			require.EqualValues(t, 100, job["progress"])
			resultID := job["video_id"].(string)

			// The result: private, the glitcher's, playable from our storage.
			status, v := c.call("GET", "/v1/videos/"+resultID, token, nil)
			require.Equal(t, http.StatusOK, status, "%v", v)
			require.Equal(t, "completed", v["status"])
			require.Equal(t, false, v["is_public"])
			require.Equal(t, source, v["original_video_id"])
			status, _ = c.call("GET", "/v1/videos/"+resultID, ownerToken, nil)
			require.Equal(t, http.StatusNotFound, status, "private until published")
			path := filepath.Join(t.TempDir(), "result.mp4")
			require.NoError(t, os.WriteFile(path, c.download(job["output_url"].(string)), 0o600))
			info, err := media.Probe(context.Background(), path)
			require.NoError(t, err, "the result plays")
			require.Equal(t, "h264", info.VideoCodec)
			require.True(t, strings.HasPrefix(job["output_url"].(string), "http://"+apiAddr+"/storage/"), "our copy, not the provider's URL")
			require.Equal(t, []any{job["output_url"]}, job["output_urls"], "the model made one file")

			// Published, it is everyone's; the source counts one glitch.
			status, v = c.call("PATCH", "/v1/videos/"+resultID, token, map[string]any{"is_public": true})
			require.Equal(t, http.StatusOK, status, "%v", v)
			status, _ = c.call("GET", "/v1/videos/"+resultID, ownerToken, nil)
			require.Equal(t, http.StatusOK, status)
			_, src := c.call("GET", "/v1/videos/"+source, ownerToken, nil)
			require.EqualValues(t, 1, src["glitch_count"])
			_, glitches := c.call("GET", "/v1/glitch/videos/"+source+"/glitches", "", nil)
			require.Len(t, glitches["glitches"], 1)

			// The source's owner hears of it.
			require.Eventually(t, func() bool {
				_, n := c.call("GET", "/v1/notifications", ownerToken, nil)
				for _, item := range n["notifications"].([]any) {
					if item.(map[string]any)["type"] == "glitch" {
						return true
					}
				}
				return false
			}, 30*time.Second, 200*time.Millisecond, "no glitch notification; logs:\n%s", c.logs)

			// 30 credits spent, as one ledger row.
			_, bal := c.call("GET", "/v1/credits/balance", token, nil)
			require.EqualValues(t, 70, bal["balance"])

			// A failing model: the job fails and the credits come back.
			status, job = c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "broken [sim:fail]", "duration": 2})
			require.Equal(t, http.StatusAccepted, status, "%v", job)
			job = c.waitJob(token, job["id"].(string))
			require.Equal(t, "failed", job["status"])
			require.Contains(t, job["error_message"], "refunded")
			_, bal = c.call("GET", "/v1/credits/balance", token, nil)
			require.EqualValues(t, 70, bal["balance"])

			if mode == "webhooks" {
				// Every webhook twice (same webhook-id), or none at all: each
				// job still completes once, through the dedupe or the polls.
				for _, fault := range []string{"[sim:dup-webhook]", "[sim:no-webhook]"} {
					status, job = c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "beat " + fault, "duration": 2})
					require.Equal(t, http.StatusAccepted, status, "%v", job)
					job = c.waitJob(token, job["id"].(string))
					require.Equal(t, "completed", job["status"], "%s: %v", fault, job)
				}
				_, bal = c.call("GET", "/v1/credits/balance", token, nil)
				require.EqualValues(t, 60, bal["balance"], "two music jobs, charged once each")
			}

			// Which path settled the jobs.
			conn, err := pgx.Connect(context.Background(), dbURL)
			require.NoError(t, err)
			defer conn.Close(context.Background())
			var hooks int
			require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM replicate_webhooks").Scan(&hooks))
			if mode == "webhooks" {
				// One completed event each for the glitch, the failed job and
				// the duplicated one (its second delivery was a replay); none
				// for the job whose webhook never came.
				require.Equal(t, 3, hooks, "the simulator's signed webhooks, each id once")
			} else {
				require.Zero(t, hooks)
				require.Len(t, s.Predictions(), 2, "one prediction per job")
				require.Empty(t, s.Predictions()[0].Webhook, "no webhook asked for without a secret")
			}
		})
	}
}

// TestAIWorkerKilledMidJob kills the worker process (SIGKILL: no shutdown,
// no hand-back) while its job's prediction runs, and starts a new one: the
// job completes once, on the one prediction it had, with the credits
// consistent.
func TestAIWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	const redisIndex = 14
	dbURL := dbtest.NewEmptyDB(t)
	s := sim.New(sim.Options{Latency: sim.Latency{Starting: 50 * time.Millisecond, Processing: 3 * time.Second}})
	simSrv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { simSrv.Close(); _ = s.Close() })
	apiAddr := freeAddr(t)
	vars := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
		"HTTP_ADDR": apiAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("k", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
		"REPLICATE_API_TOKEN": "killer", "REPLICATE_BASE_URL": simSrv.URL + "/v1",
		"AI_POLL_MIN": "200ms", "AI_POLL_MAX": "500ms",
		// The simulator's outputs are plain http on loopback: the worker
		// fetches them only in development, where a plain-http provider is
		// a simulator.
		"LOKIZ_ENV": "development",
	}
	code, out := runBinary(t, vars, "migrate", "up")
	require.Equal(t, 0, code, out)

	logs := &testkit.LogBuffer{}
	c := runRoleForTest(t, vars, "api", logs)

	startWorker := func() *exec.Cmd {
		cmd := exec.Command(binPath, "worker")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdout, cmd.Stderr = logs, logs
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}

	token, me := c.register("victim")
	status, job := c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "survive", "duration": 2})
	require.Equal(t, http.StatusAccepted, status, "%v", job)
	id := job["id"].(string)

	first := startWorker()
	require.Eventually(t, func() bool {
		_, j := c.call("GET", "/v1/ai/jobs/"+id, token, nil)
		return j["status"] == "processing"
	}, 30*time.Second, 50*time.Millisecond, "the job never started; logs:\n%s", logs)
	require.NoError(t, first.Process.Kill(), "the worker dies mid-job")
	_ = first.Wait()

	startWorker()
	job = c.waitJob(token, id)
	require.Equal(t, "completed", job["status"], "%v; logs:\n%s", job, logs)
	require.NotNil(t, job["output_url"])
	require.Len(t, s.Predictions(), 1, "no second prediction")

	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var usage, refund, credits, ledger int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || $1 || ':usage'),
		(SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || $1 || ':refund'),
		(SELECT credits FROM users WHERE id = $2::uuid),
		(SELECT sum(credits) FROM credit_transactions WHERE user_id = $2::uuid)`, id, me).Scan(&usage, &refund, &credits, &ledger))
	require.Equal(t, []int{1, 0, 95, 95}, []int{usage, refund, credits, ledger})
}

// TestAIOutputRedirectToLoopbackFails runs `lokiz dev` against a provider
// that lies: predictions run on the simulator, but every output URL
// redirects to a "metadata service" on loopback. The job ends failed with a
// readable reason that names no address, the credits come back, and the
// service never sees a connection.
func TestAIOutputRedirectToLoopbackFails(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	metadata := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"AccessKeyId":"instance-secret"}`)
	}))
	metadata.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	metadata.Start()
	t.Cleanup(metadata.Close)
	s := sim.New(sim.Options{Latency: sim.Latency{Starting: 50 * time.Millisecond, Processing: 300 * time.Millisecond}})
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/files/") {
			http.Redirect(w, r, metadata.URL+"/latest/meta-data/iam/security-credentials/worker", http.StatusFound)
			return
		}
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() { provider.Close(); _ = s.Close() })

	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	c := startDev(t, map[string]string{
		"DATABASE_URL": dbtest.NewEmptyDB(t), "REDIS_URL": "redis://127.0.0.1:6379/15", // a database of its own: queues are per deployment
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("m", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
		"AI_POLL_MIN": "200ms", "AI_POLL_MAX": "500ms",
		"REPLICATE_API_TOKEN": "hostile", "REPLICATE_BASE_URL": provider.URL + "/v1",
	})
	token, _ := c.register("victim_of_ssrf")
	status, job := c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "lofi", "duration": 2})
	require.Equal(t, http.StatusAccepted, status, "%v", job)
	job = c.waitJob(token, job["id"].(string))
	require.Equal(t, "failed", job["status"], "%v; logs:\n%s", job, c.logs)
	msg, _ := job["error_message"].(string)
	require.Contains(t, msg, "could not be fetched from an approved address")
	require.Contains(t, msg, "your credits were refunded")
	require.NotContains(t, msg, "127.0.0.1")
	require.Nil(t, job["output_url"])
	require.Zero(t, conns.Load(), "the metadata service was never contacted")
	_, me := c.call("GET", "/v1/auth/me", token, nil)
	require.EqualValues(t, 100, me["credits"], "refunded")
}
