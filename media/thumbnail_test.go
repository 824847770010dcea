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

func TestThumbnail(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		opts         mediatest.VideoOptions
		at           float64
		maxWidth     int
		wantW, wantH int
	}{
		{"Downscaled", mediatest.VideoOptions{Width: 320, Height: 240}, 0.5, 160, 160, 120},
		{"NoUpscale", mediatest.VideoOptions{Width: 160, Height: 120}, 0.5, 640, 160, 120},
		{"NoLimit", mediatest.VideoOptions{Width: 320, Height: 240}, 0.5, 0, 320, 240},
		// 320x180 scaled to 101 wide: 100x56 (56.25 rounded to even).
		{"EvenDimensions", mediatest.VideoOptions{Width: 320, Height: 180}, 0.2, 101, 100, 56},
		{"WebM", mediatest.VideoOptions{Width: 320, Height: 240, Codec: "vp9", Container: "webm"}, 0.5, 160, 160, 120},
		{"PastTheEnd", mediatest.VideoOptions{Duration: 1, Audio: true}, 30, 160, 160, 120},
		{"PastThePicture", mediatest.VideoOptions{Duration: 1, Audio: true, AudioDuration: 2}, 1.5, 160, 160, 120},
		{"PastThePictureWebM", mediatest.VideoOptions{Duration: 1, Audio: true, AudioDuration: 2, Codec: "vp9", Container: "webm"}, 1.5, 160, 160, 120},
		{"Negative", mediatest.VideoOptions{Duration: 1}, -3, 160, 160, 120},
		{"Rotated", mediatest.VideoOptions{Width: 320, Height: 240, Rotation: 90}, 0.5, 120, 120, 160},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := mediatest.Video(t, tt.opts)
			out := filepath.Join(t.TempDir(), "thumb.jpg")
			require.NoError(t, media.Thumbnail(t.Context(), in, out, tt.at, tt.maxWidth))
			img := decodeJPEG(t, out)
			require.Equal(t, image.Pt(tt.wantW, tt.wantH), img.Bounds().Size())
		})
	}
}

// TestThumbnailTime checks that at selects the frame: testsrc2 changes every
// frame, so thumbnails at different times differ and at the same time match.
func TestThumbnailTime(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 2})
	dir := t.TempDir()
	thumb := func(name string, at float64) string {
		out := filepath.Join(dir, name)
		require.NoError(t, media.Thumbnail(t.Context(), in, out, at, 0))
		return fileHash(t, out)
	}
	early, late, lateAgain := thumb("a.jpg", 0.2), thumb("b.jpg", 1.5), thumb("c.jpg", 1.5)
	require.NotEqual(t, early, late)
	require.Equal(t, late, lateAgain)
}

// TestThumbnailRotationIsClockwise pins the meaning of Info.Rotation and
// mediatest's Rotation: a video marked 90 shows its picture turned a quarter
// clockwise, as a phone held upright records it.
func TestThumbnailRotationIsClockwise(t *testing.T) {
	t.Parallel()
	plain := mediatest.Video(t, mediatest.VideoOptions{Width: 160, Height: 120})
	rotated := mediatest.Video(t, mediatest.VideoOptions{Width: 160, Height: 120, Rotation: 90})
	dir := t.TempDir()
	require.NoError(t, media.Thumbnail(t.Context(), plain, filepath.Join(dir, "plain.jpg"), 0.5, 0))
	require.NoError(t, media.Thumbnail(t.Context(), rotated, filepath.Join(dir, "rotated.jpg"), 0.5, 0))
	src := decodeJPEG(t, filepath.Join(dir, "plain.jpg"))
	got := decodeJPEG(t, filepath.Join(dir, "rotated.jpg"))
	require.Equal(t, image.Pt(120, 160), got.Bounds().Size())

	w, h := 160, 120
	cw := meanDiffAgainst(got, src, func(x, y int) (int, int) { return y, h - 1 - x })
	ccw := meanDiffAgainst(got, src, func(x, y int) (int, int) { return w - 1 - y, x })
	require.Less(t, cw, 8.0, "rotated thumbnail should be the plain one turned clockwise")
	require.Greater(t, ccw, 4*cw, "clockwise and counter-clockwise turns must be told apart")
}

// meanDiffAgainst is the mean absolute difference, in 8-bit levels per
// channel, between each pixel of got and the pixel of src at at(x, y).
func meanDiffAgainst(got, src image.Image, at func(x, y int) (int, int)) float64 {
	b := got.Bounds()
	var sum float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sx, sy := at(x, y)
			r1, g1, b1, _ := got.At(x, y).RGBA()
			r2, g2, b2, _ := src.At(sx, sy).RGBA()
			sum += absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
		}
	}
	return sum / float64(b.Dx()*b.Dy()*3) / 257 // 8-bit levels
}

func absDiff(a, b uint32) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}

func TestThumbnailNotVideo(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "thumb.jpg")
	err := media.Thumbnail(t.Context(), writePNG(t, "x.mp4"), out, 0, 100)
	require.ErrorIs(t, err, media.ErrNotVideo)
	_, statErr := os.Stat(out)
	require.ErrorIs(t, statErr, os.ErrNotExist)
}

// TestThumbnailOddFileNames: names that look like options, protocols or
// image2 patterns are still plain files, for input and output alike.
func TestThumbnailOddFileNames(t *testing.T) {
	t.Parallel()
	src := mediatest.Video(t, mediatest.VideoOptions{})
	dir := t.TempDir()
	in := filepath.Join(dir, "-y http:%d.mp4")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(in, data, 0o644))
	out := filepath.Join(dir, "-thumb %03d concat:.jpg")

	require.NoError(t, media.Thumbnail(t.Context(), in, out, 0.5, 80))
	require.Equal(t, image.Pt(80, 60), decodeJPEG(t, out).Bounds().Size())
}
