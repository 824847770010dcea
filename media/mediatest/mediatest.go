// Package mediatest makes small real media files for tests, with ffmpeg's
// lavfi sources (testsrc2 for a picture that changes every frame, sine for a
// tone). It is an ordinary package so that the tests of any package (the
// worker's, the api's) can use it; it needs ffmpeg on PATH.
package mediatest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"

	"github.com/lokiz/lokiz/media/internal/ffrun"
)

// VideoOptions describes a generated video. The zero value is a 1 second,
// 160x120, 25 fps H.264 MP4 without audio and without fast start.
type VideoOptions struct {
	// Duration in seconds. Defaults to 1.
	Duration float64
	// Width and Height in pixels. Default to 160x120.
	Width, Height int
	// FrameRate in frames per second. Defaults to 25.
	FrameRate int
	// Codec is "h264" (the default), "vp9" or "mpeg4".
	Codec string
	// Container is "mp4" (the default), "mov" or "webm". WebM takes only
	// "vp9", and its audio is Opus; mp4 and mov get AAC.
	Container string
	// Audio adds a 440 Hz tone.
	Audio bool
	// AudioDuration is the tone's length in seconds; it defaults to Duration.
	// A longer tone makes the container outlast the picture, as phone
	// recordings often do by a few frames.
	AudioDuration float64
	// FastStart puts the MP4/MOV index before the media data. WebM ignores it.
	FastStart bool
	// Rotation is display rotation metadata, in degrees clockwise (0, 90,
	// 180 or 270), as media.Info reports it; mp4 and mov only.
	Rotation int
	// Metadata adds container-level tags, such as {"location": "+35.6+139.7/"}.
	Metadata map[string]string
}

func (o *VideoOptions) setDefaults() {
	if o.Duration == 0 {
		o.Duration = 1
	}
	if o.Width == 0 {
		o.Width = 160
	}
	if o.Height == 0 {
		o.Height = 120
	}
	if o.FrameRate == 0 {
		o.FrameRate = 25
	}
	if o.AudioDuration == 0 {
		o.AudioDuration = o.Duration
	}
	if o.Codec == "" {
		o.Codec = "h264"
	}
	if o.Container == "" {
		o.Container = "mp4"
	}
}

// GenerateVideo writes a test video described by opts to path. The picture
// is ffmpeg's testsrc2, whose content differs from frame to frame, so frames
// taken at different times differ.
func GenerateVideo(ctx context.Context, path string, opts VideoOptions) error {
	opts.setDefaults()
	args := ffmpeg.KwArgs{"format": opts.Container, "pix_fmt": "yuv420p"}
	switch opts.Codec {
	case "h264":
		args["c:v"], args["preset"] = "libx264", "ultrafast"
	case "vp9":
		// realtime with cpu-used 8 is libvpx's fastest mode; the default
		// "good" takes seconds even for a tiny clip.
		args["c:v"], args["deadline"], args["cpu-used"], args["b:v"] = "libvpx-vp9", "realtime", "8", "200k"
	case "mpeg4":
		args["c:v"], args["q:v"] = "mpeg4", "5"
	default:
		return fmt.Errorf("mediatest: unknown codec %q", opts.Codec)
	}
	switch opts.Container {
	case "mp4", "mov":
		args["c:a"] = "aac"
		if opts.FastStart {
			args["movflags"] = "+faststart"
		}
	case "webm":
		if opts.Codec != "vp9" {
			return fmt.Errorf("mediatest: webm cannot hold %s", opts.Codec)
		}
		if opts.Rotation != 0 {
			return fmt.Errorf("mediatest: rotation is only written to mp4 and mov")
		}
		args["c:a"] = "libopus"
	default:
		return fmt.Errorf("mediatest: unknown container %q", opts.Container)
	}
	if len(opts.Metadata) > 0 {
		var md []string
		for _, k := range slices.Sorted(maps.Keys(opts.Metadata)) {
			md = append(md, k+"="+opts.Metadata[k])
		}
		args["metadata"] = md
	}

	dur := ffrun.Seconds(opts.Duration)
	streams := []*ffmpeg.Stream{ffmpeg.Input(
		fmt.Sprintf("testsrc2=size=%dx%d:rate=%d:duration=%s", opts.Width, opts.Height, opts.FrameRate, dur),
		ffmpeg.KwArgs{"f": "lavfi"})}
	if opts.Audio {
		streams = append(streams, ffmpeg.Input(
			"sine=frequency=440:sample_rate=48000:duration="+ffrun.Seconds(opts.AudioDuration),
			ffmpeg.KwArgs{"f": "lavfi"}))
	}
	if err := ffrun.Run(ctx, ffmpeg.Output(streams, path, args)); err != nil {
		return fmt.Errorf("mediatest: generate %s: %w", path, err)
	}
	if opts.Rotation != 0 {
		if err := setRotation(path, opts.Rotation); err != nil {
			return fmt.Errorf("mediatest: rotate %s: %w", path, err)
		}
	}
	return nil
}

// GenerateAudio writes an AAC tone of duration seconds, with no video track,
// to path as an M4A (MP4) file.
func GenerateAudio(ctx context.Context, path string, duration float64) error {
	src := ffmpeg.Input("sine=frequency=440:sample_rate=48000:duration="+ffrun.Seconds(duration),
		ffmpeg.KwArgs{"f": "lavfi"})
	if err := ffrun.Run(ctx, src.Output(path, ffmpeg.KwArgs{"format": "mp4", "c:a": "aac"})); err != nil {
		return fmt.Errorf("mediatest: generate %s: %w", path, err)
	}
	return nil
}

// generateTimeout keeps a stuck ffmpeg from hanging a test run.
const generateTimeout = time.Minute

// Video generates a video in a fresh temporary directory of t, failing t on
// error, and returns its path (named "video.<container>").
func Video(t testing.TB, opts VideoOptions) string {
	t.Helper()
	opts.setDefaults()
	ctx, cancel := context.WithTimeout(t.Context(), generateTimeout)
	defer cancel()
	path := filepath.Join(t.TempDir(), "video."+opts.Container)
	if err := GenerateVideo(ctx, path, opts); err != nil {
		t.Fatal(err)
	}
	return path
}

// Audio generates an audio-only M4A of duration seconds in a fresh temporary
// directory of t, failing t on error, and returns its path.
func Audio(t testing.TB, duration float64) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), generateTimeout)
	defer cancel()
	path := filepath.Join(t.TempDir(), "audio.m4a")
	if err := GenerateAudio(ctx, path, duration); err != nil {
		t.Fatal(err)
	}
	return path
}
