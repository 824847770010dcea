package media_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
)

func TestSplice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		base       mediatest.VideoOptions
		start, end float64
	}{
		{"Middle", mediatest.VideoOptions{Duration: 3, Audio: true}, 1, 2},
		{"FromStart", mediatest.VideoOptions{Duration: 2}, 0, 1},
		{"ToTheEnd", mediatest.VideoOptions{Duration: 2, Audio: true}, 1, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := mediatest.Video(t, tt.base)
			// A smaller, shorter insert: it is letterboxed to the base's size
			// and held on its last frame to fill the segment.
			insert := mediatest.Video(t, mediatest.VideoOptions{Duration: 0.5, Width: 96, Height: 96})
			out := filepath.Join(t.TempDir(), "spliced.mp4")
			require.NoError(t, media.Splice(t.Context(), base, insert, out, tt.start, tt.end))

			got, err := media.Probe(t.Context(), out)
			require.NoError(t, err)
			require.InDelta(t, tt.base.Duration, got.Duration, 0.15, "the splice keeps the base's length")
			require.Equal(t, 160, got.Width)
			require.Equal(t, 120, got.Height)
			require.Equal(t, "h264", got.VideoCodec)
			if tt.base.Audio {
				require.Equal(t, "aac", got.AudioCodec)
			} else {
				require.Empty(t, got.AudioCodec)
			}

			// Inside the segment the picture is the letterboxed insert, not
			// the base; outside it is the base.
			mid := (tt.start + min(tt.end, tt.base.Duration)) / 2
			dir := t.TempDir()
			in, err := media.Frames(t.Context(), out, []float64{mid}, filepath.Join(dir, "out"))
			require.NoError(t, err)
			was, err := media.Frames(t.Context(), base, []float64{mid}, filepath.Join(dir, "base"))
			require.NoError(t, err)
			require.Greater(t, meanDiffAgainst(decodeJPEG(t, in[0]), decodeJPEG(t, was[0]), identity), 10.0)
			if tt.start >= 0.5 {
				before := tt.start / 2
				o, err := media.Frames(t.Context(), out, []float64{before}, filepath.Join(dir, "out-before"))
				require.NoError(t, err)
				b, err := media.Frames(t.Context(), base, []float64{before}, filepath.Join(dir, "base-before"))
				require.NoError(t, err)
				require.Less(t, meanDiffAgainst(decodeJPEG(t, o[0]), decodeJPEG(t, b[0]), identity), 8.0)
			}
		})
	}
}

func TestSpliceRejectsBadRanges(t *testing.T) {
	t.Parallel()
	base := mediatest.Video(t, mediatest.VideoOptions{Duration: 1})
	out := filepath.Join(t.TempDir(), "x.mp4")
	require.Error(t, media.Splice(t.Context(), base, base, out, 0.5, 0.2))
	require.Error(t, media.Splice(t.Context(), base, base, out, 2, 3))
	require.Error(t, media.Splice(t.Context(), base, base, base, 0, 0.5))
}
