package replicate_test

import (
	"errors"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	rg "github.com/replicate/replicate-go"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

type testBundle struct {
	sim    *sim.Server
	url    string
	client *replicate.Client
	files  string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	s := sim.New(sim.Options{Latency: sim.Latency{Starting: 20 * time.Millisecond, Processing: 150 * time.Millisecond, Slow: 20 * time.Second}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = s.Close() })
	client, err := replicate.New(replicate.Config{BaseURL: srv.URL + "/v1", Token: "test-token"})
	require.NoError(t, err)

	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "image.png"))
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, image.NewGray(image.Rect(0, 0, 64, 48))))
	require.NoError(t, f.Close())
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(files.Close)
	return &testBundle{sim: s, url: srv.URL, client: client, files: files.URL}
}

func (b *testBundle) waitTerminal(t *testing.T, id string) replicate.Prediction {
	t.Helper()
	var p replicate.Prediction
	require.Eventually(t, func() bool {
		var err error
		p, err = b.client.Get(t.Context(), id)
		return err == nil && p.Status.Terminal()
	}, 20*time.Second, 20*time.Millisecond)
	return p
}

func TestClientCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	video := mediatest.Video(t, mediatest.VideoOptions{Width: 128, Height: 96})
	videoFiles := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(video))))
	t.Cleanup(videoFiles.Close)

	for _, spec := range []replicate.Spec{
		{Model: "lokiz/glitch-animate"},
		{Model: "lokiz/glitch-animate:abc123"},
		{Version: "abc123"},
	} {
		spec.Input = map[string]any{"video": videoFiles.URL + "/" + filepath.Base(video), "image": b.files + "/image.png"}
		p, err := b.client.Create(t.Context(), spec)
		require.NoError(t, err)
		require.Equal(t, replicate.StatusStarting, p.Status)
		require.Equal(t, lokiz.JobProcessing, p.Status.JobStatus())
		require.False(t, p.CreatedAt.IsZero())

		done := b.waitTerminal(t, p.ID)
		require.Equal(t, replicate.StatusSucceeded, done.Status, done.Error)
		require.Equal(t, lokiz.JobCompleted, done.Status.JobStatus())
		require.Positive(t, done.PredictTime)
		require.False(t, done.CompletedAt.Before(done.StartedAt))
		urls := done.OutputURLs()
		require.Len(t, urls, 1)
		path := filepath.Join(t.TempDir(), "out.mp4")
		get(t, urls[0], path)
		info, err := media.Probe(t.Context(), path)
		require.NoError(t, err)
		require.Equal(t, [2]int{128, 96}, [2]int{info.Width, info.Height})
	}
	require.Equal(t, "lokiz/glitch-animate", mustCreate(t, b, replicate.Spec{Model: "lokiz/glitch-animate", Input: map[string]any{"prompt": "x"}}).Model)
	require.Equal(t, "abc123", mustCreate(t, b, replicate.Spec{Model: "lokiz/glitch-animate:abc123", Input: map[string]any{"prompt": "x"}}).Version)
}

func mustCreate(t *testing.T, b *testBundle, spec replicate.Spec) replicate.Prediction {
	t.Helper()
	p, err := b.client.Create(t.Context(), spec)
	require.NoError(t, err)
	return p
}

func get(t *testing.T, url, path string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = f.ReadFrom(resp.Body)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestClientSpecInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, spec := range []replicate.Spec{{}, {Model: "a/b", Version: "v"}, {Model: "no-slash"}} {
		_, err := b.client.Create(t.Context(), spec)
		require.Error(t, err, "%+v", spec)
	}
	_, err := replicate.New(replicate.Config{})
	require.Error(t, err)
}

func TestClientCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := mustCreate(t, b, replicate.Spec{Model: "lokiz/glitch-animate", Input: map[string]any{"image": b.files + "/image.png", "prompt": "[sim:slow]"}})
	require.Eventually(t, func() bool {
		got, err := b.client.Get(t.Context(), p.ID)
		return err == nil && got.Status == replicate.StatusProcessing
	}, 10*time.Second, 10*time.Millisecond)
	got, err := b.client.Cancel(t.Context(), p.ID)
	require.NoError(t, err)
	require.Equal(t, replicate.StatusCanceled, got.Status)
	require.Equal(t, lokiz.JobCanceled, got.Status.JobStatus())
	require.True(t, got.Status.Terminal())
}

func TestClientDeadlineAborts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now()
	p := mustCreate(t, b, replicate.Spec{
		Model:    "lokiz/glitch-animate",
		Input:    map[string]any{"image": b.files + "/image.png", "prompt": "[sim:slow]"},
		Deadline: 200 * time.Millisecond,
	})
	done := b.waitTerminal(t, p.ID)
	require.Equal(t, replicate.StatusAborted, done.Status)
	require.Equal(t, lokiz.JobFailed, done.Status.JobStatus())
	require.Contains(t, done.Error, "Cancel-After")
	require.Less(t, time.Since(start), 5*time.Second)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

func TestClientRetriesThrottledCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now()
	p, err := b.client.Create(t.Context(), replicate.Spec{Model: "meta/musicgen", Input: map[string]any{"prompt": "busy [sim:429x2]", "duration": 1}})
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, 2*time.Second, "waited Retry-After: 1 twice")
	require.Less(t, elapsed, 5*time.Second)
	require.Equal(t, replicate.StatusSucceeded, b.waitTerminal(t, p.ID).Status)
}

func TestClientGivesUpThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	client, err := replicate.New(replicate.Config{BaseURL: b.url + "/v1", Token: "t", MaxRetries: 1})
	require.NoError(t, err)
	_, err = client.Create(t.Context(), replicate.Spec{Model: "meta/musicgen", Input: map[string]any{"prompt": "[sim:429x5]"}})
	var apiErr *rg.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusTooManyRequests, apiErr.Status)
}
