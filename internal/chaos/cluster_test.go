package chaos

import (
	"github.com/lokiz/lokiz/internal/testproc"

	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The chaos run owns its Redis and PostgreSQL: it kills and restarts them,
// so it never touches the shared servers other tests use.

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
// process that exits first is an error (testproc.ErrPortTaken when its log says its
// address was taken).
func (r *role) start() error {
	r.mu.Lock()
	cmd := exec.Command(r.bin, r.roleName())
	cmd.Env = slices.Clone(r.env)
	addr := r.addr
	w := testproc.LockedWriter{Mu: &r.mu, B: r.logs}
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
			if testproc.BindFailed(log) {
				return fmt.Errorf("%s on %s: %w", r.name, addr, testproc.ErrPortTaken)
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
