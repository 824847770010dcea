package main

// The client of a running `lokiz dev` (or of one role) that every e2e
// journey uses: startDev runs it in this process until the test ends and
// checks that it then exits cleanly.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/media/mediatest"
)

// devClient talks to a running `lokiz dev`.
type devClient struct {
	t      *testing.T
	base   string
	client *http.Client
	logs   *testkit.LogBuffer
}

// startDev runs `lokiz dev` with vars until the test ends and waits until it
// is ready.
func startDev(t *testing.T, vars map[string]string) *devClient {
	t.Helper()
	return runRoleForTest(t, vars, "dev", &testkit.LogBuffer{})
}

// runRoleForTest runs one role of lokiz in this process with vars until the test
// ends (it must then exit cleanly) and waits until its api is ready.
func runRoleForTest(t *testing.T, vars map[string]string, role string, logs *testkit.LogBuffer) *devClient {
	t.Helper()
	return runRoleTraced(t, vars, role, logs, nil)
}

// runRoleTraced is runRoleForTest with the role's spans going to exp
// (environment.spanExporter); nil leaves tracing to vars.
func runRoleTraced(t *testing.T, vars map[string]string, role string, logs *testkit.LogBuffer, exp sdktrace.SpanExporter) *devClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &environment{getenv: envMap(vars), stdout: io.Discard, stderr: logs, listen: testListen, spanExporter: exp}, []string{role})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, "%s exits cleanly; logs:\n%s", role, logs)
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", role)
		}
	})
	c := &devClient{t: t, base: vars["PUBLIC_BASE_URL"], client: &http.Client{Timeout: 30 * time.Second}, logs: logs}
	require.Eventually(t, func() bool {
		resp, err := c.client.Get(c.base + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "%s never became ready; logs:\n%s", role, logs)
	return c
}

// call sends a JSON request (body nil: none) with token as the bearer, and
// returns the status and the decoded JSON body (nil when it is not JSON).
func (c *devClient) call(method, path, token string, body any) (int, map[string]any) {
	c.t.Helper()
	return c.callWith(method, path, token, body, nil)
}

// callWith is call with extra request headers.
func (c *devClient) callWith(method, path, token string, body any, headers map[string]string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// get fetches an absolute URL (a media URL the api gave) and returns its
// status, body and Content-Type.
func (c *devClient) get(url string) (int, []byte, string) {
	c.t.Helper()
	resp, err := c.client.Get(url)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Content-Type")
}

func (c *devClient) register(name string) (token, id string) {
	c.t.Helper()
	status, out := c.call("POST", "/v1/auth/register", "", map[string]any{"username": name, "email": name + "@example.com", "password": "password-" + name})
	require.Equal(c.t, http.StatusCreated, status, "%v", out)
	return out["access_token"].(string), out["user"].(map[string]any)["id"].(string)
}

func (c *devClient) download(url string) []byte {
	c.t.Helper()
	resp, err := c.client.Get(url)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return b
}

// uploadVideo uploads a real 2 s MP4 with sound and waits until it is
// finalized.
func (c *devClient) uploadVideo(token, caption string) string {
	c.t.Helper()
	file := filepath.Join(c.t.TempDir(), "clip.mp4")
	require.NoError(c.t, mediatest.GenerateVideo(context.Background(), file, mediatest.VideoOptions{
		Duration: 2, Width: 320, Height: 240, Audio: true, FastStart: true}))
	data, err := os.ReadFile(file)
	require.NoError(c.t, err)
	status, up := c.call("POST", "/v1/videos/upload-url", token, map[string]any{"content_type": "video/mp4", "caption": caption, "size_bytes": len(data)})
	require.Equal(c.t, http.StatusOK, status, "%v", up)
	id := up["video_id"].(string)
	put, _ := http.NewRequest(up["method"].(string), up["upload_url"].(string), bytes.NewReader(data))
	for k, v := range up["headers"].(map[string]any) {
		put.Header.Set(k, v.(string))
	}
	resp, err := c.client.Do(put)
	require.NoError(c.t, err)
	resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	status, _ = c.call("POST", "/v1/videos/"+id+"/complete", token, map[string]any{})
	require.Equal(c.t, http.StatusAccepted, status)
	var v map[string]any
	require.Eventually(c.t, func() bool {
		_, v = c.call("GET", "/v1/videos/"+id, token, nil)
		return v["status"] == "completed" || v["status"] == "failed"
	}, 90*time.Second, 200*time.Millisecond, "never finalized; logs:\n%s", c.logs)
	require.Equal(c.t, "completed", v["status"], "%v", v)
	return id
}
