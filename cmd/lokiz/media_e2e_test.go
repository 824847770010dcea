package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/media/mediatest"
)

// TestMediaJourney is the user journey of the media pipeline against a real
// `lokiz dev` (api, asynq worker and scheduler, Redis, Postgres, ffmpeg):
// register, upload a real MP4, complete it with wrong dimensions, see it
// finalized with the real ones and a thumbnail that is a JPEG, count views
// once per viewer, and find the flushed count in Postgres. Once with local
// storage, once with S3 (an in-process S3 server behind the real SDK).
func TestMediaJourney(t *testing.T) {
	t.Parallel()
	// Each journey runs a whole deployment, so each gets its own Redis
	// database: queues and view counters are per deployment.
	for backend, redisIndex := range map[string]int{"local": 8, "s3": 9} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dbURL := dbtest.NewEmptyDB(t)
			apiAddr, dashAddr := freeAddr(t), freeAddr(t)
			env := map[string]string{
				"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex), "HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr,
				"PUBLIC_BASE_URL": "http://" + apiAddr, "SECRET_KEY": strings.Repeat("m", 40), "BCRYPT_COST": "4",
				"WORKER_CONCURRENCY": "2", "SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn",
				"STORAGE_DIR": t.TempDir(), "VIEW_FLUSH_INTERVAL": "1s",
				// The journey's anonymous viewers all come from the loopback address.
				"VIEW_ANON_PER_IP": "4",
			}
			if backend == "s3" {
				mem := s3mem.New()
				require.NoError(t, mem.CreateBucket("lokiz-e2e"))
				s3srv := httptest.NewServer(gofakes3.New(mem).Server())
				t.Cleanup(s3srv.Close)
				env["STORAGE_BACKEND"] = "s3"
				env["S3_BUCKET"] = "lokiz-e2e"
				env["S3_ENDPOINT"] = s3srv.URL
				env["S3_ACCESS_KEY_ID"] = "AKIDE2E"
				env["S3_SECRET_ACCESS_KEY"] = "e2e-secret"
			}
			runJourney(t, env, dbURL)
		})
	}
}

func runJourney(t *testing.T, vars map[string]string, dbURL string) {
	c := startDev(t, vars)
	logs, client, call, get := c.logs, c.client, c.callWith, c.get

	status, reg := call("POST", "/v1/auth/register", "", map[string]any{"username": "journey", "email": "j@example.com", "password": "journey-pass"}, nil)
	require.Equal(t, http.StatusCreated, status, "%v", reg)
	token := reg["access_token"].(string)

	// A real MP4 made by ffmpeg: 320x240, 2 s, H.264/AAC, fast start.
	file := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, mediatest.GenerateVideo(context.Background(), file, mediatest.VideoOptions{
		Duration: 2, Width: 320, Height: 240, Audio: true, FastStart: true}))
	data, err := os.ReadFile(file)
	require.NoError(t, err)

	status, up := call("POST", "/v1/videos/upload-url", token, map[string]any{
		"content_type": "video/mp4", "caption": "journey #e2e", "size_bytes": len(data)}, nil)
	require.Equal(t, http.StatusOK, status, "%v", up)
	videoID := up["video_id"].(string)
	put, _ := http.NewRequest(up["method"].(string), up["upload_url"].(string), bytes.NewReader(data))
	for k, v := range up["headers"].(map[string]any) {
		put.Header.Set(k, v.(string))
	}
	resp, err := client.Do(put)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)

	status, v := call("POST", "/v1/videos/"+videoID+"/complete", token, map[string]any{"width": 1080.5, "height": 1920, "actual_duration": 99.5}, nil)
	require.Equal(t, http.StatusAccepted, status, "%v", v)

	require.Eventually(t, func() bool {
		_, v = call("GET", "/v1/videos/"+videoID, token, nil, nil)
		return v["status"] == "completed" || v["status"] == "failed"
	}, 90*time.Second, 200*time.Millisecond, "never finalized; logs:\n%s", logs)
	require.Equal(t, "completed", v["status"], "%v", v)
	require.Equal(t, float64(320), v["width"], "the probe's width wins")
	require.Equal(t, float64(240), v["height"])
	require.InDelta(t, 2.0, v["duration_seconds"], 0.15)
	require.Equal(t, []any{"e2e"}, v["hashtags"])

	code, thumb, ct := get(v["thumbnail_url"].(string))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "image/jpeg", ct)
	_, err = jpeg.Decode(bytes.NewReader(thumb))
	require.NoError(t, err, "the thumbnail downloads as a JPEG")
	code, video, _ := get(v["video_url"].(string))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, data, video)

	// Frames: two stills in one worker pass, back within the request's wait.
	status, frames := call("POST", "/v1/ai/capture-frames", token, map[string]any{"video_id": videoID, "timestamps": []float64{0.5, 1.5}}, nil)
	require.Equal(t, http.StatusOK, status, "%v; logs:\n%s", frames, logs)
	require.Len(t, frames["frames"], 2)
	for _, f := range frames["frames"].([]any) {
		code, img, _ := get(f.(map[string]any)["image_url"].(string))
		require.Equal(t, http.StatusOK, code)
		_, err := jpeg.Decode(bytes.NewReader(img))
		require.NoError(t, err, "a frame is a JPEG")
	}

	// Views: 4 distinct anonymous viewers, each twice, and the owner.
	for i := range 4 {
		for range 2 {
			status, res := call("POST", "/v1/videos/"+videoID+"/view", "", map[string]any{"source": "feed"},
				map[string]string{"User-Agent": fmt.Sprintf("viewer-%d", i)})
			require.Equal(t, http.StatusOK, status, "%v", res)
		}
	}
	_, res := call("POST", "/v1/videos/"+videoID+"/view", token, nil, nil)
	require.Equal(t, false, res["counted"])
	require.Equal(t, float64(4), res["view_count"])

	// The scheduler's views:flush (every second) moves them to Postgres.
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var n int64
		err := conn.QueryRow(context.Background(), "SELECT view_count FROM videos WHERE id = $1", videoID).Scan(&n)
		return err == nil && n == 4
	}, 30*time.Second, 200*time.Millisecond, "views never flushed; logs:\n%s", logs)
	_, v = call("GET", "/v1/videos/"+videoID, "", nil, nil)
	require.Equal(t, float64(4), v["view_count"], "flushed views are not counted twice in responses")

	// An image is checked before it becomes the avatar, and its upload URL
	// cannot replace it afterwards.
	picture := func(body []byte) (string, map[string]any) {
		t.Helper()
		status, img := call("POST", "/v1/images/upload-url", token, map[string]any{"content_type": "image/jpeg", "size_bytes": len(body)}, nil)
		require.Equal(t, http.StatusOK, status, "%v", img)
		put, _ := http.NewRequest(img["method"].(string), img["upload_url"].(string), bytes.NewReader(body))
		for k, v := range img["headers"].(map[string]any) {
			put.Header.Set(k, v.(string))
		}
		resp, err := client.Do(put)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return img["file_key"].(string), img
	}
	fake, _ := picture([]byte("not a jpeg at all, only text"))
	status, res = call("PATCH", "/v1/users/me", token, map[string]any{"profile_image_url": fake}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", res)
	avatar, img := picture(thumb)
	status, res = call("PATCH", "/v1/users/me", token, map[string]any{"profile_image_url": avatar}, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	evil := bytes.Repeat([]byte("x"), len(thumb))
	put, _ = http.NewRequest(img["method"].(string), img["upload_url"].(string), bytes.NewReader(evil))
	for k, v := range img["headers"].(map[string]any) {
		put.Header.Set(k, v.(string))
	}
	resp, err = client.Do(put)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, "an upload URL writes once")
	code, got, _ := get(res["profile_image_url"].(string))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, thumb, got, "the avatar is the image that was checked")

	// Moderation: the URLs issued before a removal answer 404 once the
	// worker moved the objects (on S3, at the bucket itself; locally the
	// api also refuses them at once), and work again after the restore.
	// The same for the author's ban and its lift.
	status, mod := call("POST", "/v1/auth/register", "", map[string]any{"username": "journey_mod", "email": "mod@example.com", "password": "moderator-pass"}, nil)
	require.Equal(t, http.StatusCreated, status, "%v", mod)
	modToken := mod["access_token"].(string)
	_, err = conn.Exec(context.Background(), "UPDATE users SET role = 'admin' WHERE username = 'journey_mod'")
	require.NoError(t, err)
	media := []string{v["video_url"].(string), v["thumbnail_url"].(string)}
	requireMedia := func(served bool, when string) {
		t.Helper()
		for _, u := range media {
			require.Eventually(t, func() bool {
				code, _, _ := get(u)
				if served {
					return code == http.StatusOK
				}
				return code == http.StatusNotFound || code == http.StatusForbidden
			}, 30*time.Second, 100*time.Millisecond, "%s: %s served=%v never; logs:\n%s", when, u, !served, logs)
		}
	}
	reason := map[string]any{"reason": "journey"}
	status, res = call("PATCH", "/v1/admin/videos/"+videoID+"/remove", modToken, reason, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	requireMedia(false, "after the removal")
	status, res = call("PATCH", "/v1/admin/videos/"+videoID+"/restore", modToken, reason, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	requireMedia(true, "after the restore")
	ownerID := reg["user"].(map[string]any)["id"].(string)
	status, res = call("PATCH", "/v1/admin/users/"+ownerID+"/ban", modToken, reason, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	requireMedia(false, "after the ban")
	status, res = call("PATCH", "/v1/admin/users/"+ownerID+"/unban", modToken, reason, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	requireMedia(true, "after the lift")
	status, res = call("POST", "/v1/auth/login", "", map[string]any{"username": "journey", "password": "journey-pass"}, nil)
	require.Equal(t, http.StatusOK, status, "the ban ended the owner's sessions: %v", res)
	token = res["access_token"].(string)

	// Deleting the video: within a minute, the URLs issued before answer
	// 404 (the objects are gone), whoever holds them.
	status, res = call("DELETE", "/v1/videos/"+videoID, token, nil, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	for _, u := range []string{v["video_url"].(string), v["thumbnail_url"].(string)} {
		require.Eventually(t, func() bool {
			code, _, _ := get(u)
			return code == http.StatusNotFound || code == http.StatusForbidden
		}, time.Minute, 200*time.Millisecond, "%s still served after the delete; logs:\n%s", u, logs)
	}
	// The purge deletes the frames after the video and its thumbnail, so
	// they too are waited for, within the same minute.
	for _, f := range frames["frames"].([]any) {
		u := f.(map[string]any)["image_url"].(string)
		require.Eventually(t, func() bool {
			code, _, _ := get(u)
			return code == http.StatusNotFound
		}, time.Minute, 200*time.Millisecond, "frames of a deleted video go with it: %s", u)
	}

}
