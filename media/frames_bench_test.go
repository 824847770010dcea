package media_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/media/mediatest"
)

// The frame benchmarks take 10 stills from a 60 s 720p H.264 video three
// ways: media.Frames (one process, one decode), the floor (one plain ffmpeg
// command selecting the same frames), and the naive way (10 processes, each
// seeking to its time). docs/benchmarks.md has the numbers.

var (
	benchVideoOnce sync.Once
	benchVideo     string
	benchVideoErr  error
)

// longVideo generates the 60 s 720p input once per run, in a temp dir that
// lives for the process.
func longVideo(b *testing.B) string {
	benchVideoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lokiz-bench-frames-")
		if err != nil {
			benchVideoErr = err
			return
		}
		benchVideo = filepath.Join(dir, "long.mp4")
		benchVideoErr = mediatest.GenerateVideo(context.Background(), benchVideo,
			mediatest.VideoOptions{Duration: 60, Width: 1280, Height: 720, FrameRate: 25, FastStart: true})
	})
	if benchVideoErr != nil {
		b.Fatal(benchVideoErr)
	}
	return benchVideo
}

var benchTimes = []float64{3, 9, 15, 21, 27, 33, 39, 45, 51, 57}

func BenchmarkFramesBatch(b *testing.B) {
	in := longVideo(b)
	for b.Loop() {
		if _, err := media.Frames(context.Background(), in, benchTimes, b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFramesFloor is one ffmpeg command, no probe, selecting the same
// frames by number (25 fps) in one decode.
func BenchmarkFramesFloor(b *testing.B) {
	in := longVideo(b)
	var sel []string
	for _, ts := range benchTimes {
		sel = append(sel, fmt.Sprintf("eq(n\\,%d)", int(ts*25)))
	}
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "f%02d.jpg")
		cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", in,
			"-vf", "select="+strings.Join(sel, "+"), "-fps_mode", "passthrough", "-q:v", "2", out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, msg)
		}
	}
}

// BenchmarkFramesSeparate is the naive way: one ffmpeg process per still,
// each seeking to its time.
func BenchmarkFramesSeparate(b *testing.B) {
	in := longVideo(b)
	for b.Loop() {
		dir := b.TempDir()
		for i, ts := range benchTimes {
			cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", fmt.Sprint(ts), "-i", in,
				"-frames:v", "1", "-q:v", "2", filepath.Join(dir, fmt.Sprintf("f%02d.jpg", i)))
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, msg)
			}
		}
	}
}
