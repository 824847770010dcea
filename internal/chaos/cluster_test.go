package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
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
	p := &postgres{dir: filepath.Join(root, "data"), sock: root, log: filepath.Join(root, "pg.log"), port: freePort(t)}
	out, err := asPostgres("initdb", "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	p.start(t)
	t.Cleanup(func() { _ = p.stop() })
	return p
}

func (p *postgres) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.port, p.sock)
	out, err := asPostgres("pg_ctl", "-D", p.dir, "-o", opts, "-l", p.log, "-w", "-t", "60", "start").CombinedOutput()
	require.NoError(t, err, "pg_ctl start: %s", out)
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
}

func startRedis(t *testing.T) *redisProc {
	t.Helper()
	r := &redisProc{port: freePort(t)}
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

func (r *redisProc) start(t *testing.T) {
	t.Helper()
	var err error
	for range 50 {
		r.cmd = exec.Command(redisServer, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--protected-mode", "no")
		if err = r.cmd.Start(); err != nil {
			break
		}
		if waitTCP(fmt.Sprintf("127.0.0.1:%d", r.port), 5*time.Second) {
			return
		}
		r.kill()
		time.Sleep(100 * time.Millisecond) // the port may still be in TIME_WAIT
	}
	t.Fatalf("redis-server did not start on %d: %v", r.port, err)
}

func (r *redisProc) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

func (r *redisProc) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func waitTCP(addr string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// role is one `lokiz <role>` process, restartable with the same env.
type role struct {
	name string
	bin  string
	env  []string
	addr string // the api's HTTP_ADDR; empty for the other roles
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

func (r *role) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.bin, r.roleName())
	cmd.Env = r.env
	w := lockedWriter{mu: &r.mu, b: r.logs}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd = cmd
	done := make(chan struct{})
	r.done = done
	go func() { _ = cmd.Wait(); close(done) }()
	if r.addr != "" {
		if !waitReady("http://"+r.addr, 60*time.Second) {
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

func waitReady(base string, within time.Duration) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
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
		target, _ := url.Parse("http://" + a.addr)
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
