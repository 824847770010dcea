package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	ffmpeg "github.com/u2takey/ffmpeg-go"

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
	src := input(in, ffmpeg.KwArgs{"ss": ffrun.Seconds(seek)})
	split := src.Get("v:0").Split()
	paths := make([]string, len(timestamps))
	outputs := make([]*ffmpeg.Stream, len(timestamps))
	for i := range timestamps {
		paths[i] = filepath.Join(outDir, fmt.Sprintf("frame-%03d.jpg", i))
		branch := split.Get(strconv.Itoa(i)).Trim(ffmpeg.KwArgs{"start": ffrun.Seconds(starts[i] - seek)})
		outputs[i] = ffmpeg.Output([]*ffmpeg.Stream{branch}, fileURL(paths[i]), jpegArgs(2))
	}
	if err := ffrun.Run(ctx, ffmpeg.MergeOutputs(outputs...)); err != nil {
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
