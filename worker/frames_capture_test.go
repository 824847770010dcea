package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"github.com/lokiz/lokiz/db/dbtest"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/tasks"
)

func TestFramesCapture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T, data []byte) (*finalizeBundle, *FramesCaptureHandler, db.FrameCapture) {
		b := newFinalizeBundle(t, MediaConfig{})
		logger, _ := newLogger()
		h := NewFramesCaptureHandler(b.store, b.storage, MediaConfig{TempDir: b.tmp}, logger)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.user.ID, DurationSeconds: 2})
		id, key := v.ID, *v.ObjectKey
		require.NoError(t, b.storage.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "video/mp4"))
		fc, err := b.store.FrameCaptureCreate(ctx, db.FrameCaptureCreateParams{ID: db.NewID(), UserID: b.user.ID, VideoID: id, Timestamps: []float64{0.1, 1, 1.9}})
		require.NoError(t, err)
		return b, h, fc
	}

	t.Run("ThreeDistinctJPEGs", func(t *testing.T) {
		t.Parallel()
		b, h, fc := setup(t, readFile(t, mediatest.Video(t, mediatest.VideoOptions{Duration: 2, Width: 320, Height: 240})))
		require.NoError(t, h.ProcessTask(ctx, tasks.NewFramesCaptureTask(fc.ID)))
		got, err := b.store.FrameCaptureGet(ctx, fc.ID)
		require.NoError(t, err)
		require.Equal(t, "completed", got.Status)
		require.Len(t, got.FrameKeys, 3)
		seen := map[[32]byte]bool{}
		for _, k := range got.FrameKeys {
			data := b.object(t, k)
			img, err := jpeg.Decode(bytes.NewReader(data))
			require.NoError(t, err, k)
			require.Equal(t, 320, img.Bounds().Dx())
			seen[sha256.Sum256(data)] = true
		}
		require.Len(t, seen, 3, "frames at different times differ")
		// A second delivery changes nothing.
		require.NoError(t, h.ProcessTask(ctx, tasks.NewFramesCaptureTask(fc.ID)))
	})

	t.Run("NotAVideoFails", func(t *testing.T) {
		t.Parallel()
		b, h, fc := setup(t, bytes.Repeat([]byte("junk"), 1000))
		require.NoError(t, h.ProcessTask(ctx, tasks.NewFramesCaptureTask(fc.ID)))
		got, err := b.store.FrameCaptureGet(ctx, fc.ID)
		require.NoError(t, err)
		require.Equal(t, "failed", got.Status)
		require.NotEmpty(t, *got.Error)
	})
}
