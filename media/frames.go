package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

	// Each timestamp names the frame nearest to it (by the average frame
	// rate), clamped to the last frame. One select filter passes exactly
	// those frames in one decode, and ffmpeg stops after the last of them;
	// its outputs come in frame order, one per distinct frame.
	interval := p.frameInterval()
	last := int(math.Round(p.lastFrameTime() / interval))
	wanted := make([]int, len(timestamps))
	for i, ts := range timestamps {
		wanted[i] = min(int(math.Round(ts/interval)), last)
	}
	distinct := slices.Clone(wanted)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)

	tmp, err := os.MkdirTemp(outDir, ".frames-")
	if err != nil {
		return nil, fmt.Errorf("frames: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The command is spelled out rather than built with ffmpeg-go, whose
	// graph builder mishandled a similar multi-output graph (it merged two
	// branches into one node by an additive hash and panicked).
	if err := ffrun.RunArgs(ctx, framesArgs(in, distinct, filepath.Join(tmp, "f%03d.jpg"))); err != nil {
		return nil, fmt.Errorf("frames %s: %w", in, err)
	}
	paths := make([]string, len(timestamps))
	for i, n := range wanted {
		k, _ := slices.BinarySearch(distinct, n)
		paths[i] = filepath.Join(outDir, fmt.Sprintf("frame-%03d.jpg", i))
		if err := copyFile(filepath.Join(tmp, fmt.Sprintf("f%03d.jpg", k+1)), paths[i]); err != nil {
			removeFiles(paths[:i+1]...)
			return nil, fmt.Errorf("frames %s: frame at %vs: %w", in, timestamps[i], err)
		}
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

// framesArgs is the ffmpeg command line of Frames: one decode, a select
// filter for the frame numbers, and at most as many JPEGs as frames chosen,
// so ffmpeg stops once the last one is written.
func framesArgs(in string, frames []int, pattern string) []string {
	terms := make([]string, len(frames))
	for i, n := range frames {
		terms[i] = fmt.Sprintf("eq(n\\,%d)", n)
	}
	return []string{"-format_whitelist", InputFormats, "-i", fileURL(in),
		"-map", "0:v:0", "-vf", "select=" + strings.Join(terms, "+"), "-fps_mode", "passthrough",
		"-frames:v", strconv.Itoa(len(frames)), "-c:v", "mjpeg", "-q:v", "2", "-f", "image2", fileURL(pattern)}
}

// copyFile copies a finished frame to its place.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return errors.New("ffmpeg wrote no frame")
	}
	return os.WriteFile(dst, b, 0o644)
}
