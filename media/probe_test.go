package media_test

import (
	"context"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
)

func TestProbe(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts mediatest.VideoOptions
		want media.Info // Duration, BitRate, SizeBytes and FormatName are checked apart
	}{
		{
			name: "MP4NoAudio",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120},
			want: media.Info{Width: 160, Height: 120, VideoCodec: "h264", PixelFormat: "yuv420p", FrameRate: 25, Container: "mp4", HasVideo: true},
		},
		{
			name: "MP4AudioFastStart",
			opts: mediatest.VideoOptions{Duration: 2, Width: 320, Height: 240, Audio: true, FastStart: true},
			want: media.Info{Width: 320, Height: 240, VideoCodec: "h264", AudioCodec: "aac", PixelFormat: "yuv420p", FrameRate: 25, Container: "mp4", FastStart: true, HasVideo: true},
		},
		{
			name: "WebMVP9Opus",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "vp9", Container: "webm", Audio: true},
			want: media.Info{Width: 160, Height: 120, VideoCodec: "vp9", AudioCodec: "opus", PixelFormat: "yuv420p", FrameRate: 25, Container: "webm", HasVideo: true},
		},
		{
			name: "WebMNoAudio",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "vp9", Container: "webm"},
			want: media.Info{Width: 160, Height: 120, VideoCodec: "vp9", PixelFormat: "yuv420p", FrameRate: 25, Container: "webm", HasVideo: true},
		},
		{
			name: "MOVAudio",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Container: "mov", Audio: true},
			want: media.Info{Width: 160, Height: 120, VideoCodec: "h264", AudioCodec: "aac", PixelFormat: "yuv420p", FrameRate: 25, Container: "mov", HasVideo: true},
		},
		{
			name: "MOVFastStartMPEG4",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Codec: "mpeg4", Container: "mov", FastStart: true, FrameRate: 30},
			want: media.Info{Width: 160, Height: 120, VideoCodec: "mpeg4", PixelFormat: "yuv420p", FrameRate: 30, Container: "mov", FastStart: true, HasVideo: true},
		},
		{
			name: "Rotated90",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Audio: true, Rotation: 90},
			want: media.Info{Width: 120, Height: 160, Rotation: 90, VideoCodec: "h264", AudioCodec: "aac", PixelFormat: "yuv420p", FrameRate: 25, Container: "mp4", HasVideo: true},
		},
		{
			name: "Rotated180",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Rotation: 180, FastStart: true},
			want: media.Info{Width: 160, Height: 120, Rotation: 180, VideoCodec: "h264", PixelFormat: "yuv420p", FrameRate: 25, Container: "mp4", FastStart: true, HasVideo: true},
		},
		{
			name: "Rotated270",
			opts: mediatest.VideoOptions{Duration: 1, Width: 160, Height: 120, Rotation: 270},
			want: media.Info{Width: 120, Height: 160, Rotation: 270, VideoCodec: "h264", PixelFormat: "yuv420p", FrameRate: 25, Container: "mp4", HasVideo: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := mediatest.Video(t, tt.opts)
			fi, err := os.Stat(path)
			require.NoError(t, err)

			got, err := media.Probe(t.Context(), path)
			require.NoError(t, err)

			require.InDelta(t, tt.opts.Duration, got.Duration, 0.05)
			require.Positive(t, got.BitRate)
			require.Equal(t, fi.Size(), got.SizeBytes)
			require.NotEmpty(t, got.FormatName)
			got.Duration, got.BitRate, got.SizeBytes, got.FormatName = 0, 0, 0, ""
			require.Equal(t, tt.want, got)
		})
	}
}

func TestProbeNotVideo(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		make       func(t *testing.T) string
		wantReason string
	}{
		{
			name: "RandomBytes",
			make: func(t *testing.T) string {
				data := make([]byte, 64<<10)
				_, _ = rand.Read(data)
				return writeFile(t, "upload.mp4", data)
			},
			wantReason: "the file is not a video format we can read",
		},
		{
			name:       "PNGImage",
			make:       func(t *testing.T) string { return writePNG(t, "upload.mp4") },
			wantReason: "the file is an image, not a video",
		},
		{
			// AVIF and HEIC photos are MP4 boxes that ffprobe reads as a
			// one-frame video track.
			name: "AVIFImage",
			make: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "upload.mp4")
				out, err := exec.CommandContext(t.Context(), "ffmpeg", "-nostdin", "-v", "error",
					"-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1",
					"-c:v", "libaom-av1", "-cpu-used", "8", "-f", "avif", path).CombinedOutput()
				require.NoError(t, err, "%s", out)
				return path
			},
			wantReason: "the file is an image, not a video",
		},
		{
			name:       "AudioOnly",
			make:       func(t *testing.T) string { return mediatest.Audio(t, 1) },
			wantReason: "the file has no video track",
		},
		{
			name:       "Empty",
			make:       func(t *testing.T) string { return writeFile(t, "upload.mp4", nil) },
			wantReason: "the file is empty",
		},
		{
			// An upload cut short loses the index, which sits at the end of
			// a file that is not fast start.
			name: "Truncated",
			make: func(t *testing.T) string {
				data, err := os.ReadFile(mediatest.Video(t, mediatest.VideoOptions{Duration: 1}))
				require.NoError(t, err)
				return writeFile(t, "upload.mp4", data[:len(data)/2])
			},
			wantReason: "the file is not a video format we can read",
		},
		{
			// An HLS playlist could make ffmpeg fetch URLs or read other
			// local files; it is refused even when what it names is a
			// real video, which ffmpeg would otherwise happily read.
			name: "Playlist",
			make: func(t *testing.T) string {
				segment := mediatest.Video(t, mediatest.VideoOptions{Duration: 1})
				playlist := "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:" + segment + "\n#EXT-X-ENDLIST\n"
				return writeFile(t, "upload.mp4", []byte(playlist))
			},
			wantReason: "the file is not a video format we can read",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := media.Probe(t.Context(), tt.make(t))
			require.ErrorIs(t, err, media.ErrNotVideo)
			var nv *media.NotVideoError
			require.ErrorAs(t, err, &nv)
			require.Equal(t, tt.wantReason, nv.Reason)
		})
	}
}

func TestProbeAudioOnlyInfo(t *testing.T) {
	t.Parallel()
	info, err := media.Probe(t.Context(), mediatest.Audio(t, 1))
	require.ErrorIs(t, err, media.ErrNotVideo)
	require.False(t, info.HasVideo)
	require.Equal(t, "aac", info.AudioCodec)
	require.Empty(t, info.VideoCodec)
}

func TestProbeMissingFile(t *testing.T) {
	t.Parallel()
	// A missing file is the worker's problem, not the uploader's: it must not
	// be reported as "not a video".
	_, err := media.Probe(t.Context(), filepath.Join(t.TempDir(), "nope.mp4"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NotErrorIs(t, err, media.ErrNotVideo)
}

func TestProbeCanceled(t *testing.T) {
	t.Parallel()
	path := mediatest.Video(t, mediatest.VideoOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := media.Probe(ctx, path)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, media.ErrNotVideo))
}

func TestNeedsTranscode(t *testing.T) {
	t.Parallel()

	web := media.Info{Container: "mp4", VideoCodec: "h264", PixelFormat: "yuv420p", AudioCodec: "aac", FastStart: true, HasVideo: true}
	with := func(f func(*media.Info)) media.Info {
		i := web
		f(&i)
		return i
	}
	tests := []struct {
		name string
		info media.Info
		want bool
	}{
		{"WebReady", web, false},
		{"NoAudio", with(func(i *media.Info) { i.AudioCodec = "" }), false},
		{"FullRangeYUV", with(func(i *media.Info) { i.PixelFormat = "yuvj420p" }), false},
		{"NoFastStart", with(func(i *media.Info) { i.FastStart = false }), true},
		{"MOV", with(func(i *media.Info) { i.Container = "mov" }), true},
		{"WebM", with(func(i *media.Info) {
			i.Container = "webm"
			i.VideoCodec = "vp9"
			i.AudioCodec = "opus"
			i.FastStart = false
		}), true},
		{"HEVC", with(func(i *media.Info) { i.VideoCodec = "hevc" }), true},
		{"MPEG4Part2", with(func(i *media.Info) { i.VideoCodec = "mpeg4" }), true},
		{"Opus", with(func(i *media.Info) { i.AudioCodec = "opus" }), true},
		{"MP3", with(func(i *media.Info) { i.AudioCodec = "mp3" }), true},
		{"TenBit", with(func(i *media.Info) { i.PixelFormat = "yuv420p10le" }), true},
		{"Chroma422", with(func(i *media.Info) { i.PixelFormat = "yuv422p" }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, media.NeedsTranscode(tt.info))
		})
	}
}

func TestNeedsTranscodeProbed(t *testing.T) {
	t.Parallel()
	// The generator and NeedsTranscode agree on real files, not only on
	// hand-written Info values.
	ready := mediatest.Video(t, mediatest.VideoOptions{Audio: true, FastStart: true})
	info, err := media.Probe(t.Context(), ready)
	require.NoError(t, err)
	require.False(t, media.NeedsTranscode(info))

	slow := mediatest.Video(t, mediatest.VideoOptions{Audio: true})
	info, err = media.Probe(t.Context(), slow)
	require.NoError(t, err)
	require.True(t, media.NeedsTranscode(info))
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// writePNG writes a real 64x48 PNG, under a name that claims a video.
func writePNG(t *testing.T, name string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
	return path
}
