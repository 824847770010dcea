package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/tasks"
)

// redisDB is this package's own Redis database.
const redisDB = 4

var binPath string

// TestMain builds the real binary once, so the start-up refusals are
// checked on the program operators run, exit codes included.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lokiz-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "lokiz")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lokiz:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBinary runs the built binary with exactly env (no inherited variables)
// and returns its exit code and combined output.
func runBinary(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run lokiz %v: %v", args, err)
	}
	return code, string(out)
}

func redisURL() string { return fmt.Sprintf("redis://127.0.0.1:6379/%d", redisDB) }

func TestHelp(t *testing.T) {
	t.Parallel()
	code, out := runBinary(t, nil, "--help")
	require.Equal(t, 0, code)
	for _, c := range commands {
		require.Contains(t, out, "  "+c.name)
	}
	for _, c := range commands {
		code, out := runBinary(t, nil, c.name, "--help")
		require.Equal(t, 0, code, c.name)
		require.Contains(t, out, "Usage: "+c.usage, c.name)
	}
	code, out = runBinary(t, nil, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, out, `unknown command "frobnicate"`)
	code, _ = runBinary(t, nil, "migrate", "sideways")
	require.Equal(t, 2, code)
}

func TestRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"api", "worker", "scheduler", "dashboard", "migrate"} {
		args := []string{role}
		if role == "migrate" {
			args = append(args, "up")
		}
		code, out := runBinary(t, map[string]string{"LOKIZ_ENV": "production", "WORKER_CONCURRENCY": "lots"}, args...)
		require.Equal(t, 1, code, role)
		require.Contains(t, out, "invalid configuration", role)
		require.Contains(t, out, "DATABASE_URL is required", role)
		require.Contains(t, out, "WORKER_CONCURRENCY must be a whole number", role)
		require.NotContains(t, out, "connect", "no connection is attempted before config is valid")
	}
}

func TestDashboardRefusesProductionWithoutPassword(t *testing.T) {
	t.Parallel()
	code, out := runBinary(t, map[string]string{
		"LOKIZ_ENV": "production", "DATABASE_URL": "postgres://nowhere.invalid/x", "REDIS_URL": "redis://nowhere.invalid:6379",
		"SECRET_KEY": strings.Repeat("s", 40),
	}, "dashboard")
	require.Equal(t, 1, code)
	require.Contains(t, out, "DASHBOARD_PASSWORD is required in production")
}

// TestRolesStartAsProduction: without LOKIZ_ENV the server roles apply
// production's rules (here BCRYPT_COST and CORS_ALLOWED_ORIGINS), before
// any connection is opened.
func TestRolesStartAsProduction(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://nowhere.invalid/x", "REDIS_URL": "redis://nowhere.invalid:6379",
		"SECRET_KEY": strings.Repeat("s", 40), "DASHBOARD_PASSWORD": "p"}
	for _, role := range []string{"api", "worker", "scheduler", "dashboard"} {
		env["BCRYPT_COST"] = "4"
		code, out := runBinary(t, env, role)
		require.Equal(t, 1, code, role)
		require.Contains(t, out, "BCRYPT_COST must be at least 10 in production", role)
	}
	env["BCRYPT_COST"] = "12"
	code, out := runBinary(t, env, "api")
	require.Equal(t, 1, code)
	require.Contains(t, out, "CORS_ALLOWED_ORIGINS is required in production")
	require.NotContains(t, out, "connect")
}

func TestRefusesPendingMigrations(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewEmptyDB(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL(), "SECRET_KEY": strings.Repeat("s", 40),
		"STORAGE_DIR": t.TempDir(), "BCRYPT_COST": "4", "LOKIZ_ENV": "development"}
	for _, role := range []string{"api", "worker", "scheduler"} {
		code, out := runBinary(t, env, role)
		require.Equal(t, 1, code, role)
		require.Contains(t, out, "pending migrations: run `lokiz migrate up` first", role)
	}

	code, out := runBinary(t, env, "migrate", "status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "pending")
	code, out = runBinary(t, env, "migrate", "up")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "applied migration 00001")
	code, out = runBinary(t, env, "migrate", "up")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "database is up to date")
	code, out = runBinary(t, env, "migrate", "status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, ", 0 pending")

	code, out = runBinary(t, env, "seed")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "created  admin")
	require.Equal(t, 3, strings.Count(out, "created  video"), out)
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var completed int
	require.NoError(t, conn.QueryRow(context.Background(),
		"SELECT count(*) FROM videos WHERE status = 'completed' AND thumbnail_key IS NOT NULL AND width = 360").Scan(&completed))
	require.Equal(t, 3, completed, "demo videos went through the real pipeline")
	code, out = runBinary(t, env, "seed")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "exists   admin", "seeding twice changes nothing")
	require.Equal(t, 3, strings.Count(out, "exists   video"), out)
}

// heldListeners are the listeners freeAddr bound, by address, until a role
// run in this process takes one over (testListen).
var heldListeners sync.Map

// freeAddr binds a loopback listener on a port the kernel picks and returns
// its address. The listener stays open until a role run in this process
// with listen: testListen (runRoleForTest does) takes it over, or the test
// ends: nothing else can take the port in between, such as the dev role's
// own ephemeral listeners (SMTP capture, Toss simulator) or a parallel
// test's. For a role in another process, use releasedAddr.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	heldListeners.Store(addr, ln)
	t.Cleanup(func() {
		if ln, ok := heldListeners.LoadAndDelete(addr); ok {
			_ = ln.(net.Listener).Close()
		}
	})
	return addr
}

// testListen is environment.listen in tests: the listener freeAddr holds
// for addr, else a new one.
func testListen(addr string) (net.Listener, error) {
	if ln, ok := heldListeners.LoadAndDelete(addr); ok {
		return ln.(net.Listener), nil
	}
	return net.Listen("tcp", addr)
}

// TestFreeAddrIsHeldUntilTaken: no other listener can take the port
// freeAddr picked (the flake of a role failing with "address already in
// use"); the role gets that very listener through testListen.
func TestFreeAddrIsHeldUntilTaken(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	_, err := net.Listen("tcp", addr)
	require.ErrorContains(t, err, "address already in use")
	ln, err := testListen(addr)
	require.NoError(t, err)
	require.Equal(t, addr, ln.Addr().String())
	require.NoError(t, ln.Close())
}

// releasedAddr returns a loopback address nothing listens on right now, for
// a process that binds it itself (a listener cannot be handed to it):
// another listener may take it before the process does, so its caller
// retries with a new address when the process reports the address in use
// (startAPIProcess).
func releasedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestDevEndToEnd runs `lokiz dev` against an empty database and checks the
// journey the README promises: migrations at start, register → login → me,
// the docs page, the dashboard listing the queues, a task enqueued through
// Redis run by the worker, and a clean shutdown on cancel.
func TestDevEndToEnd(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewEmptyDB(t)
	apiAddr, dashAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	logs := &testkit.LogBuffer{}
	env := &environment{
		getenv: envMap(map[string]string{
			"DATABASE_URL": dbURL, "REDIS_URL": redisURL(), "HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "METRICS_ADDR": metricsAddr,
			"SECRET_KEY": strings.Repeat("d", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
			"DASHBOARD_PASSWORD": "dash-pass", "SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json",
		}),
		stdout: io.Discard,
		stderr: logs,
		listen: testListen,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, []string{"dev"}) }()

	base := "http://" + apiAddr
	client := &http.Client{Timeout: 10 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := client.Get(base + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "dev never became ready; logs:\n%s", logs)

	post := func(path string, body any) (int, map[string]any) {
		raw, _ := json.Marshal(body)
		resp, err := client.Post(base+path, "application/json", bytes.NewReader(raw))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	status, reg := post("/v1/auth/register", map[string]any{"username": "devuser", "email": "dev@example.com", "password": "dev-password"})
	require.Equal(t, http.StatusCreated, status, "%v", reg)
	status, login := post("/v1/auth/login", map[string]any{"username": "devuser", "password": "dev-password"})
	require.Equal(t, http.StatusOK, status, "%v", login)

	meReq, _ := http.NewRequest("GET", base+"/v1/auth/me", nil)
	meReq.Header.Set("Authorization", "Bearer "+login["access_token"].(string))
	resp, err := client.Do(meReq)
	require.NoError(t, err)
	var me map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&me))
	resp.Body.Close()
	require.Equal(t, "devuser", me["username"])
	require.Equal(t, float64(100), me["credits"])

	resp, err = client.Get(base + "/docs")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), "swagger-ui")

	// A task enqueued through Redis is run by the dev process's worker.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: redisDB})
	defer rdb.Close()
	qc := asynq.NewClientFromRedisClient(rdb)
	defer qc.Close()
	info, err := qc.Enqueue(tasks.NewCreditsAuditTask(), asynq.TaskID("credits:audit:dev-e2e-"+time.Now().Format("150405.000000")),
		asynq.Retention(time.Hour))
	require.NoError(t, err)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	require.Eventually(t, func() bool {
		ti, err := insp.GetTaskInfo(info.Queue, info.ID)
		return err == nil && ti.State == asynq.TaskStateCompleted
	}, 20*time.Second, 100*time.Millisecond, "the worker never completed the task; logs:\n%s", logs)

	// The dashboard lists the queues behind basic auth.
	dreq, _ := http.NewRequest("GET", "http://"+dashAddr+"/monitoring/api/queues", nil)
	resp, err = client.Do(dreq)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	dreq.SetBasicAuth("admin", "dash-pass")
	resp, err = client.Do(dreq)
	require.NoError(t, err)
	queues, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(queues), `"queue":"low"`)

	// The api's metrics: not on its public port, but on METRICS_ADDR and
	// on the dashboard behind its auth.
	resp, err = client.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no metrics on the public api port")
	for _, metrics := range []struct {
		url  string
		auth bool
	}{{"http://" + metricsAddr + "/metrics", false}, {"http://" + dashAddr + "/metrics/api", true}} {
		mreq, _ := http.NewRequest("GET", metrics.url, nil)
		if metrics.auth {
			resp, err = client.Do(mreq)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, metrics.url)
			mreq.SetBasicAuth("admin", "dash-pass")
		}
		resp, err = client.Do(mreq)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, metrics.url)
		require.Contains(t, string(body), `lokiz_http_requests_total{method="POST",route="/v1/auth/login",status="200"} 1`, metrics.url)
		require.Contains(t, string(body), "lokiz_ws_connections 0", metrics.url)
	}

	// Cancel (SIGTERM's effect) shuts every role down cleanly.
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, "logs:\n%s", logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("dev did not shut down; logs:\n%s", logs)
	}
	require.Contains(t, logs.String(), `"msg":"shutting down","service":"lokiz","component":"api"`)
}

// TestReplicateSimCommand runs `lokiz replicate-sim` and drives it through
// the adapter over the real replicate-go client: a music prediction
// completes with an audio file.
func TestReplicateSimCommand(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	env := &environment{getenv: envMap(map[string]string{"REPLICATE_API_TOKEN": "sim-token"}), stdout: io.Discard, stderr: io.Discard, listen: testListen}
	go func() { done <- run(ctx, env, []string{"replicate-sim", "-addr", addr}) }()

	client, err := replicate.New(replicate.Config{BaseURL: "http://" + addr + "/v1", Token: "sim-token"})
	require.NoError(t, err)
	var p replicate.Prediction
	require.Eventually(t, func() bool {
		p, err = client.Create(context.Background(), replicate.Spec{Model: "meta/musicgen", Input: map[string]any{"prompt": "lofi", "duration": 1}})
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the simulator never accepted a prediction: %v", err)
	require.Eventually(t, func() bool {
		p, err = client.Get(context.Background(), p.ID)
		return err == nil && p.Status.Terminal()
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, replicate.StatusSucceeded, p.Status, "%+v", p)
	require.NotEmpty(t, p.OutputURLs())

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(15 * time.Second):
		t.Fatal("replicate-sim did not stop")
	}
}
