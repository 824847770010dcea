package sim_test

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	rg "github.com/replicate/replicate-go"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

// fixtures is a directory holding video.mp4 (160x120, 1 s) and image.png
// (96x64), made once for the whole package.
var fixtures string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sim-fixtures-*")
	if err != nil {
		panic(err)
	}
	fixtures = dir
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = mediatest.GenerateVideo(ctx, filepath.Join(dir, "video.mp4"), mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120})
	cancel()
	if err != nil {
		panic(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), 200, 255})
		}
	}
	f, err := os.Create(filepath.Join(dir, "image.png"))
	if err != nil {
		panic(err)
	}
	if err := png.Encode(f, img); err != nil {
		panic(err)
	}
	_ = f.Close()
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// fakeClock is a settable clock for NowFunc.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hook is one webhook request received.
type hook struct {
	header http.Header
	body   []byte
	pred   rg.Prediction
}

// hookRecorder is a webhook endpoint that records every request; it answers
// 500 to the first failFirst requests.
type hookRecorder struct {
	mu        sync.Mutex
	hooks     []hook
	failFirst int
	seen      int
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen++
	if h.seen <= h.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var p rg.Prediction
	_ = json.Unmarshal(body, &p)
	h.hooks = append(h.hooks, hook{header: r.Header.Clone(), body: body, pred: p})
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookRecorder) all() []hook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hook(nil), h.hooks...)
}

// waitFor returns the first webhook for prediction id in a terminal status.
func (h *hookRecorder) waitCompleted(t *testing.T, id string) hook {
	t.Helper()
	var got hook
	require.Eventually(t, func() bool {
		for _, k := range h.all() {
			if k.pred.ID == id && rg.Status(k.pred.Status) != "" && replicate.Status(k.pred.Status).Terminal() {
				got = k
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "no completed webhook for %s", id)
	return got
}

type testBundle struct {
	sim     *sim.Server
	url     string // the simulator, without /v1
	api     *rg.Client
	client  *replicate.Client
	hooks   *hookRecorder
	hookURL string
	files   string // base URL of the fixtures
	clock   *fakeClock
}

func setup(t *testing.T, opts sim.Options) *testBundle {
	t.Helper()
	b := &testBundle{hooks: &hookRecorder{}, clock: &fakeClock{t: time.Now()}}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.Latency == (sim.Latency{}) {
		opts.Latency = sim.Latency{Starting: 20 * time.Millisecond, Processing: 200 * time.Millisecond, Slow: 20 * time.Second}
	}
	if opts.WebhookRetryDelay == 0 {
		opts.WebhookRetryDelay = 20 * time.Millisecond
	}
	b.sim = sim.New(opts)
	srv := httptest.NewServer(b.sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = b.sim.Close() }) // runs before srv.Close
	b.url = srv.URL

	hooks := httptest.NewServer(b.hooks)
	t.Cleanup(hooks.Close)
	b.hookURL = hooks.URL + "/hooks/replicate"

	files := httptest.NewServer(http.FileServer(http.Dir(fixtures)))
	t.Cleanup(files.Close)
	b.files = files.URL

	var err error
	b.api, err = rg.NewClient(rg.WithToken("test-token"), rg.WithBaseURL(srv.URL+"/v1"))
	require.NoError(t, err)
	b.client, err = replicate.New(replicate.Config{BaseURL: srv.URL + "/v1", Token: "test-token"})
	require.NoError(t, err)
	return b
}

// waitTerminal polls through the real client until the prediction ends.
func (b *testBundle) waitTerminal(t *testing.T, id string) *rg.Prediction {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	p := &rg.Prediction{ID: id}
	require.NoError(t, b.api.Wait(ctx, p, rg.WithPollingInterval(20*time.Millisecond)))
	return p
}

// waitStatus polls until the prediction has status.
func (b *testBundle) waitStatus(t *testing.T, id string, status rg.Status) {
	t.Helper()
	require.Eventually(t, func() bool {
		p, err := b.api.GetPrediction(t.Context(), id)
		return err == nil && p.Status == status
	}, 10*time.Second, 10*time.Millisecond)
}

// download fetches url into a file of t's and returns its path.
func download(t *testing.T, url, name string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = io.Copy(f, resp.Body)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func replicateSpecSlow(b *testBundle) replicate.Spec {
	return replicate.Spec{Model: "lokiz/glitch-animate", Input: map[string]any{"image": b.files + "/image.png", "prompt": "[sim:slow]"}}
}
