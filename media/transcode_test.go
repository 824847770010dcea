package media_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
)

func TestTranscodeWeb(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		opts         mediatest.VideoOptions
		wantW, wantH int
		wantAudio    string
		wantCopy     bool // streams copied, not re-encoded
	}{
		{"WebMVP9Opus", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "vp9", Container: "webm", Audio: true}, 160, 120, "aac", false},
		{"WebMNoAudio", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "vp9", Container: "webm"}, 160, 120, "", false},
		{"MPEG4", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "mpeg4", Audio: true}, 160, 120, "aac", false},
		{"OddSize", mediatest.VideoOptions{Duration: 1, Width: 161, Height: 121, Codec: "mpeg4"}, 160, 120, "", false},
		// Upright pixels: the rotation is applied, not carried along.
		{"RotatedMPEG4", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "mpeg4", Rotation: 90}, 120, 160, "", false},
		{"RemuxMP4", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Audio: true}, 160, 120, "aac", true},
		{"RemuxMOV", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Container: "mov", Audio: true}, 160, 120, "aac", true},
		// A copied stream keeps its rotation metadata, which players honour.
		{"RemuxRotated", mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Rotation: 90}, 120, 160, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := mediatest.Video(t, tt.opts)
			src, err := media.Probe(t.Context(), in)
			require.NoError(t, err)
			out := filepath.Join(t.TempDir(), "web.mp4")

			require.NoError(t, media.TranscodeWeb(t.Context(), in, out))

			got, err := media.Probe(t.Context(), out)
			require.NoError(t, err)
			require.False(t, media.NeedsTranscode(got), "%+v", got)
			require.Equal(t, "mp4", got.Container)
			require.Equal(t, "h264", got.VideoCodec)
			require.Equal(t, "yuv420p", got.PixelFormat)
			require.Equal(t, tt.wantAudio, got.AudioCodec)
			require.True(t, got.FastStart)
			require.Equal(t, tt.wantW, got.Width)
			require.Equal(t, tt.wantH, got.Height)
			require.InDelta(t, tt.opts.Duration, got.Duration, 0.1)
			if tt.wantCopy {
				require.Equal(t, src.Rotation, got.Rotation)
				require.Equal(t, videoPacketHashes(t, in), videoPacketHashes(t, out), "remux must not re-encode")
			} else {
				require.Zero(t, got.Rotation)
				require.NotEqual(t, videoPacketHashes(t, in), videoPacketHashes(t, out))
			}
		})
	}
}

// videoPacketHashes returns ffmpeg's hash of every packet of the first video
// stream, which is equal for two files exactly when the coded data is.
func videoPacketHashes(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "ffmpeg", "-nostdin", "-v", "error",
		"-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-").Output()
	require.NoError(t, err)
	// Drop comment lines and keep only the hashes, ignoring timestamps that a
	// remux may shift.
	var hashes []byte
	for _, line := range splitLines(out) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		fields := splitFields(line)
		hashes = append(hashes, fields[len(fields)-1]...)
		hashes = append(hashes, '\n')
	}
	require.NotEmpty(t, hashes)
	return string(hashes)
}

func TestTranscodeWebStripsMetadata(t *testing.T) {
	t.Parallel()
	// Phones record where a video was taken; that must not reach viewers.
	location := map[string]string{"location": "+35.6586+139.7454/"}
	tests := []struct {
		name string
		opts mediatest.VideoOptions
	}{
		{"Transcoded", mediatest.VideoOptions{Codec: "mpeg4", Metadata: location}},
		{"Remuxed", mediatest.VideoOptions{Metadata: location}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := mediatest.Video(t, tt.opts)
			require.Contains(t, formatTags(t, in), "location")
			out := filepath.Join(t.TempDir(), "web.mp4")
			require.NoError(t, media.TranscodeWeb(t.Context(), in, out))
			require.NotContains(t, formatTags(t, out), "location")
		})
	}
}

// formatTags returns ffprobe's container-level tags as "key=value" lines.
func formatTags(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "ffprobe", "-v", "error",
		"-show_entries", "format_tags", "-of", "default=noprint_wrappers=1", path).Output()
	require.NoError(t, err)
	return string(out)
}

func TestTranscodeWebNotVideo(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "web.mp4")
	err := media.TranscodeWeb(t.Context(), mediatest.Audio(t, 1), out)
	require.ErrorIs(t, err, media.ErrNotVideo)
	_, statErr := os.Stat(out)
	require.ErrorIs(t, statErr, os.ErrNotExist)
}

// TestTranscodeWebCanceled cancels a transcode that takes seconds, 200 ms in:
// TranscodeWeb must return at once with the context's error, having killed
// ffmpeg and removed the partial output.
func TestTranscodeWebCanceled(t *testing.T) {
	t.Parallel()
	// 1080p is costly to encode but cheap to generate as MPEG-4 part 2.
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 3, Width: 1920, Height: 1080, Codec: "mpeg4"})
	out := filepath.Join(t.TempDir(), "web.mp4")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)

	start := time.Now()
	err := media.TranscodeWeb(ctx, in, out)
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, elapsed, 2*time.Second, "ffmpeg was not stopped when ctx was canceled")
	_, statErr := os.Stat(out)
	require.ErrorIs(t, statErr, os.ErrNotExist)
}

func TestClip(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		opts       mediatest.VideoOptions
		start, end float64
		want       float64
	}{
		{"Middle", mediatest.VideoOptions{Duration: 2, Audio: true}, 0.5, 1.5, 1.0},
		{"FromStart", mediatest.VideoOptions{Duration: 2}, 0, 0.6, 0.6},
		{"PastTheEnd", mediatest.VideoOptions{Duration: 2, Audio: true}, 1.2, 9, 0.8},
		{"WebM", mediatest.VideoOptions{Duration: 2, Codec: "vp9", Container: "webm", Audio: true}, 0.4, 1.4, 1.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := mediatest.Video(t, tt.opts)
			out := filepath.Join(t.TempDir(), "clip.mp4")
			require.NoError(t, media.Clip(t.Context(), in, out, tt.start, tt.end))
			got, err := media.Probe(t.Context(), out)
			require.NoError(t, err)
			require.InDelta(t, tt.want, got.Duration, 0.1)
			require.Equal(t, "h264", got.VideoCodec)
			require.True(t, got.FastStart)
			if tt.opts.Audio {
				require.Equal(t, "aac", got.AudioCodec)
			} else {
				require.Empty(t, got.AudioCodec)
			}
		})
	}
}

// TestClipStartsAtStart checks the cut is frame-exact: the clip's first
// frame is the source's frame at start, not the keyframe before it.
func TestClipStartsAtStart(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 2})
	out := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, media.Clip(t.Context(), in, out, 1.0, 1.5))

	dir := t.TempDir()
	want, err := media.Frames(t.Context(), in, []float64{1.0}, filepath.Join(dir, "src"))
	require.NoError(t, err)
	got, err := media.Frames(t.Context(), out, []float64{0}, filepath.Join(dir, "clip"))
	require.NoError(t, err)
	notStart, err := media.Frames(t.Context(), in, []float64{0}, filepath.Join(dir, "zero"))
	require.NoError(t, err)

	d := meanDiffAgainst(decodeJPEG(t, got[0]), decodeJPEG(t, want[0]), identity)
	dZero := meanDiffAgainst(decodeJPEG(t, got[0]), decodeJPEG(t, notStart[0]), identity)
	require.Less(t, d, 6.0)
	require.Greater(t, dZero, 2*d)
}

func identity(x, y int) (int, int) { return x, y }

func TestClipInvalid(t *testing.T) {
	t.Parallel()
	in := mediatest.Video(t, mediatest.VideoOptions{Duration: 1})
	out := filepath.Join(t.TempDir(), "clip.mp4")
	for _, r := range [][2]float64{{1, 1}, {0.8, 0.2}, {-1, 0.5}, {5, 6}} {
		require.Error(t, media.Clip(t.Context(), in, out, r[0], r[1]), "range %v", r)
	}
	require.Error(t, media.Clip(t.Context(), in, in, 0, 0.5))
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)
}
