package media

import (
	"context"
	"errors"
	"fmt"

	ffmpeg "github.com/u2takey/ffmpeg-go"

	"github.com/lokiz/lokiz/media/internal/ffrun"
)

// spliceFPS is the frame rate of a spliced video: the parts come from
// different encoders, and concat needs one rate.
const spliceFPS = 30

// Splice writes base with its [start, end] segment replaced by insert, as an
// H.264/AAC fast-start MP4 the size of base: the insert is scaled (with
// letterboxing) to base's size and cut or held on its last frame to last
// exactly end-start seconds, so the spliced video is as long as base and its
// audio, base's own, stays in sync. It is how a sticker-to-reality result
// (the model remakes only the chosen segment) goes back into its video.
func Splice(ctx context.Context, base, insert, out string, start, end float64) error {
	switch {
	case out == base || out == insert:
		return errors.New("splice: output is an input")
	case !finite(start) || !finite(end) || start < 0 || end <= start:
		return fmt.Errorf("splice: invalid range [%v, %v]", start, end)
	}
	info, err := Probe(ctx, base)
	if err != nil {
		return fmt.Errorf("splice: %w", err)
	}
	if start >= info.Duration {
		return fmt.Errorf("splice: start %ss is past the end of the %ss video", ffrun.Seconds(start), ffrun.Seconds(info.Duration))
	}
	end = min(end, info.Duration)
	w, h := info.Width&^1, info.Height&^1 // display size, even for 4:2:0
	if w <= 0 || h <= 0 {
		return errors.New("splice: the base video has no picture size")
	}
	fit := func(s *ffmpeg.Stream) *ffmpeg.Stream {
		return s.
			Filter("scale", ffmpeg.Args{fmt.Sprint(w), fmt.Sprint(h)}, ffmpeg.KwArgs{"force_original_aspect_ratio": "decrease"}).
			Filter("pad", ffmpeg.Args{fmt.Sprint(w), fmt.Sprint(h), "(ow-iw)/2", "(oh-ih)/2"}).
			Filter("setsar", ffmpeg.Args{"1"}).
			Filter("fps", ffmpeg.Args{fmt.Sprint(spliceFPS)}).
			Filter("format", ffmpeg.Args{"yuv420p"})
	}
	b := input(base, nil)
	ins := input(insert, nil)
	// A part shorter than a frame is left out: concat rejects empty parts.
	const frame = 1.0 / spliceFPS
	var parts []*ffmpeg.Stream
	if start >= frame {
		parts = append(parts, fit(cut(b.Get("v:0"), ffmpeg.KwArgs{"start": 0, "end": ffrun.Seconds(start)})))
	}
	segment := ffrun.Seconds(end - start)
	parts = append(parts, cut(fit(ins.Get("v:0")).
		Filter("tpad", nil, ffmpeg.KwArgs{"stop_mode": "clone", "stop_duration": segment}),
		ffmpeg.KwArgs{"duration": segment}))
	if info.Duration-end >= frame {
		parts = append(parts, fit(cut(b.Get("v:0"), ffmpeg.KwArgs{"start": ffrun.Seconds(end)})))
	}
	video := parts[0]
	if len(parts) > 1 {
		video = ffmpeg.Concat(parts, ffmpeg.KwArgs{"n": len(parts), "v": 1, "a": 0})
	}
	streams := []*ffmpeg.Stream{video}
	kw := ffmpeg.KwArgs{
		"format": "mp4", "c:v": "libx264", "preset": "veryfast", "crf": "23", "pix_fmt": "yuv420p",
		"movflags": "+faststart", "map_metadata": "-1", "t": ffrun.Seconds(info.Duration),
	}
	if info.AudioCodec != "" {
		streams = append(streams, b.Get("a:0"))
		kw["c:a"], kw["b:a"] = "aac", "128k"
	}
	if err := ffrun.Run(ctx, ffmpeg.Output(streams, fileURL(out), kw)); err != nil {
		removeFiles(out)
		return fmt.Errorf("splice %s into %s [%s, %s]: %w", insert, base, ffrun.Seconds(start), ffrun.Seconds(end), err)
	}
	if err := checkOutput(out); err != nil {
		removeFiles(out)
		return fmt.Errorf("splice: %w", err)
	}
	return nil
}

// cut trims s to kw ("start", "end", "duration") and restarts its clock.
func cut(s *ffmpeg.Stream, kw ffmpeg.KwArgs) *ffmpeg.Stream {
	return s.Filter("trim", nil, kw).Filter("setpts", ffmpeg.Args{"PTS-STARTPTS"})
}
