package worker

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

type finalizeBundle struct {
	store   *db.Store
	storage *storage.Local
	h       *VideoFinalizeHandler
	user    db.User
	tmp     string
}

func newFinalizeBundle(t *testing.T, cfg MediaConfig) *finalizeBundle {
	t.Helper()
	store := dbtest.NewStore(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	cfg.TempDir = t.TempDir()
	logger, _ := newLogger()
	return &finalizeBundle{store: store, storage: st, h: NewVideoFinalizeHandler(store, st, cfg, logger),
		user: dbtest.CreateUser(t, store, dbtest.UserOpts{}), tmp: cfg.TempDir}
}

// upload puts a file as the client would and moves the video to processing,
// returning its id.
func (b *finalizeBundle) upload(t *testing.T, data []byte, contentType, caption string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	key, err := storage.NewKey("uploads", contentType)
	require.NoError(t, err)
	maxBytes := int64(10 << 20)
	v, err := b.store.VideoCreateUpload(ctx, db.VideoCreateUploadParams{
		ID: db.NewID(), UserID: b.user.ID, Caption: caption, IsPublic: true, UploadKey: &key, ContentType: &contentType, UploadMaxBytes: &maxBytes})
	require.NoError(t, err)
	require.NoError(t, b.storage.Put(ctx, key, bytes.NewReader(data), int64(len(data)), contentType))
	w, h := int32(9999), int32(1)
	_, err = b.store.VideoStartProcessing(ctx, db.VideoStartProcessingParams{ID: v.ID, UserID: b.user.ID, ClientWidth: &w, ClientHeight: &h})
	require.NoError(t, err)
	return v.ID
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func (b *finalizeBundle) object(t *testing.T, key string) []byte {
	t.Helper()
	r, err := b.storage.Open(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

func TestVideoFinalize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("WebFriendlyUploadKeepsItsBytes", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{MaxDuration: time.Minute})
		src := mediatest.Video(t, mediatest.VideoOptions{Duration: 2, Width: 320, Height: 240, Audio: true, FastStart: true})
		id := b.upload(t, readFile(t, src), "video/mp4", "hello #World #세계")
		before, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)

		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "completed", v.Status)
		require.Equal(t, int32(320), *v.Width, "the probe wins over the client's 9999")
		require.Equal(t, int32(240), *v.Height)
		require.InDelta(t, 2.0, v.DurationSeconds, 0.15)
		require.Equal(t, "h264", *v.VideoCodec)
		require.Equal(t, "aac", *v.AudioCodec)
		require.False(t, v.Transcoded)
		require.Nil(t, v.OriginalKey)
		require.Nil(t, v.UploadKey)
		require.Equal(t, "videos/"+id.String()+".mp4", *v.ObjectKey)
		require.Equal(t, readFile(t, src), b.object(t, *v.ObjectKey), "a web-friendly upload is stored as is")

		img, err := jpeg.Decode(bytes.NewReader(b.object(t, *v.ThumbnailKey)))
		require.NoError(t, err, "the thumbnail is a JPEG")
		require.Equal(t, 320, img.Bounds().Dx())

		tags, err := b.store.VideoHashtagNames(ctx, []uuid.UUID{id})
		require.NoError(t, err)
		require.Len(t, tags, 2)

		// Running it again (a second delivery) changes nothing.
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))
		again, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, v.CompletedAt, again.CompletedAt)
		var uses int
		require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT use_count FROM hashtags WHERE name = 'world'").Scan(&uses))
		require.Equal(t, 1, uses, "hashtags are counted once")

		entries, err := os.ReadDir(b.tmp)
		require.NoError(t, err)
		require.Empty(t, entries, "no temp files are left behind")
		_, err = b.storage.Stat(ctx, *before.UploadKey)
		require.ErrorIs(t, err, storage.ErrNotFound, "the upload is removed once the video is final")
	})

	t.Run("BannedAuthorsVideoIsWithheldWhenItCompletes", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{MaxDuration: time.Minute})
		src := mediatest.Video(t, mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, FastStart: true})
		id := b.upload(t, readFile(t, src), "video/mp4", "banned while processing")
		// The ban's video:media_sync runs while the video processes and
		// leaves it to the finalize.
		_, _, err := b.store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: b.user.ID, Reason: "spam"})
		require.NoError(t, err)
		require.NoError(t, NewVideoMediaHandler(b.store, b.storage, nil).Sync(ctx, id))

		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "completed", v.Status)
		for _, key := range []string{*v.ObjectKey, *v.ThumbnailKey} {
			_, err := b.storage.Stat(ctx, key)
			require.ErrorIs(t, err, storage.ErrNotFound, "withheld at once: %s", key)
			_, err = b.storage.Stat(ctx, storage.WithheldKey(key))
			require.NoError(t, err, key)
		}
	})

	t.Run("DoubleDeliveryAtOnce", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{MaxDuration: time.Minute})
		src := mediatest.Video(t, mediatest.VideoOptions{Duration: 1, FastStart: true})
		id := b.upload(t, readFile(t, src), "video/mp4", "twice #double")
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)) }()
		}
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "completed", v.Status)
		var uses int
		require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT use_count FROM hashtags WHERE name = 'double'").Scan(&uses))
		require.Equal(t, 1, uses, "two deliveries at once complete the video once")
		require.Equal(t, readFile(t, src), b.object(t, *v.ObjectKey))
	})

	t.Run("WebMIsTranscodedAndTheOriginalKept", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{MaxDuration: time.Minute})
		src := mediatest.Video(t, mediatest.VideoOptions{Duration: 1, Codec: "vp9", Container: "webm", Audio: true})
		id := b.upload(t, readFile(t, src), "video/webm", "")
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))

		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "completed", v.Status)
		require.True(t, v.Transcoded)
		require.Equal(t, "videos/"+id.String()+".mp4", *v.ObjectKey)
		require.Equal(t, "video/mp4", *v.ContentType)
		require.Equal(t, readFile(t, src), b.object(t, *v.OriginalKey), "the original is preserved")

		out := filepath.Join(t.TempDir(), "web.mp4")
		require.NoError(t, os.WriteFile(out, b.object(t, *v.ObjectKey), 0o600))
		info, err := media.Probe(ctx, out)
		require.NoError(t, err)
		require.Equal(t, "h264", info.VideoCodec)
		require.Equal(t, "aac", info.AudioCodec)
		require.True(t, info.FastStart)
		require.False(t, media.NeedsTranscode(info))
	})

	t.Run("RandomBytesFailWithAReason", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{MaxDuration: time.Minute})
		id := b.upload(t, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096), "video/mp4", "")
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)), "a bad file is not retried")
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "failed", v.Status)
		require.NotEmpty(t, *v.FailureReason)
		require.NotContains(t, *v.FailureReason, "ffprobe", "the reason is for people, not a tool dump")
	})

	t.Run("TooLongFails", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{MaxDuration: time.Second})
		src := mediatest.Video(t, mediatest.VideoOptions{Duration: 2})
		id := b.upload(t, readFile(t, src), "video/mp4", "")
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "failed", v.Status)
		require.Contains(t, *v.FailureReason, "at most 1 are allowed")
	})

	t.Run("OverTheSignedSizeFails", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{})
		src := mediatest.Video(t, mediatest.VideoOptions{})
		id := b.upload(t, readFile(t, src), "video/mp4", "")
		dbtest.SetVideo(t, b.store, id, dbtest.VideoChange{UploadMaxBytes: new(int64(10))})
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "failed", v.Status)
		require.Contains(t, *v.FailureReason, "larger than")
	})

	t.Run("MissingUploadFails", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{})
		id := b.upload(t, []byte("x"), "video/mp4", "")
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.NoError(t, b.storage.Delete(ctx, *v.UploadKey))
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(id)))
		v, err = b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "failed", v.Status)
		require.Equal(t, "the uploaded file is missing", *v.FailureReason)
	})

	t.Run("CanceledContextIsRetriedNotFailed", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{})
		src := mediatest.Video(t, mediatest.VideoOptions{Duration: 1})
		id := b.upload(t, readFile(t, src), "video/mp4", "")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		require.Error(t, b.h.ProcessTask(cctx, tasks.NewVideoFinalizeTask(id)), "a timeout is an error asynq retries")
		v, err := b.store.VideoGetByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "processing", v.Status, "an interrupted attempt does not fail the video")
	})

	t.Run("BadPayloadSkipsRetry", func(t *testing.T) {
		t.Parallel()
		b := newFinalizeBundle(t, MediaConfig{})
		err := b.h.ProcessTask(ctx, tasks.NewVideoFinalizeTask(uuid.Nil))
		require.Error(t, err)
	})
}
