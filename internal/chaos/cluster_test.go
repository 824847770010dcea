package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The chaos run owns its Redis and PostgreSQL: it kills and restarts them,
// so it never touches the shared servers other tests use.

const redisServer = "/usr/bin/redis-server"

// pgBin is the newest Debian PostgreSQL server's tools (initdb, pg_ctl):
// /usr/lib/postgresql/<major>/bin, whichever major the machine has.
var pgBin = func() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestMajor := "/usr/lib/postgresql/15/bin", -1
	for _, d := range dirs {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err == nil && major > bestMajor {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				best, bestMajor = d, major
			}
		}
	}
	return best
}()

// freePort returns a loopback port nothing listens on right now. It is
// released before the server that will use it binds it, so another process
// may take it meanwhile: every start below notices (errPortTaken) and
// tries again on another port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// errPortTaken is a server's start that failed because its port was taken.
var errPortTaken = errors.New("port taken")

// bindFailed reports whether a server's log says its listen address was
// taken (redis-server, postgres and lokiz all say "address already in use").
func bindFailed(log string) bool {
	return strings.Contains(strings.ToLower(log), "address already in use")
}

// asPostgres runs a PostgreSQL tool as the postgres OS user when this
// process is root (initdb refuses root), as itself otherwise.
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, name)}, args...)...)
	}
	return exec.Command(filepath.Join(pgBin, name), args...)
}

// postgres is a private PostgreSQL cluster in a temporary directory.
type postgres struct {
	dir, sock, log string
	port           int
}

func startPostgres(t *testing.T) *postgres {
	return startPostgresOn(t, func() int { return freePort(t) })
}

// startPostgresOn initializes the cluster and starts it on a port from
// pick, on another one when that port is taken.
func startPostgresOn(t *testing.T, pick func() int) *postgres {
	t.Helper()
	root, err := os.MkdirTemp("", "lokiz-chaos-pg")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs the postgres OS user for initdb")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(root, uid, gid))
	}
	p := &postgres{dir: filepath.Join(root, "data"), sock: root, log: filepath.Join(root, "pg.log")}
	out, err := asPostgres("initdb", "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	for attempt := 1; ; attempt++ {
		p.port = pick()
		err = p.launch()
		if err == nil {
			break
		}
		require.ErrorIs(t, err, errPortTaken)
		require.Less(t, attempt, 5, "postgres: every port tried was taken")
		t.Logf("chaos: postgres port %d was taken; another one", p.port)
	}
	t.Cleanup(func() { _ = p.stop() })
	return p
}

// start starts the cluster again on its port (the processes' DATABASE_URL
// names it): a port taken meanwhile is waited for.
func (p *postgres) start(t *testing.T) {
	t.Helper()
	var err error
	for range 20 {
		if err = p.launch(); !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.NoError(t, err)
}

// launch is one `pg_ctl start`; errPortTaken when the postmaster could
// not bind its port.
func (p *postgres) launch() error {
	var logSize int64
	if fi, err := os.Stat(p.log); err == nil {
		logSize = fi.Size()
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.port, p.sock)
	out, err := asPostgres("pg_ctl", "-D", p.dir, "-o", opts, "-l", p.log, "-w", "-t", "60", "start").CombinedOutput()
	if err == nil {
		return nil
	}
	var tail []byte
	if f, ferr := os.Open(p.log); ferr == nil {
		_, _ = f.Seek(logSize, io.SeekStart)
		tail, _ = io.ReadAll(f)
		f.Close()
	}
	if bindFailed(string(tail)) {
		return fmt.Errorf("postgres on %d: %w", p.port, errPortTaken)
	}
	return fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, tail)
}

// stop is an immediate shutdown: the postmaster and its backends quit
// without a checkpoint, as after a crash; the next start recovers.
func (p *postgres) stop() error {
	return asPostgres("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop").Run()
}

func (p *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// redisProc is a private redis-server without persistence: a restart
// loses every key, queued tasks included.
type redisProc struct {
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *bytes.Buffer
}

func startRedis(t *testing.T) *redisProc { return startRedisOn(t, func() int { return freePort(t) }) }

// startRedisOn starts redis-server on a port from pick, on another one when
// that port is taken.
func startRedisOn(t *testing.T, pick func() int) *redisProc {
	t.Helper()
	r := &redisProc{}
	t.Cleanup(r.kill)
	for attempt := 1; ; attempt++ {
		r.port = pick()
		err := r.launch()
		if err == nil {
			return r
		}
		require.ErrorIs(t, err, errPortTaken)
		require.Less(t, attempt, 5, "redis-server: every port tried was taken")
		t.Logf("chaos: redis port %d was taken; another one", r.port)
	}
}

// start starts redis-server again on its port (the processes' REDIS_URL
// names it): a port still in TIME_WAIT, or taken meanwhile, is waited for.
func (r *redisProc) start(t *testing.T) {
	t.Helper()
	var err error
	for range 50 {
		if err = r.launch(); !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, err, "redis-server on %d", r.port)
}

// launch is one start of redis-server. It returns once the server on the
// port answers as this process (INFO's process_id is its pid), or
// errPortTaken when the process could not bind it or another server
// answers there.
func (r *redisProc) launch() error {
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command(redisServer, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	var mu sync.Mutex
	r.cmd.Stdout = lockedWriter{mu: &mu, b: r.log}
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	r.done = done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	client := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			mu.Lock()
			log := r.log.String()
			mu.Unlock()
			if bindFailed(log) {
				return fmt.Errorf("redis on %d: %w", r.port, errPortTaken)
			}
			return fmt.Errorf("redis-server exited: %s", log)
		default:
		}
		info, err := client.Info(context.Background(), "server").Result()
		if err == nil {
			if strings.Contains(info, fmt.Sprintf("process_id:%d\r\n", cmd.Process.Pid)) {
				return nil
			}
			r.kill()
			return fmt.Errorf("another redis answers on %d: %w", r.port, errPortTaken)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.kill()
	return fmt.Errorf("redis-server did not answer on %d", r.port)
}

func (r *redisProc) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

func (r *redisProc) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// role is one `lokiz <role>` process, restartable with the same env.
type role struct {
	name string
	bin  string
	env  []string
	addr string // the api's HTTP_ADDR; empty for the other roles (guarded by mu)
	logs *bytes.Buffer
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	up   atomic.Bool
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 4<<20 { // keep the tail readable, not the whole run
		w.b.Reset()
	}
	return w.b.Write(p)
}

// address is the api's HTTP address (host:port); it changes when a
// start found its port taken.
func (r *role) address() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// moveTo gives the api a new HTTP_ADDR, for its next start.
func (r *role) moveTo(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addr = addr
	for i, kv := range r.env {
		if strings.HasPrefix(kv, "HTTP_ADDR=") {
			r.env[i] = "HTTP_ADDR=" + addr
		}
	}
}

// start starts the process; an api is started once it answers /ready. A
// process that exits first is an error (errPortTaken when its log says its
// address was taken).
func (r *role) start() error {
	r.mu.Lock()
	cmd := exec.Command(r.bin, r.roleName())
	cmd.Env = slices.Clone(r.env)
	addr := r.addr
	w := lockedWriter{mu: &r.mu, b: r.logs}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logStart := r.logs.Len()
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return err
	}
	r.cmd = cmd
	done := make(chan struct{})
	r.done = done
	r.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	if addr != "" && !waitReady("http://"+addr, 60*time.Second, done) {
		select {
		case <-done:
			r.mu.Lock()
			log := ""
			if logStart <= r.logs.Len() {
				log = r.logs.String()[logStart:]
			}
			r.mu.Unlock()
			if bindFailed(log) {
				return fmt.Errorf("%s on %s: %w", r.name, addr, errPortTaken)
			}
			return fmt.Errorf("%s exited before it was ready", r.name)
		default:
			return fmt.Errorf("%s never became ready", r.name)
		}
	}
	r.up.Store(true)
	return nil
}

func (r *role) roleName() string {
	for i := len(r.name) - 1; i >= 0; i-- {
		if r.name[i] == '-' {
			return r.name[:i]
		}
	}
	return r.name
}

// kill sends SIGKILL: no shutdown, no hand-back of the tasks it runs.
func (r *role) kill() {
	r.up.Store(false)
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop asks for a clean shutdown (SIGTERM) and waits for it.
func (r *role) stop() {
	r.up.Store(false)
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (r *role) tail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.logs.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitReady polls base's /ready until it answers 200 (true), within
// passes or exited closes (false).
func waitReady(base string, within time.Duration, exited <-chan struct{}) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := client.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// balancer is the public address (PUBLIC_BASE_URL): upload URLs, webhooks
// and media URLs go through it to a live api replica, as behind a load
// balancer that drops a dead backend.
type balancer struct {
	apis []*role
	next atomic.Uint64
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range 2 * len(b.apis) {
		a := b.apis[b.next.Add(1)%uint64(len(b.apis))]
		if !a.up.Load() {
			continue
		}
		target, _ := url.Parse("http://" + a.address())
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
		return
	}
	http.Error(w, "no live replica", http.StatusBadGateway)
}

func startBalancer(t *testing.T, b *balancer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}
