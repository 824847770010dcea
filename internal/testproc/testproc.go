// Package testproc starts private servers for tests that must own them:
// PostgreSQL clusters and redis-server processes on ports of their own,
// which a test may kill, restart, fail over or replicate without touching
// the shared servers other tests use.
package testproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

const RedisServer = "/usr/bin/redis-server"

// PGBin is the newest Debian PostgreSQL server's tools (initdb, pg_ctl):
// /usr/lib/postgresql/<major>/bin, whichever major the machine has.
var PGBin = func() string {
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

// FreePort returns a loopback port nothing listens on right now. It is
// released before the server that will use it binds it, so another process
// may take it meanwhile: every start below notices (ErrPortTaken) and
// tries again on another port.
func FreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// ErrPortTaken is a server's start that failed because its port was taken.
var ErrPortTaken = errors.New("port taken")

// BindFailed reports whether a server's log says its listen address was
// taken (redis-server, postgres and lokiz all say "address already in use").
func BindFailed(log string) bool {
	return strings.Contains(strings.ToLower(log), "address already in use")
}

// AsPostgres runs a PostgreSQL tool as the postgres OS user when this
// process is root (initdb refuses root), as itself otherwise.
func AsPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(PGBin, name)}, args...)...)
	}
	return exec.Command(filepath.Join(PGBin, name), args...)
}

// postgres is a private PostgreSQL cluster in a temporary directory.
type Postgres struct {
	Dir, Sock, Log string
	Port           int
}

func StartPostgres(t *testing.T) *Postgres {
	return StartPostgresOn(t, func() int { return FreePort(t) })
}

// StartPostgresOn initializes the cluster and starts it on a port from
// pick, on another one when that port is taken.
func StartPostgresOn(t *testing.T, pick func() int) *Postgres {
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
	p := &Postgres{Dir: filepath.Join(root, "data"), Sock: root, Log: filepath.Join(root, "pg.log")}
	out, err := AsPostgres("initdb", "-D", p.Dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	for attempt := 1; ; attempt++ {
		p.Port = pick()
		err = p.Launch()
		if err == nil {
			break
		}
		require.ErrorIs(t, err, ErrPortTaken)
		require.Less(t, attempt, 5, "postgres: every port tried was taken")
		t.Logf("testproc: postgres port %d was taken; another one", p.Port)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p
}

// start starts the cluster again on its port (the processes' DATABASE_URL
// names it): a port taken meanwhile is waited for.
func (p *Postgres) Start(t *testing.T) {
	t.Helper()
	var err error
	for range 20 {
		if err = p.Launch(); !errors.Is(err, ErrPortTaken) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.NoError(t, err)
}

// launch is one `pg_ctl start`; ErrPortTaken when the postmaster could
// not bind its port.
func (p *Postgres) Launch() error {
	var logSize int64
	if fi, err := os.Stat(p.Log); err == nil {
		logSize = fi.Size()
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.Port, p.Sock)
	out, err := AsPostgres("pg_ctl", "-D", p.Dir, "-o", opts, "-l", p.Log, "-w", "-t", "60", "start").CombinedOutput()
	if err == nil {
		return nil
	}
	var tail []byte
	if f, ferr := os.Open(p.Log); ferr == nil {
		_, _ = f.Seek(logSize, io.SeekStart)
		tail, _ = io.ReadAll(f)
		f.Close()
	}
	if BindFailed(string(tail)) {
		return fmt.Errorf("postgres on %d: %w", p.Port, ErrPortTaken)
	}
	return fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, tail)
}

// stop is an immediate shutdown: the postmaster and its backends quit
// without a checkpoint, as after a crash; the next start recovers.
func (p *Postgres) Stop() error {
	return AsPostgres("pg_ctl", "-D", p.Dir, "-m", "immediate", "-w", "stop").Run()
}

func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// Redis is a private redis-server without persistence: a restart
// loses every key, queued tasks included.
type Redis struct {
	Port int
	// Args are extra redis-server arguments (a replicaof, cluster or
	// sentinel setting), given at every start.
	Args []string
	// Conf is a config file given as redis-server's first argument (a
	// sentinel needs one it can rewrite), or "".
	Conf string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	Log  *bytes.Buffer
	// dir is the process's working directory, where a replica writes the
	// RDB of its full sync: a temporary one, removed by Kill, never the
	// test's package directory.
	dir string
}

// StartRedis starts redis-server on a free port; args are extra
// redis-server arguments kept for every restart.
func StartRedis(t *testing.T, args ...string) *Redis {
	return StartRedisOn(t, func() int { return FreePort(t) }, args...)
}

// StartRedisOn starts redis-server on a port from pick, on another one when
// that port is taken.
func StartRedisOn(t *testing.T, pick func() int, args ...string) *Redis {
	t.Helper()
	r := &Redis{Args: args}
	t.Cleanup(r.Kill)
	for attempt := 1; ; attempt++ {
		r.Port = pick()
		err := r.Launch()
		if err == nil {
			return r
		}
		require.ErrorIs(t, err, ErrPortTaken)
		require.Less(t, attempt, 5, "redis-server: every port tried was taken")
		t.Logf("testproc: redis port %d was taken; another one", r.Port)
	}
}

// start starts redis-server again on its port (the processes' REDIS_URL
// names it): a port still in TIME_WAIT, or taken meanwhile, is waited for.
func (r *Redis) Start(t *testing.T) {
	t.Helper()
	var err error
	for range 50 {
		if err = r.Launch(); !errors.Is(err, ErrPortTaken) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, err, "redis-server on %d", r.Port)
}

// launch is one start of redis-server. It returns once the server on the
// port answers as this process (INFO's process_id is its pid), or
// ErrPortTaken when the process could not bind it or another server
// answers there.
func (r *Redis) Launch() error {
	r.Log = &bytes.Buffer{}
	var conf []string
	if r.Conf != "" {
		conf = []string{r.Conf}
	}
	r.cmd = exec.Command(RedisServer, append(conf, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")...)
	r.cmd.Args = append(r.cmd.Args, r.Args...)
	if r.dir == "" {
		dir, err := os.MkdirTemp("", "lokiz-redis")
		if err != nil {
			return err
		}
		r.dir = dir
	}
	r.cmd.Dir = r.dir
	var mu sync.Mutex
	r.cmd.Stdout = LockedWriter{Mu: &mu, B: r.Log}
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	r.done = done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	client := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.Port), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			mu.Lock()
			log := r.Log.String()
			mu.Unlock()
			if BindFailed(log) {
				return fmt.Errorf("redis on %d: %w", r.Port, ErrPortTaken)
			}
			return fmt.Errorf("redis-server exited: %s", log)
		default:
		}
		info, err := client.Info(context.Background(), "server").Result()
		if err == nil {
			if strings.Contains(info, fmt.Sprintf("process_id:%d\r\n", cmd.Process.Pid)) {
				return nil
			}
			r.Kill()
			return fmt.Errorf("another redis answers on %d: %w", r.Port, ErrPortTaken)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Kill()
	return fmt.Errorf("redis-server did not answer on %d", r.Port)
}

func (r *Redis) Kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
		r.dir = ""
	}
}

func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

type LockedWriter struct {
	Mu *sync.Mutex
	B  *bytes.Buffer
}

func (w LockedWriter) Write(p []byte) (int, error) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if w.B.Len() > 4<<20 { // keep the tail readable, not the whole run
		w.B.Reset()
	}
	return w.B.Write(p)
}
