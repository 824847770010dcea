package media_test

import (
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
)

func TestFrames(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 2, Width: 320, Height: 240, Audio: true})
	outDir := filepath.Join(t.TempDir(), "frames")
	timestamps := []float64{0, 0.4, 0.8, 1.2, 1.6}

	paths, err := media.Frames(t.Context(), in, timestamps, outDir)
	require.NoError(t, err)

	require.Len(t, paths, len(timestamps))
	seen := map[string]int{}
	for i, p := range paths {
		require.Equal(t, outDir, filepath.Dir(p))
		require.Equal(t, image.Pt(320, 240), decodeJPEG(t, p).Bounds().Size())
		h := fileHash(t, p)
		prev, dup := seen[h]
		require.False(t, dup, "frames %d and %d are the same picture", prev, i)
		seen[h] = i
	}
}

// TestFramesMatchSingle checks that each output of the one-pass extraction
// is the frame of its own timestamp: the same bytes as extracting that
// timestamp alone, wherever it sits in the list.
func TestFramesMatchSingle(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 2})
	dir := t.TempDir()
	timestamps := []float64{1.5, 0.1, 0.9, 0.9, 0.00001}

	batch, err := media.Frames(t.Context(), in, timestamps, filepath.Join(dir, "batch"))
	require.NoError(t, err)
	for i, ts := range timestamps {
		single, err := media.Frames(t.Context(), in, []float64{ts}, filepath.Join(dir, "single", filepath.Base(batch[i])))
		require.NoError(t, err)
		require.Equal(t, fileHash(t, single[0]), fileHash(t, batch[i]), "timestamp %v", ts)
	}
	require.Equal(t, fileHash(t, batch[2]), fileHash(t, batch[3]), "same timestamp, same frame")
	require.NotEqual(t, fileHash(t, batch[0]), fileHash(t, batch[1]))
}

// TestFramesMany covers a full API batch (20) and more than ten branches,
// where ffmpeg-go's labels no longer sort numerically.
func TestFramesMany(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 2})
	dir := t.TempDir()
	timestamps := make([]float64, 20)
	for i := range timestamps {
		timestamps[i] = float64(19-i) * 0.1 // descending, to check the order
	}
	batch, err := media.Frames(t.Context(), in, timestamps, filepath.Join(dir, "batch"))
	require.NoError(t, err)
	require.Len(t, batch, 20)
	seen := map[string]bool{}
	for _, p := range batch {
		h := fileHash(t, p)
		require.False(t, seen[h], "two timestamps gave the same frame")
		seen[h] = true
	}
	for _, i := range []int{0, 2, 10, 19} {
		single, err := media.Frames(t.Context(), in, timestamps[i:i+1], filepath.Join(dir, filepath.Base(batch[i])))
		require.NoError(t, err)
		require.Equal(t, fileHash(t, single[0]), fileHash(t, batch[i]), "timestamp %v", timestamps[i])
	}
}

func TestFramesRotated(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Width: 160, Height: 120, Rotation: 270})
	paths, err := media.Frames(t.Context(), in, []float64{0.5}, t.TempDir())
	require.NoError(t, err)
	require.Equal(t, image.Pt(120, 160), decodeJPEG(t, paths[0]).Bounds().Size())
}

func TestFramesNearestFrame(t *testing.T) {
	t.Parallel()
	// At 10 fps frames sit at 0.0, 0.1, 0.2…; 0.46 is nearer 0.5 than 0.4, and
	// 0.53 nearer 0.5 than 0.6.
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 1, FrameRate: 10})
	paths, err := media.Frames(t.Context(), in, []float64{0.46, 0.5, 0.53, 0.4}, t.TempDir())
	require.NoError(t, err)
	require.Equal(t, fileHash(t, paths[1]), fileHash(t, paths[0]))
	require.Equal(t, fileHash(t, paths[1]), fileHash(t, paths[2]))
	require.NotEqual(t, fileHash(t, paths[1]), fileHash(t, paths[3]))
}

func TestFramesPastTheEnd(t *testing.T) {
	t.Parallel()
	// The audio outlasts the picture here, so the container is longer than
	// the video track; timestamps after the last frame, in the container or
	// past its end, get the last frame.
	for _, opts := range []mediatest.VideoOptions{
		{Duration: 1, Audio: true, AudioDuration: 2, Container: "mp4"},
		{Duration: 1, Audio: true, AudioDuration: 2, Container: "webm", Codec: "vp9"},
	} {
		t.Run(opts.Container, func(t *testing.T) {
			t.Parallel()
			in := mediatest.Video(t, opts)
			info, err := media.Probe(t.Context(), in)
			require.NoError(t, err)
			require.InDelta(t, 2, info.Duration, 0.05)

			paths, err := media.Frames(t.Context(), in, []float64{0.96, 1.5, 60}, t.TempDir())
			require.NoError(t, err)
			require.Equal(t, fileHash(t, paths[0]), fileHash(t, paths[1]))
			require.Equal(t, fileHash(t, paths[0]), fileHash(t, paths[2]))
		})
	}
}

func TestFramesInvalid(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 1})
	dir := t.TempDir()
	for name, ts := range map[string][]float64{
		"None":     nil,
		"Negative": {0.2, -1},
		"TooMany":  make([]float64, media.MaxFrames+1),
	} {
		_, err := media.Frames(t.Context(), in, ts, dir)
		require.Error(t, err, name)
	}
	_, err := media.Frames(t.Context(), writePNG(t, "x.mp4"), []float64{0}, dir)
	require.ErrorIs(t, err, media.ErrNotVideo)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}
