package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lokiz/lokiz/media/internal/ffrun"
)

// MaxFrames is the most timestamps one Frames call takes; each adds a branch
// to the filter graph and an output to the command line.
const MaxFrames = 100

// Frames writes one JPEG per timestamp (seconds) of the video in into outDir
// (created if missing) and returns their paths in the order of timestamps:
// outDir/frame-000.jpg, frame-001.jpg, and so on. Each is the frame nearest
// to its timestamp; timestamps past the end give the last frame. All frames
// come from one ffmpeg process that decodes the video once, up to the last
// timestamp. It fails with a *NotVideoError when in is not a playable video.
func Frames(ctx context.Context, in string, timestamps []float64, outDir string) ([]string, error) {
	if len(timestamps) == 0 || len(timestamps) > MaxFrames {
		return nil, fmt.Errorf("frames: want 1 to %d timestamps, got %d", MaxFrames, len(timestamps))
	}
	for _, ts := range timestamps {
		if !finite(ts) || ts < 0 {
			return nil, fmt.Errorf("frames: invalid timestamp %v", ts)
		}
	}
	p, err := probe(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("frames: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("frames: %w", err)
	}

	// Each branch keeps frames from half a frame before its timestamp and
	// its output takes the first one: the frame nearest to the timestamp.
	starts := make([]float64, len(timestamps))
	for i, ts := range timestamps {
		starts[i] = max(0, clamp(ts, 0, p.lastFrameTime())-p.frameInterval()/2)
	}
	// Seeking the input to the earliest start skips decoding what comes
	// before it; ffmpeg then counts time from there, so starts shift too.
	seek := slices.Min(starts)
	paths := make([]string, len(timestamps))
	for i := range timestamps {
		paths[i] = filepath.Join(outDir, fmt.Sprintf("frame-%03d.jpg", i))
	}
	// The command is spelled out rather than built with ffmpeg-go: its graph
	// builder merges filter nodes by an additive hash, and for some inputs
	// two trim branches came out as one node (a panic in Compile). The
	// graph here is the same one: split once, trim each branch, one JPEG
	// per output.
	if err := ffrun.RunArgs(ctx, framesArgs(in, seek, starts, paths)); err != nil {
		removeFiles(paths...)
		return nil, fmt.Errorf("frames %s: %w", in, err)
	}
	var errs []error
	for _, path := range paths {
		errs = append(errs, checkOutput(path))
	}
	if err := errors.Join(errs...); err != nil {
		removeFiles(paths...)
		return nil, fmt.Errorf("frames %s: %w", in, err)
	}
	return paths, nil
}

// framesArgs is the ffmpeg command line of Frames: one input seeked to the
// earliest start, one split, a trim per branch, a one-frame JPEG per output.
func framesArgs(in string, seek float64, starts []float64, paths []string) []string {
	var graph strings.Builder
	fmt.Fprintf(&graph, "[0:v:0]split=%d", len(starts))
	for i := range starts {
		fmt.Fprintf(&graph, "[s%d]", i)
	}
	for i, st := range starts {
		fmt.Fprintf(&graph, ";[s%d]trim=start=%s[t%d]", i, ffrun.Seconds(st-seek), i)
	}
	args := []string{"-format_whitelist", InputFormats, "-ss", ffrun.Seconds(seek), "-i", fileURL(in),
		"-filter_complex", graph.String()}
	for i, p := range paths {
		args = append(args, "-map", fmt.Sprintf("[t%d]", i), "-f", "image2", "-update", "1",
			"-frames:v", "1", "-c:v", "mjpeg", "-q:v", "2", fileURL(p))
	}
	return args
}
