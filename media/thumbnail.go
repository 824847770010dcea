package media

import (
	"context"
	"errors"
	"fmt"

	ffmpeg "github.com/u2takey/ffmpeg-go"

	"github.com/lokiz/lokiz/media/internal/ffrun"
)

// Thumbnail writes one JPEG frame of the video in to out. at is in seconds
// and is clamped into the video, so any value gives a frame. The picture is
// upright (rotation applied), at most maxWidth pixels wide (maxWidth <= 0
// keeps the video's width), keeps its aspect ratio, and has even dimensions.
// It fails with a *NotVideoError when in is not a playable video.
func Thumbnail(ctx context.Context, in, out string, at float64, maxWidth int) error {
	if !finite(at) {
		return errors.New("thumbnail: time is not a number")
	}
	p, err := probe(ctx, in)
	if err != nil {
		return fmt.Errorf("thumbnail: %w", err)
	}
	at = clamp(at, 0, p.lastFrameTime())

	w := "trunc(iw/2)*2"
	if maxWidth > 0 {
		w = fmt.Sprintf("trunc(min(iw,%d)/2)*2", max(maxWidth, 2))
	}
	// Seeking on the input (-ss before -i) jumps to the keyframe before at
	// instead of decoding from the start; ffmpeg then drops frames up to at.
	video := input(in, ffmpeg.KwArgs{"ss": ffrun.Seconds(at)}).
		Get("v:0").
		Filter("scale", nil, ffmpeg.KwArgs{"w": w, "h": "-2"})
	if err := ffrun.Run(ctx, ffmpeg.Output([]*ffmpeg.Stream{video}, fileURL(out), jpegArgs(3))); err != nil {
		removeFiles(out)
		return fmt.Errorf("thumbnail %s at %ss: %w", in, ffrun.Seconds(at), err)
	}
	if err := checkOutput(out); err != nil {
		removeFiles(out)
		return fmt.Errorf("thumbnail %s at %ss: %w", in, ffrun.Seconds(at), err)
	}
	return nil
}
