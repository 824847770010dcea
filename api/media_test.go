package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/google/uuid"
	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hibiken/asynq"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
	"github.com/lokiz/lokiz/worker"
)

// storeVideoObjects stores a file and a thumbnail under the keys that
// dbtest.Video gives the video.
func (e *testEnv) storeVideoObjects(id string) {
	e.t.Helper()
	ctx := context.Background()
	require.NoError(e.t, e.storage.Put(ctx, "videos/"+id+".mp4", strings.NewReader("the video"), 9, "video/mp4"))
	require.NoError(e.t, e.storage.Put(ctx, "thumbnails/"+id+".jpg", strings.NewReader("thumb"), 5, "image/jpeg"))
}

// TestDeletedVideoStopsBeingServed: DELETE enqueues video:purge; once it
// has run, the file and thumbnail URLs handed out before the delete answer
// 404 through the real signed-URL handler. (The same on S3, through a whole
// deployment: cmd/lokiz TestMediaJourney.)
func TestDeletedVideoStopsBeingServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, owner := e.register("purged_owner")
	id := e.video(owner, dbtest.VideoOpts{})
	e.storeVideoObjects(id)

	res := e.do(req{method: "GET", path: "/v1/videos/" + id})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	issued := []string{res.Body["video_url"].(string), res.Body["thumbnail_url"].(string)}
	for _, u := range issued {
		require.Equal(t, http.StatusOK, e.raw("GET", u, nil, nil).Code, u)
	}

	res = e.do(req{method: "DELETE", path: "/v1/videos/" + id, token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)

	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	info, err := insp.GetTaskInfo(tasks.QueueDefault, tasks.TypeVideoPurge+":"+id)
	require.NoError(t, err, "the delete enqueues the purge of the video")
	t.Cleanup(func() { _ = insp.DeleteTask(tasks.QueueDefault, info.ID) })

	logger, _ := testkit.NewLogger()
	h := worker.NewVideoPurgeHandler(e.store, e.storage, logger)
	require.NoError(t, h.ProcessTask(context.Background(), asynq.NewTask(info.Type, info.Payload)))
	for _, u := range issued {
		rec := e.raw("GET", u, nil, nil)
		require.Equal(t, http.StatusNotFound, rec.Code, u)
		require.NotContains(t, rec.Body.String(), "the video")
	}
	var keys int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(),
		`SELECT num_nonnulls(object_key, thumbnail_key, original_key, upload_key) FROM videos WHERE id = $1`, id).Scan(&keys))
	require.Zero(t, keys, "the row names no object any more")
}

// newS3Env is newEnv with the S3 backend (the real SDK against gofakes3)
// and a CDN base configured, as production with S3_PUBLIC_URL.
func newS3Env(t *testing.T, publicURL string) (*testEnv, *storage.S3) {
	t.Helper()
	mem := s3mem.New()
	require.NoError(t, mem.CreateBucket("lokiz-test"))
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	st, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket: "lokiz-test", Region: "us-east-1", Endpoint: srv.URL, PublicURL: publicURL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""), HTTPClient: srv.Client(),
	})
	require.NoError(t, err)
	cfg := testConfig()
	cfg.ExactUploadSize = true
	cfg.PrivateMediaURLTTL = 3 * time.Minute
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, logs := testkit.NewLogger()
	s, err := api.New(cfg, api.Deps{
		Store: store, Redis: rdb, Tasks: tasks.NewClient(qc), Logger: logger, Storage: st,
		Views: views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow), AIModels: testAIModels,
	})
	require.NoError(t, err)
	return &testEnv{
		t: t, store: store, rdb: rdb, srv: s, h: s.Handler(), logs: logs, config: cfg, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256)),
	}, st
}

// TestPrivateMediaURLs: with a CDN in front of the bucket, only a video
// everyone may see gets CDN URLs; a private (or unfinished) video's file
// and thumbnail get presigned URLs that live PRIVATE_MEDIA_URL_TTL, and so
// do uploads not yet used and AI outputs.
func TestPrivateMediaURLs(t *testing.T) {
	t.Parallel()
	const cdn = "https://cdn.example.com"
	e, _ := newS3Env(t, cdn)
	token, owner := e.register("private_owner")
	public := e.video(owner, dbtest.VideoOpts{})
	private := e.video(owner, dbtest.VideoOpts{Private: true})
	processing := e.video(owner, dbtest.VideoOpts{Status: "processing"})

	res := e.do(req{method: "GET", path: "/v1/videos/" + public})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, cdn+"/videos/"+public+".mp4", res.Body["video_url"])
	require.Equal(t, cdn+"/thumbnails/"+public+".jpg", res.Body["thumbnail_url"])

	requirePrivate := func(raw any, key string) {
		t.Helper()
		s, _ := raw.(string)
		require.False(t, strings.HasPrefix(s, cdn), "a private object never gets the CDN URL: %s", s)
		u, err := url.Parse(s)
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(u.Path, "/"+key), s)
		require.NotEmpty(t, u.Query().Get("X-Amz-Signature"), s)
		secs, err := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
		require.NoError(t, err, s)
		require.Equal(t, 180, secs, "private URLs live PRIVATE_MEDIA_URL_TTL")
	}
	for _, id := range []string{private, processing} {
		res = e.do(req{method: "GET", path: "/v1/videos/" + id, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		requirePrivate(res.Body["video_url"], "videos/"+id+".mp4")
		requirePrivate(res.Body["thumbnail_url"], "thumbnails/"+id+".jpg")
	}
	res = e.do(req{method: "GET", path: "/v1/videos/me", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	for _, v := range res.Body["videos"].([]any) {
		v := v.(map[string]any)
		if v["id"] == private {
			requirePrivate(v["video_url"], "videos/"+private+".mp4")
		}
	}

	// A notification about the private video (an AI job's result, say)
	// shows its thumbnail through a private URL too.
	ownerID, privateID := uuid.MustParse(owner), uuid.MustParse(private)
	job := dbtest.AIJob(t, e.store, dbtest.AIJobOpts{User: ownerID, Status: lokiz.JobCompleted, VideoID: &privateID})
	delivered, err := e.store.DeliverNotification(context.Background(), db.NewNotification{
		Type: db.NotificationAIJob, RecipientID: ownerID, AIJobID: &job.ID, VideoID: &privateID, Message: new("done"),
	})
	require.NoError(t, err)
	require.True(t, delivered.Inserted)
	res = e.do(req{method: "GET", path: "/v1/notifications/", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	n := res.Body["notifications"].([]any)[0].(map[string]any)
	requirePrivate(n["video"].(map[string]any)["thumbnail_url"], "thumbnails/"+private+".jpg")

	res = e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"content_type": "image/png", "size_bytes": 100}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	requirePrivate(res.Body["image_url"], res.Body["file_key"].(string))
	res = e.do(req{method: "POST", path: "/v1/videos/upload-url", token: token, body: map[string]any{"content_type": "video/mp4", "size_bytes": 100}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.False(t, strings.HasPrefix(res.Body["video_url"].(string), cdn))
}

// pngDeclaring is a PNG signature and a valid IHDR chunk declaring w×h
// pixels, and nothing else.
func pngDeclaring(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// uploadImageBytes gets an upload URL for a PNG, PUTs data to it and
// returns the image's file key and upload URL.
func (e *testEnv) uploadImageBytes(token string, data []byte) (key, uploadURL string) {
	e.t.Helper()
	res := e.do(req{method: "POST", path: "/v1/images/upload-url", token: token, body: map[string]any{"content_type": "image/png"}})
	require.Equal(e.t, http.StatusOK, res.Status, "%s", res.Raw)
	rec := e.raw("PUT", res.Body["upload_url"].(string), data, map[string]string{"Content-Type": "image/png"})
	require.Equal(e.t, http.StatusOK, rec.Code, rec.Body.String())
	return res.Body["file_key"].(string), res.Body["upload_url"].(string)
}

// TestUploadedImageMustBeAnImage: bytes that are not a PNG, a header cut
// short, or a header declaring a decompression bomb are refused with 422
// naming the field, as a profile picture and as an AI input, and nothing
// is charged or changed.
func TestUploadedImageMustBeAnImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("bad_images")
	_, owner := e.register("bad_images_src")
	video := e.video(owner, dbtest.VideoOpts{})
	credits := e.credits(t, me)

	for name, data := range map[string][]byte{
		"text":         []byte("this is text, not a PNG, whatever the key says"),
		"truncated":    pngDeclaring(64, 64)[:18],
		"huge side":    pngDeclaring(100000, 16),
		"too many px":  pngDeclaring(8000, 8000),
		"jpeg not png": {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1},
		"html":         []byte("<svg onload=alert(1)>"),
		"empty-ish":    {0x89},
	} {
		key, _ := e.uploadImageBytes(token, data)
		res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"profile_image_url": key}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", name, res.Raw)
		require.Contains(t, string(res.Raw), "profile_image_url", name)
		require.Contains(t, errorDetail(res)+string(res.Raw), "valid image", name)

		res = e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: token, body: map[string]any{
			"template_video_id": video, "user_image_url": key, "prompt": "neon"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", name, res.Raw)
		require.Contains(t, string(res.Raw), "user_image_url", name)
	}
	require.Equal(t, credits, e.credits(t, me), "a refused input costs nothing")
	res := e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Nil(t, res.Body["profile_image_url"])

	// A real PNG passes both, and its dimensions are recorded.
	key, _ := e.uploadImageBytes(token, tinyPNG(t))
	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"profile_image_url": key}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	var w, h int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(),
		`SELECT width, height FROM images WHERE object_key = $1 AND checked_at IS NOT NULL`, key).Scan(&w, &h))
	require.Equal(t, [2]int{4, 4}, [2]int{w, h})
	res = e.do(req{method: "POST", path: "/v1/ai/glitch/animate", token: token, body: map[string]any{
		"template_video_id": video, "user_image_url": key, "prompt": "neon"}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	t.Cleanup(func() {
		insp := asynq.NewInspectorFromRedisClient(e.rdb)
		id, _ := res.Body["id"].(string)
		for _, q := range []string{tasks.QueueAI, tasks.QueueAIPriority} {
			_ = insp.DeleteTask(q, tasks.TypeAIRun+":"+id)
		}
	})
}

// TestImageUploadURLWritesOnce: once an image is stored (and here used as
// the avatar), a PUT to its upload URL, still unexpired, fails and the
// avatar's bytes stay those that were checked.
func TestImageUploadURLWritesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("write_once")
	pic := tinyPNG(t)
	key, uploadURL := e.uploadImageBytes(token, pic)
	res := e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"profile_image_url": key}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	shown := res.Body["profile_image_url"].(string)

	evil := append([]byte{}, pic...)
	evil[len(evil)-20] ^= 0xFF
	rec := e.raw("PUT", uploadURL, []byte("<html>not a picture</html>"), map[string]string{"Content-Type": "image/png"})
	require.Equal(t, http.StatusPreconditionFailed, rec.Code, rec.Body.String())
	rec = e.raw("PUT", uploadURL, evil, map[string]string{"Content-Type": "image/png"})
	require.Equal(t, http.StatusPreconditionFailed, rec.Code, rec.Body.String())

	rec = e.raw("GET", shown, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, pic, rec.Body.Bytes(), "the stored bytes are unchanged")

	// A video upload cannot be replaced between complete and finalize
	// either: the worker processes exactly what was there at complete.
	res = e.do(req{method: "POST", path: "/v1/videos/upload-url", token: token, body: map[string]any{"content_type": "video/mp4", "size_bytes": 5}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	videoUpload := res.Body["upload_url"].(string)
	require.Equal(t, http.StatusOK, e.raw("PUT", videoUpload, []byte("first"), map[string]string{"Content-Type": "video/mp4"}).Code)
	res = e.do(req{method: "POST", path: "/v1/videos/" + res.Body["video_id"].(string) + "/complete", token: token})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	t.Cleanup(func() {
		_ = asynq.NewInspectorFromRedisClient(e.rdb).DeleteTask(tasks.QueueMedia, tasks.TypeVideoFinalize+":"+res.Body["id"].(string))
	})
	require.Equal(t, http.StatusPreconditionFailed, e.raw("PUT", videoUpload, []byte("other"), map[string]string{"Content-Type": "video/mp4"}).Code)
}
