package media

import (
	"context"
	"errors"
	"fmt"

	ffmpeg "github.com/u2takey/ffmpeg-go"

	"github.com/lokiz/lokiz/media/internal/ffrun"
)

// TranscodeWeb writes to out an MP4 that every browser streams: H.264
// (yuv420p, even dimensions, upright) and AAC, with the index at the front
// (fast start) and without the source's metadata tags, which can hold the
// place a phone recorded at. When the source's streams are already H.264 and
// AAC (or silent) in MP4, MOV or 3GP, they are copied rather than re-encoded,
// which is fast and lossless; rotation metadata is then kept, and players
// honour it. It fails with a *NotVideoError when in is not a playable video.
func TranscodeWeb(ctx context.Context, in, out string) error {
	if in == out {
		return errors.New("transcode: input and output are the same file")
	}
	info, err := Probe(ctx, in)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	src := input(in, nil)
	var cmd *ffmpeg.Stream
	if webCodecs(info) && (info.Container == "mp4" || info.Container == "mov" || info.Container == "3gp") {
		cmd = ffmpeg.Output(
			[]*ffmpeg.Stream{src.Get("v:0"), src.Get("a:0?")},
			fileURL(out),
			ffmpeg.KwArgs{"c": "copy", "format": "mp4", "movflags": "+faststart", "map_metadata": "-1"})
	} else {
		cmd = webEncode(src, out)
	}
	if err := ffrun.Run(ctx, cmd); err != nil {
		removeFiles(out)
		return fmt.Errorf("transcode %s: %w", in, err)
	}
	if err := checkOutput(out); err != nil {
		removeFiles(out)
		return fmt.Errorf("transcode %s: %w", in, err)
	}
	return nil
}

// Clip writes the part of in between start and end (seconds) to out,
// re-encoded like TranscodeWeb, so that the cut starts exactly at start
// rather than at the previous keyframe. end past the video's end is allowed
// and gives a shorter clip.
func Clip(ctx context.Context, in, out string, start, end float64) error {
	switch {
	case in == out:
		return errors.New("clip: input and output are the same file")
	case !finite(start) || !finite(end) || start < 0 || end <= start:
		return fmt.Errorf("clip: invalid range [%v, %v]", start, end)
	}
	info, err := Probe(ctx, in)
	if err != nil {
		return fmt.Errorf("clip: %w", err)
	}
	if start >= info.Duration {
		return fmt.Errorf("clip: start %ss is past the end of the %ss video",
			ffrun.Seconds(start), ffrun.Seconds(info.Duration))
	}
	src := input(in, ffmpeg.KwArgs{"ss": ffrun.Seconds(start), "t": ffrun.Seconds(end - start)})
	if err := ffrun.Run(ctx, webEncode(src, out)); err != nil {
		removeFiles(out)
		return fmt.Errorf("clip %s [%s, %s]: %w", in, ffrun.Seconds(start), ffrun.Seconds(end), err)
	}
	if err := checkOutput(out); err != nil {
		removeFiles(out)
		return fmt.Errorf("clip %s: %w", in, err)
	}
	return nil
}

// webEncode is the H.264/AAC fast-start MP4 encoding of src's first video and
// first audio stream (if any). x264 needs even dimensions for 4:2:0, so odd
// sizes lose their last row or column.
func webEncode(src *ffmpeg.Stream, out string) *ffmpeg.Stream {
	video := src.Get("v:0").Filter("scale", nil, ffmpeg.KwArgs{"w": "trunc(iw/2)*2", "h": "trunc(ih/2)*2"})
	return ffmpeg.Output(
		[]*ffmpeg.Stream{video, src.Get("a:0?")},
		fileURL(out),
		ffmpeg.KwArgs{
			"format":       "mp4",
			"c:v":          "libx264",
			"preset":       "veryfast",
			"crf":          "23",
			"pix_fmt":      "yuv420p",
			"c:a":          "aac",
			"b:a":          "128k",
			"movflags":     "+faststart",
			"map_metadata": "-1",
		})
}
