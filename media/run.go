package media

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// input opens path as an ffmpeg input limited to InputFormats, with extra
// input options (such as "ss") from kw.
func input(path string, kw ffmpeg.KwArgs) *ffmpeg.Stream {
	args := ffmpeg.KwArgs{"format_whitelist": InputFormats}
	for k, v := range kw {
		args[k] = v
	}
	return ffmpeg.Input(fileURL(path), args)
}

// jpegArgs are the output options for one JPEG frame. update=1 makes the
// image2 muxer take the name literally, so a "%" in a path is no pattern.
func jpegArgs(quality int) ffmpeg.KwArgs {
	return ffmpeg.KwArgs{
		"format":   "image2",
		"update":   "1",
		"frames:v": "1",
		"c:v":      "mjpeg",
		"q:v":      fmt.Sprint(quality),
	}
}

// checkOutput returns an error unless path is a non-empty file. ffmpeg exits
// successfully without writing anything when no frame reached an output.
func checkOutput(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return fmt.Errorf("ffmpeg wrote no data to %s", path)
	}
	return err
}

// removeFiles deletes partial outputs after a failure, so that a caller that
// retries or uploads never sees half a file.
func removeFiles(paths ...string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
}

// clamp limits v to [lo, hi].
func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(v, hi))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
