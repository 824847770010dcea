package media

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// FuzzParseProbe feeds any bytes to the ffprobe output parser (parseProbe,
// with fuzzed file head and MP4 box layout). Properties:
//   - output that is JSON is either accepted or refused as ErrNotVideo;
//     output that is not JSON is a decode error; nothing panics;
//   - an accepted video has a video track, a positive picture size and a
//     positive finite duration (Info documents seconds as players show
//     them), a finite frame rate ≥ 0, a rotation of 0, 90, 180 or 270,
//     and FastStart only for mp4, mov and 3gp.
func FuzzParseProbe(f *testing.F) {
	f.Fuzz(func(t *testing.T, out, head []byte, hasFtyp bool, brand string, fastStart bool) {
		var res probeResult
		err := parseProbe(&res, out, head, mp4Layout{hasFtyp: hasFtyp, majorBrand: brand, fastStart: fastStart})
		if err != nil {
			if json.Valid(out) && !errors.Is(err, ErrNotVideo) {
				var ute *json.UnmarshalTypeError
				if !errors.As(err, &ute) {
					t.Fatalf("valid JSON refused with %v, want ErrNotVideo or a type error", err)
				}
			}
			return
		}
		finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
		switch {
		case !res.HasVideo || res.Width <= 0 || res.Height <= 0:
			t.Fatalf("accepted without a picture: %+v", res)
		case !(res.Duration > 0) || !finite(res.Duration):
			t.Fatalf("accepted with duration %v", res.Duration)
		case !finite(res.FrameRate) || res.FrameRate < 0:
			t.Fatalf("accepted with frame rate %v", res.FrameRate)
		case res.Rotation != 0 && res.Rotation != 90 && res.Rotation != 180 && res.Rotation != 270:
			t.Fatalf("accepted with rotation %d", res.Rotation)
		case res.FastStart && res.Container != "mp4" && res.Container != "mov" && res.Container != "3gp":
			t.Fatalf("fast start claimed for container %q", res.Container)
		}
		if lf := res.lastFrameTime(); !finite(lf) || lf < 0 || lf > res.Duration {
			t.Fatalf("last frame time %v outside [0, %v]", lf, res.Duration)
		}
	})
}
