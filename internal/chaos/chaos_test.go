package chaos

import (
	"github.com/lokiz/lokiz/internal/testproc"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/payments/paymenttest"
	"github.com/lokiz/lokiz/payments/tosssim"
	"github.com/lokiz/lokiz/replicate/sim"
	"github.com/lokiz/lokiz/tasks"
)

// TestChaos runs a whole deployment as real processes (`lokiz api` ×2,
// `lokiz worker` ×2, `lokiz scheduler` ×2, a private Redis and a private
// PostgreSQL, the Replicate and Toss simulators), sends a mix of user
// traffic to both api replicas, and meanwhile kills and restarts every
// piece at random points. Then it stops the faults, lets the reconcilers
// finish, and checks the invariants (docs/reliability.md, "Chaos").
//
// CHAOS_DURATION (default 45s, the subset `make test` runs) is how long traffic and faults last; `make
// chaos` runs it for minutes.
func TestChaos(t *testing.T) {
	duration := 45 * time.Second
	if raw := os.Getenv("CHAOS_DURATION"); raw != "" {
		d, err := time.ParseDuration(raw)
		require.NoError(t, err, "CHAOS_DURATION")
		duration = d
	}
	seed := time.Now().UnixNano()
	t.Logf("chaos: duration=%s seed=%d", duration, seed)
	h := newHarness(t, seed)
	h.run(duration)
}

type fault struct {
	kind       string
	start, end time.Time
}

type serverError struct {
	at     time.Time
	op     string
	status int
	target string
}

type harness struct {
	t     *testing.T
	rng   *rand.Rand
	rngMu sync.Mutex

	pg      *testproc.Postgres
	redis   *testproc.Redis
	apis    []*role
	workers []*role
	scheds  []*role
	all     []*role
	rep     *sim.Server
	toss    *tosssim.Server
	stripe  *paymenttest.StripeOverlay
	public  string
	client  *http.Client
	video   []byte

	mu        sync.Mutex
	faults    []fault
	openFault map[string]int
	errors5xx []serverError
	counts    map[string]int
	ops       atomic.Int64
	repStorm  atomic.Int32
	netErrs   atomic.Int64

	users        []*account
	videos       []string // ids of uploads the driver completed
	jobs         []string
	confirmed    []string // payment orders whose confirm answered 200
	countedBy    map[string]int
	quietCounted map[string]int

	stripePaid      []string // Stripe orders the driver paid (whatever their webhooks)
	stripeAbandoned []string // Stripe orders never paid
	stripeCounts    map[string]int
	captures        []string    // frame captures answered 200 or 202
	frameAnswers    map[int]int // capture answers by status
	bg              sync.WaitGroup
}

const (
	stormThrottle = 1
	stormStall    = 2
)

type account struct {
	id, token string
}

func newHarness(t *testing.T, seed int64) *harness {
	h := &harness{
		t: t, rng: rand.New(rand.NewPCG(uint64(seed), 0)), openFault: map[string]int{}, counts: map[string]int{},
		client: &http.Client{Timeout: 30 * time.Second}, countedBy: map[string]int{}, quietCounted: map[string]int{},
		stripeCounts: map[string]int{}, frameAnswers: map[int]int{},
	}
	h.pg = testproc.StartPostgres(t)
	h.redis = testproc.StartRedis(t)
	conn, err := pgx.Connect(context.Background(), h.pg.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE DATABASE lokiz")
	require.NoError(t, err)
	conn.Close(context.Background())

	dir := t.TempDir()
	bin := filepath.Join(dir, "lokiz")
	build := exec.Command("go", "build", "-o", bin, "github.com/lokiz/lokiz/cmd/lokiz")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build lokiz: %s", out)

	clip := filepath.Join(dir, "clip.mp4")
	require.NoError(t, mediatest.GenerateVideo(context.Background(), clip, mediatest.VideoOptions{
		Duration: 1, Width: 320, Height: 240, Audio: true, FastStart: true}))
	h.video, err = os.ReadFile(clip)
	require.NoError(t, err)

	// The simulators are real local HTTP servers in this process.
	h.rep = sim.New(sim.Options{Latency: sim.Latency{Starting: 100 * time.Millisecond, Processing: 1500 * time.Millisecond,
		Slow: 8 * time.Second}, RetryAfter: time.Second, HangLimit: 30 * time.Second})
	// The simulator's API behind a switch for 429 storms: every request 429
	// (Retry-After 1s). The other storm is the simulator's own Stall: every
	// request held past the workers' REPLICATE_TIMEOUT.
	repSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") && h.repStorm.Load() == stormThrottle {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"title":"Request was throttled","status":429,"detail":"chaos storm"}`)
			return
		}
		h.rep.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() { repSrv.Close(); _ = h.rep.Close() })

	bal := &balancer{}
	h.public = startBalancer(t, bal)
	const tossToken = "chaos-toss-token"
	h.toss, err = tosssim.Start(tosssim.Options{WebhookURL: h.public + "/v1/webhooks/toss?token=" + tossToken,
		WebhookRetries: 3, WebhookRetryDelay: 500 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.toss.Close() })
	var stripeBase string
	h.stripe, stripeBase = startStripe(t, h)

	vars := map[string]string{
		"PATH": os.Getenv("PATH"), "LOKIZ_ENV": "development",
		"DATABASE_URL": h.pg.URL("lokiz"), "REDIS_URL": h.redis.URL(), "PUBLIC_BASE_URL": h.public,
		"SECRET_KEY": strings.Repeat("c", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "4",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": filepath.Join(dir, "storage"),
		"DB_MAX_CONNS":        "10",
		"REPLICATE_API_TOKEN": "chaos", "REPLICATE_BASE_URL": repSrv.URL + "/v1", "REPLICATE_WEBHOOK_SECRET": h.rep.WebhookSecret(),
		"AI_POLL_MIN": "300ms", "AI_POLL_MAX": "2s",
		"TOSS_SECRET_KEY": h.toss.SecretKey(), "TOSS_CLIENT_KEY": h.toss.ClientKey(), "TOSS_API_BASE": h.toss.URL(),
		"TOSS_WEBHOOK_TOKEN": tossToken,
		"STRIPE_SECRET_KEY":  paymenttest.StripeTestKey, "STRIPE_WEBHOOK_SECRET": paymenttest.StripeWebhookSecret,
		"STRIPE_API_BASE": stripeBase,
		// A Replicate request unanswered for 3 s is given up (the stall
		// storm and [sim:hang] hold them longer).
		"REPLICATE_TIMEOUT": "3s",
		// Recovery within the run: reconcilers every 5 s, short patience.
		"RECONCILE_INTERVAL": "5s", "VIDEO_STUCK_AFTER": "20s", "AI_STUCK_AFTER": "15s", "PAYMENTS_RECONCILE_AFTER": "15s",
		"FRAMES_STUCK_AFTER":  "20s",
		"VIEW_FLUSH_INTERVAL": "2s", "NOTIFICATION_OUTBOX_AGE": "5s",
		// The driver is one client on loopback: the per-IP and per-user
		// limits would answer 429 to most of the mix.
		"AUTH_RATE_LIMIT": "100000", "VIEW_RATE_LIMIT": "1000000", "SEARCH_RATE_LIMIT": "100000",
		"QUOTA_AI_JOBS_PER_MINUTE": "100000", "QUOTA_AI_JOBS_PER_DAY": "1000000",
		"QUOTA_UPLOADS_PER_MINUTE": "100000", "QUOTA_UPLOADS_PER_DAY": "1000000",
		"QUOTA_COMMENTS_PER_MINUTE": "100000", "QUOTA_COMMENTS_PER_DAY": "1000000",
		"QUOTA_UPLOAD_BYTES_PER_DAY":      "100000000000",
		"QUOTA_FRAME_CAPTURES_PER_MINUTE": "100000", "QUOTA_FRAME_CAPTURES_PER_DAY": "1000000",
	}
	env := func(extra map[string]string) []string {
		var e []string
		for k, v := range vars {
			e = append(e, k+"="+v)
		}
		for k, v := range extra {
			e = append(e, k+"="+v)
		}
		return e
	}
	migrate := exec.Command(bin, "migrate", "up")
	migrate.Env = env(nil)
	out, err = migrate.CombinedOutput()
	require.NoError(t, err, "migrate: %s", out)

	mk := func(name, addr string) *role {
		extra := map[string]string{"DASHBOARD_ADDR": fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))}
		if addr != "" {
			extra["HTTP_ADDR"] = addr
		}
		r := &role{name: name, bin: bin, env: env(extra), addr: addr, logs: &bytes.Buffer{}}
		h.all = append(h.all, r)
		return r
	}
	for i := range 2 {
		h.apis = append(h.apis, mk(fmt.Sprintf("api-%d", i+1), fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t))))
		h.workers = append(h.workers, mk(fmt.Sprintf("worker-%d", i+1), ""))
		h.scheds = append(h.scheds, mk(fmt.Sprintf("scheduler-%d", i+1), ""))
	}
	bal.apis = h.apis
	for _, r := range h.all {
		h.restart(r)
	}
	t.Cleanup(func() {
		for _, r := range h.all {
			r.stop()
		}
	})
	return h
}

func (h *harness) intn(n int) int {
	h.rngMu.Lock()
	defer h.rngMu.Unlock()
	return h.rng.IntN(n)
}

func (h *harness) beginFault(kind string) func() {
	h.mu.Lock()
	i := len(h.faults)
	h.faults = append(h.faults, fault{kind: kind, start: time.Now()})
	h.counts[kind]++
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.faults[i].end = time.Now()
		h.mu.Unlock()
	}
}

// call sends one request to an api replica and decodes a JSON answer; a
// 5xx is recorded with its time. A connection error (the replica was
// killed, or restarting) answers status 0.
func (h *harness) call(api *role, method, path, token string, body any) (int, map[string]any) {
	return h.callURL(api.name+" "+method+" "+routeOf(path), method, "http://"+api.address()+path, token, body)
}

func (h *harness) callURL(op, method, u, token string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.do(op, req)
}

// send is do for a caller that needs only the status.
func (h *harness) send(op string, req *http.Request) int {
	status, _ := h.do(op, req)
	return status
}

// do sends req and decodes a JSON answer; a 5xx is recorded with its time,
// a connection error answers 0.
func (h *harness) do(op string, req *http.Request) (int, map[string]any) {
	h.ops.Add(1)
	resp, err := h.client.Do(req)
	if err != nil {
		h.netErrs.Add(1)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 500 {
		h.mu.Lock()
		h.errors5xx = append(h.errors5xx, serverError{at: time.Now(), op: op, status: resp.StatusCode, target: fmt.Sprint(out)})
		h.mu.Unlock()
	}
	return resp.StatusCode, out
}

// routeOf strips ids from a path so errors group by route.
func routeOf(path string) string {
	parts := strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i, p := range parts {
		if len(p) == 36 && strings.Count(p, "-") == 4 {
			parts[i] = ":id"
		}
	}
	return strings.Join(parts, "/")
}

func (h *harness) api() *role { return h.apis[h.intn(len(h.apis))] }

func (h *harness) register(i int) *account {
	for attempt := 0; ; attempt++ {
		name := fmt.Sprintf("chaos%d_%d", i, attempt)
		status, out := h.call(h.api(), "POST", "/v1/auth/register", "", map[string]any{
			"username": name, "email": name + "@example.com", "password": "chaos-password"})
		if status == http.StatusCreated {
			user := out["user"].(map[string]any)
			return &account{id: user["id"].(string), token: out["access_token"].(string)}
		}
		require.Less(h.t, attempt, 50, "cannot register: %d %v", status, out)
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *harness) pickUser() *account {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users[h.intn(len(h.users))]
}

func (h *harness) pickVideo() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.videos) == 0 {
		return ""
	}
	return h.videos[h.intn(len(h.videos))]
}

// upload goes the client's way: an upload URL, the PUT to it (through the
// public address), then complete.
func (h *harness) upload(u *account) {
	api := h.api()
	status, up := h.call(api, "POST", "/v1/videos/upload-url", u.token, map[string]any{
		"content_type": "video/mp4", "caption": "chaos #chaos", "size_bytes": len(h.video)})
	if status != http.StatusOK {
		return
	}
	put, _ := http.NewRequest(up["method"].(string), up["upload_url"].(string), bytes.NewReader(h.video))
	for k, v := range up["headers"].(map[string]any) {
		put.Header.Set(k, v.(string))
	}
	h.ops.Add(1)
	resp, err := h.client.Do(put)
	if err != nil {
		h.netErrs.Add(1)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	id := up["video_id"].(string)
	status, _ = h.call(h.api(), "POST", "/v1/videos/"+id+"/complete", u.token, map[string]any{"width": 320, "height": 240})
	if status == http.StatusAccepted || status == http.StatusOK {
		h.mu.Lock()
		h.videos = append(h.videos, id)
		h.mu.Unlock()
	}
}

var aiFaults = []string{"", "", "", " [sim:dup-webhook]", " [sim:no-webhook]", " [sim:429x3]", " [sim:fail]", " [sim:slow]", " [sim:hang]"}

func (h *harness) aiJob(u *account) {
	fault := aiFaults[h.intn(len(aiFaults))]
	prompt := "chaos beat" + fault
	if fault == " [sim:hang]" {
		// The simulator holds the first create of a prompt only: each such
		// job's first create times out, and its retry must find the
		// prediction by its input. (The other prompts are shared by many
		// jobs, as two users asking for the same music.)
		prompt = fmt.Sprintf("chaos beat %d%s", h.ops.Load(), fault)
	}
	status, job := h.call(h.api(), "POST", "/v1/ai/music", u.token, map[string]any{"prompt": prompt, "duration": 2})
	if status != http.StatusAccepted {
		return
	}
	id := job["id"].(string)
	h.mu.Lock()
	h.jobs = append(h.jobs, id)
	h.mu.Unlock()
	if h.intn(4) == 0 { // some are canceled, at some point of their life
		go func() {
			time.Sleep(time.Duration(h.intn(3000)) * time.Millisecond)
			h.call(h.api(), "DELETE", "/v1/ai/jobs/"+id, u.token, nil)
		}()
	}
}

// purchase buys credits through Toss: the order, the widget (the
// simulator plays the payer), the client's confirm; sometimes the confirm
// twice, on both replicas.
func (h *harness) purchase(u *account) {
	status, buy := h.call(h.api(), "POST", "/v1/credits/purchase", u.token, map[string]any{"package_id": "starter_100", "provider": "toss"})
	if status != http.StatusCreated {
		return
	}
	orderID := buy["order_id"].(string)
	redirect, err := h.toss.PayWidget(tosssim.WidgetOrder{OrderID: orderID, OrderName: "Starter", Amount: int64(buy["amount"].(float64)), CustomerKey: u.id})
	require.NoError(h.t, err)
	confirm := map[string]any{"paymentKey": redirect.PaymentKey, "orderId": redirect.OrderID, "amount": redirect.Amount}
	status, _ = h.call(h.api(), "POST", "/v1/payments/toss/confirm", u.token, confirm)
	if h.intn(3) == 0 {
		if s2, _ := h.call(h.api(), "POST", "/v1/payments/toss/confirm", u.token, confirm); s2 == http.StatusOK {
			status = s2
		}
	}
	if status == http.StatusOK {
		h.mu.Lock()
		h.confirmed = append(h.confirmed, orderID)
		h.mu.Unlock()
	}
}

func (h *harness) social(u *account) {
	video := h.pickVideo()
	other := h.pickUser()
	switch h.intn(5) {
	case 0:
		if video != "" {
			h.call(h.api(), "POST", "/v1/likes/videos/"+video, u.token, nil)
		}
	case 1:
		if other != u {
			h.call(h.api(), "POST", "/v1/follows/users/"+other.id, u.token, nil)
		}
	case 2:
		if video != "" {
			h.call(h.api(), "POST", "/v1/comments/videos/"+video, u.token, map[string]any{"content": "chaos comment"})
		}
	default:
		if video != "" {
			status, out := h.call(h.api(), "POST", "/v1/videos/"+video+"/view", u.token, map[string]any{"source": "feed"})
			if status == http.StatusOK && out["counted"] == true {
				h.mu.Lock()
				h.countedBy[video]++
				h.mu.Unlock()
			}
		}
	}
	if h.intn(10) == 0 {
		h.call(h.api(), "GET", "/v1/credits/balance", u.token, nil)
		h.call(h.api(), "GET", "/v1/notifications", u.token, nil)
	}
}

func (h *harness) step() {
	u := h.pickUser()
	switch n := h.intn(100); {
	case n < 4:
		h.upload(u)
	case n < 14:
		h.aiJob(u)
	case n < 19:
		h.purchase(u)
	case n < 24:
		h.stripePurchase(u)
	case n < 28:
		h.captureFrames(u)
	default:
		h.social(u)
	}
}

// activeOf waits (up to within) for a task of one of types to be running
// on a worker, as the private Redis's inspector sees it.
func (h *harness) activeOf(within time.Duration, types ...string) string {
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: fmt.Sprintf("127.0.0.1:%d", h.redis.Port)})
	defer insp.Close()
	want := map[string]bool{}
	for _, ty := range types {
		want[ty] = true
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for q := range tasks.QueueWeights() {
			active, err := insp.ListActiveTasks(q)
			if err != nil {
				continue
			}
			for _, a := range active {
				if want[a.Type] {
					return a.Type
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ""
}

// restart brings r back; a role that cannot start fails the run. An api
// whose port was taken moves to another one (the balancer follows).
func (h *harness) restart(r *role) {
	for attempt := 0; ; attempt++ {
		err := r.start()
		if err == nil {
			return
		}
		require.Less(h.t, attempt, 3, "%s does not come back: %v\n%s", r.name, err, r.tail())
		r.kill()
		if errors.Is(err, testproc.ErrPortTaken) {
			addr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(h.t))
			h.t.Logf("chaos: %v; %s moves to %s", err, r.name, addr)
			r.moveTo(addr)
		}
	}
}

// faultKinds are the faults; the run injects each once, in a random order,
// then draws them at random (worker kills and api kills more often).
var faultKinds = []string{"worker_kill", "fulfill_kill", "redis_restart", "pg_restart", "api_kill", "scheduler_kill", "sim_faults", "toss_hold"}

// firstRound is the order of the first round of faults, each kind once.
func (h *harness) firstRound() []string {
	order := slices.Clone(faultKinds)
	h.rngMu.Lock()
	h.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	h.rngMu.Unlock()
	return order
}

func (h *harness) nextFault() string {
	return []string{"worker_kill", "worker_kill", "worker_kill", "fulfill_kill", "redis_restart", "pg_restart", "api_kill", "api_kill",
		"scheduler_kill", "sim_faults", "toss_hold"}[h.intn(11)]
}

func (h *harness) injectOne(kind string) {
	switch kind {
	case "worker_kill":
		w := h.workers[h.intn(len(h.workers))]
		typ := h.activeOf(15*time.Second, tasks.TypeVideoFinalize, tasks.TypeAIRun, tasks.TypeAIFinalize, tasks.TypePaymentFulfill, tasks.TypeAIPoll)
		end := h.beginFault("worker_kill")
		h.t.Logf("chaos: SIGKILL %s (active: %q)", w.name, typ)
		w.kill()
		time.Sleep(time.Duration(500+h.intn(3000)) * time.Millisecond)
		h.restart(w)
		end()
	case "fulfill_kill":
		// Both workers: the one running the payments:fulfill dies in it
		// whichever it is.
		typ := h.activeOf(15*time.Second, tasks.TypePaymentFulfill)
		end := h.beginFault("fulfill_kill")
		h.t.Logf("chaos: SIGKILL every worker (active: %q)", typ)
		for _, w := range h.workers {
			w.kill()
		}
		time.Sleep(time.Duration(500+h.intn(2500)) * time.Millisecond)
		for _, w := range h.workers {
			h.restart(w)
		}
		end()
	case "toss_hold":
		// Toss's webhooks held, then sent newest first (and sometimes twice).
		end := h.beginFault("toss_hold")
		f := tosssim.Faults{Hold: true, Duplicate: h.intn(2)}
		h.toss.SetFaults(f)
		time.Sleep(time.Duration(3000+h.intn(4000)) * time.Millisecond)
		h.toss.SetFaults(tosssim.Faults{})
		n := h.toss.FlushWebhooks(true)
		h.t.Logf("chaos: toss webhooks %+v: %d released newest first", f, n)
		end()
	case "redis_restart":
		end := h.beginFault("redis_restart")
		h.t.Logf("chaos: restart redis")
		h.redis.Kill()
		time.Sleep(time.Duration(200+h.intn(2000)) * time.Millisecond)
		h.redis.Start(h.t)
		time.Sleep(3 * time.Second) // clients reconnect
		end()
	case "pg_restart":
		end := h.beginFault("pg_restart")
		h.t.Logf("chaos: restart postgres")
		require.NoError(h.t, h.pg.Stop())
		time.Sleep(time.Duration(200+h.intn(2000)) * time.Millisecond)
		h.pg.Start(h.t)
		time.Sleep(3 * time.Second) // pools reconnect
		end()
	case "api_kill":
		a := h.apis[h.intn(len(h.apis))]
		end := h.beginFault("api_kill")
		h.t.Logf("chaos: SIGKILL %s", a.name)
		a.kill()
		time.Sleep(time.Duration(500+h.intn(2000)) * time.Millisecond)
		h.restart(a)
		end()
	case "scheduler_kill":
		s := h.scheds[h.intn(len(h.scheds))]
		end := h.beginFault("scheduler_kill")
		h.t.Logf("chaos: SIGKILL %s", s.name)
		s.kill()
		time.Sleep(time.Duration(500+h.intn(3000)) * time.Millisecond)
		h.restart(s)
		end()
	default:
		end := h.beginFault("sim_faults")
		f := []tosssim.Faults{{Duplicate: 2}, {Delay: 2 * time.Second}, {Drop: true}}[h.intn(3)]
		storm := int32(1 + h.intn(2))
		h.t.Logf("chaos: toss webhooks %+v, replicate storm %d (1: 429s, 2: stall past the client's time-out)", f, storm)
		h.toss.SetFaults(f)
		if storm == stormStall {
			h.rep.Stall(true)
		} else {
			h.repStorm.Store(storm)
		}
		time.Sleep(time.Duration(3000+h.intn(5000)) * time.Millisecond)
		h.toss.SetFaults(tosssim.Faults{})
		h.rep.Stall(false)
		h.repStorm.Store(0)
		end()
	}
}

func (h *harness) run(duration time.Duration) {
	t := h.t
	start := time.Now()
	for i := range 10 {
		h.users = append(h.users, h.register(i))
	}
	for _, u := range h.users[:3] {
		h.upload(u)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				h.step()
				// A user's think time: two cores run the whole deployment,
				// and the mix must stay within what it can finish.
				time.Sleep(time.Duration(150+h.intn(250)) * time.Millisecond)
			}
		}()
	}
	// The first round injects each kind once, 1–2 s apart, however short
	// the run; the traffic lasts at least until it is over. Then one fault
	// every 2–6 s, drawn at random.
	faultsDone := make(chan struct{})
	firstDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		for _, kind := range h.firstRound() {
			time.Sleep(time.Duration(1000+h.intn(1000)) * time.Millisecond)
			h.injectOne(kind)
		}
		close(firstDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(2000+h.intn(4000)) * time.Millisecond):
			}
			h.injectOne(h.nextFault())
		}
	}()
	time.Sleep(duration)
	<-firstDone
	close(stop)
	wg.Wait()
	<-faultsDone
	h.bg.Wait() // webhook deliveries still under way
	for _, r := range h.all {
		require.True(t, r.up.Load(), "%s is up at the end", r.name)
	}
	t.Logf("chaos: traffic and faults stopped after %s; settling", time.Since(start).Round(time.Second))

	conn := h.db()
	defer conn.Close(context.Background())
	// The reconcilers finish the work the faults interrupted (bounded).
	settleStart := time.Now()
	settled := h.settle(conn, min(max(2*time.Minute, duration/2), 5*time.Minute))
	t.Logf("chaos: settled=%v in %s", settled, time.Since(settleStart).Round(time.Second))
	// A quiet round of views: exactly these reach Postgres.
	viewsViolations := h.quietViews(conn)

	violations := h.check(conn, settled)
	violations = append(violations, viewsViolations...)
	h.mu.Lock()
	nFaults := len(h.faults)
	c := h.counts
	h.mu.Unlock()
	kinds := make([]string, 0, len(faultKinds))
	for _, k := range faultKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, c[k]))
	}
	line := fmt.Sprintf("chaos: faults=%d (%s) operations=%d violations=%d", nFaults, strings.Join(kinds, " "), h.ops.Load(), len(violations))
	fmt.Println(line)
	t.Log(line)
	h.mu.Lock()
	t.Logf("chaos: duration %s, connection errors (killed replica or restart) %d, jobs %d, uploads %d, confirmed toss orders %d, "+
		"stripe orders paid %d abandoned %d (%s), frame captures accepted %d (answers %v)",
		time.Since(start).Round(time.Second), h.netErrs.Load(), len(h.jobs), len(h.videos), len(h.confirmed),
		len(h.stripePaid), len(h.stripeAbandoned), h.stripeSummaryLocked(), len(h.captures), h.frameAnswers)
	h.mu.Unlock()
	for _, v := range violations {
		t.Errorf("violation: %s", v)
	}
	if len(violations) > 0 {
		for _, r := range h.all {
			t.Logf("--- %s (tail)\n%s", r.name, r.tail())
		}
	}
}

func (h *harness) db() *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), h.pg.URL("lokiz"))
	require.NoError(h.t, err)
	return conn
}

// settle waits until every AI job, completed upload and frame capture is
// terminal, no confirmed Toss order or paid Stripe order is short of
// fulfilled, and no order waits paid.
func (h *harness) settle(conn *pgx.Conn, within time.Duration) bool {
	deadline := time.Now().Add(within)
	lastLog := time.Now()
	for time.Now().Before(deadline) {
		var ai, videos, frames, paid, confirmed int
		err := conn.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM ai_jobs WHERE status NOT IN ('completed', 'failed', 'canceled')),
			(SELECT count(*) FROM videos WHERE status = 'processing'),
			(SELECT count(*) FROM frame_captures WHERE status = 'pending'),
			(SELECT count(*) FROM payment_orders WHERE status = 'paid'),
			(SELECT count(*) FROM payment_orders WHERE id = ANY($1::uuid[]) AND status <> 'fulfilled')`, h.confirmed).Scan(
			&ai, &videos, &frames, &paid, &confirmed)
		require.NoError(h.t, err)
		stripeOpen, err := h.stripeOpen(context.Background(), conn)
		require.NoError(h.t, err)
		if time.Since(lastLog) >= 20*time.Second {
			h.t.Logf("chaos: settling: open ai jobs %d, processing videos %d, pending captures %d, paid orders %d, confirmed toss orders not fulfilled %d, paid stripe orders not fulfilled %d",
				ai, videos, frames, paid, confirmed, stripeOpen)
			lastLog = time.Now()
		}
		if ai+videos+frames+paid+confirmed+stripeOpen == 0 {
			return true
		}
		time.Sleep(time.Second)
	}
	return false
}

// quietViews: with the faults over, the flushed count of each video moves
// by exactly the views the api answered counted.
func (h *harness) quietViews(conn *pgx.Conn) []string {
	var ids []string
	rows, err := conn.Query(context.Background(), "SELECT id::text FROM videos WHERE status = 'completed' ORDER BY id LIMIT 3")
	require.NoError(h.t, err)
	for rows.Next() {
		var id string
		require.NoError(h.t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(h.t, rows.Err())
	if len(ids) == 0 {
		return []string{"no upload completed: the views invariant was not exercised"}
	}
	viewCount := func(id string) int64 {
		var n int64
		require.NoError(h.t, conn.QueryRow(context.Background(), "SELECT view_count FROM videos WHERE id = $1", id).Scan(&n))
		return n
	}
	time.Sleep(5 * time.Second) // two flushes: what was pending is in
	before := map[string]int64{}
	for _, id := range ids {
		before[id] = viewCount(id)
	}
	counted := map[string]int64{}
	for i := range 20 {
		fresh := h.register(1000 + i)
		for _, id := range ids {
			status, out := h.call(h.api(), "POST", "/v1/videos/"+id+"/view", fresh.token, map[string]any{"source": "feed"})
			if status == http.StatusOK && out["counted"] == true {
				counted[id]++
				h.mu.Lock()
				h.quietCounted[id]++
				h.mu.Unlock()
			}
			h.call(h.api(), "POST", "/v1/videos/"+id+"/view", fresh.token, map[string]any{"source": "feed"}) // a repeat: not counted
		}
	}
	var out []string
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for viewCount(id)-before[id] != counted[id] && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
		}
		if got := viewCount(id) - before[id]; got != counted[id] {
			out = append(out, fmt.Sprintf("video %s: %d views counted by the api, %d flushed to view_count", id, counted[id], got))
		}
	}
	return out
}

func (h *harness) queryViolations(conn *pgx.Conn, what, sql string, args ...any) []string {
	rows, err := conn.Query(context.Background(), sql, args...)
	require.NoError(h.t, err, what)
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(h.t, err)
		out = append(out, fmt.Sprintf("%s: %v", what, vals))
	}
	require.NoError(h.t, rows.Err())
	return out
}

func (h *harness) check(conn *pgx.Conn, settled bool) []string {
	var v []string
	if !settled {
		v = append(v, "the reconcilers did not settle everything within the bound")
	}
	v = append(v, h.queryViolations(conn, "ledger: users.credits differs from the sum of credit_transactions",
		`SELECT u.id, u.credits, COALESCE(sum(ct.credits), 0) FROM users u LEFT JOIN credit_transactions ct ON ct.user_id = u.id
		  GROUP BY u.id HAVING u.credits <> COALESCE(sum(ct.credits), 0)`)...)
	v = append(v, h.queryViolations(conn, "ledger: an idempotency key used twice",
		`SELECT idempotency_key, count(*) FROM credit_transactions GROUP BY 1 HAVING count(*) > 1`)...)
	v = append(v, h.queryViolations(conn, "ai job not terminal",
		`SELECT id, status FROM ai_jobs WHERE status NOT IN ('completed', 'failed', 'canceled')`)...)
	v = append(v, h.queryViolations(conn, "ai job charged or refunded wrongly (id, status, usage rows, refund rows)",
		`SELECT j.id, j.status,
		        (SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || j.id || ':usage') AS usage,
		        (SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || j.id || ':refund') AS refund
		   FROM ai_jobs j
		  WHERE (j.status = 'completed' AND ((SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || j.id || ':usage') <> 1
		                                  OR (SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || j.id || ':refund') <> 0))
		     OR (j.status IN ('failed', 'canceled') AND (SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || j.id || ':usage')
		                                             <> (SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'job:' || j.id || ':refund'))`)...)
	v = append(v, h.queryViolations(conn, "upload not terminal",
		`SELECT id, status FROM videos WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'failed')`, h.videos)...)
	v = append(v, h.queryViolations(conn, "payment order paid but never fulfilled",
		`SELECT id, status FROM payment_orders WHERE status = 'paid'`)...)
	v = append(v, h.queryViolations(conn, "payment order confirmed (200) but not fulfilled",
		`SELECT id, status FROM payment_orders WHERE id = ANY($1::uuid[]) AND status <> 'fulfilled'`, h.confirmed)...)
	v = append(v, h.stripeInvariants(conn)...)
	v = append(v, h.ordersFulfilledOnce(conn)...)
	v = append(v, h.frameInvariants(conn)...)
	v = append(v, h.queryViolations(conn, "purchase credits differ from the fulfilled orders' credits (user, granted, fulfilled)",
		`SELECT u.id,
		        (SELECT COALESCE(sum(credits), 0) FROM credit_transactions WHERE user_id = u.id AND transaction_type = 'purchase') AS granted,
		        (SELECT COALESCE(sum(credits), 0) FROM payment_orders WHERE user_id = u.id AND status = 'fulfilled' AND kind = 'package') AS fulfilled
		   FROM users u
		  WHERE (SELECT COALESCE(sum(credits), 0) FROM credit_transactions WHERE user_id = u.id AND transaction_type = 'purchase')
		     <> (SELECT COALESCE(sum(credits), 0) FROM payment_orders WHERE user_id = u.id AND status = 'fulfilled' AND kind = 'package')`)...)
	v = append(v, h.overCounted(conn)...)
	v = append(v, h.queryViolations(conn, "notification doubled (an event notified twice)",
		`SELECT user_id, type, actor_id, video_id, comment_id, ai_job_id, count(*) FROM notifications
		  WHERE type IN ('comment', 'ai_job', 'comment_like')
		  GROUP BY user_id, type, actor_id, video_id, comment_id, ai_job_id HAVING count(*) > 1`)...)
	v = append(v, h.queryViolations(conn, "notification group doubled (two open groups for one target)",
		`SELECT user_id, type, video_id, count(*) FROM notifications WHERE group_open
		  GROUP BY user_id, type, video_id HAVING count(*) > 1`)...)
	v = append(v, h.notificationsLost(conn)...)
	v = append(v, h.serverErrorsOutsideFaults()...)
	return v
}

// overCounted lists the videos whose flushed view_count is above the views
// the api answered counted (during the run and the quiet round): a batch
// applied twice. Below is allowed: a Redis restart loses pending views
// (Redis runs without persistence here).
func (h *harness) overCounted(conn *pgx.Conn) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, id := range h.videos {
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT view_count FROM videos WHERE id = $1", id).Scan(&n); err != nil {
			continue // deleted
		}
		if n > int64(h.countedBy[id]+h.quietCounted[id]) {
			out = append(out, fmt.Sprintf("video %s: view_count %d above the %d views the api counted (flushed twice)", id, n, h.countedBy[id]+h.quietCounted[id]))
		}
	}
	return out
}

// apiFaults are the faults an api replica may answer 5xx through: its
// Redis or PostgreSQL gone. A worker, scheduler or simulator fault never
// excuses one.
var apiFaults = map[string]bool{"redis_restart": true, "pg_restart": true, "api_kill": true}

// serverErrorsOutsideFaults lists the 5xx answered outside the window of a
// fault in apiFaults (its start to 5 s after its end: pools reconnect).
func (h *harness) serverErrorsOutsideFaults() []string {
	const grace = 5 * time.Second
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	byOp := map[string]int{}
	for _, e := range h.errors5xx {
		explained := ""
		for _, f := range h.faults {
			end := f.end
			if end.IsZero() {
				end = time.Now()
			}
			if apiFaults[f.kind] && !e.at.Before(f.start) && !e.at.After(end.Add(grace)) {
				explained = f.kind // the latest window that covers it
			}
		}
		byOp[fmt.Sprintf("%s %d during=%q", e.op, e.status, explained)]++
		if explained == "" {
			out = append(out, fmt.Sprintf("5xx outside any fault window: %s at %s answered %d %s",
				e.op, e.at.Format(time.RFC3339Nano), e.status, e.target))
		}
	}
	keys := make([]string, 0, len(byOp))
	for k := range byOp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.t.Logf("chaos: 5xx %s ×%d", k, byOp[k])
	}
	return out
}
