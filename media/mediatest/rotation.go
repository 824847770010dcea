package mediatest

import (
	"encoding/binary"
	"errors"
	"iter"
	"math"
	"os"
)

// setRotation writes a display matrix that turns the video track of the
// MP4/MOV at path by deg degrees clockwise. It patches the track header
// (tkhd) in place rather than asking ffmpeg: ffmpeg 5.1 honours its "rotate"
// tag only when copying streams and 6.0 replaced it with -display_rotation,
// while the box layout is fixed by ISO/IEC 14496-12.
func setRotation(path string, deg int) error {
	if deg%90 != 0 {
		return errors.New("rotation must be a multiple of 90 degrees")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	moov := child(data, "moov")
	if moov == nil {
		return errors.New("no moov box")
	}
	patched := false
	for trak := range children(moov, "trak") {
		tkhd := child(trak, "tkhd")
		if tkhd == nil {
			continue
		}
		off := 4 + 20 // version+flags, then v0 times, track id, reserved, duration
		if tkhd[0] == 1 {
			off = 4 + 32
		}
		off += 16 // reserved, layer, alternate group, volume, reserved
		if len(tkhd) < off+44 {
			return errors.New("short tkhd box")
		}
		if binary.BigEndian.Uint32(tkhd[off+36:]) == 0 {
			continue // width 0: not the video track
		}
		// The matrix {a b u; c d v; x y w} in 16.16 fixed point (2.30 for
		// u, v, w); a clockwise turn by θ is a=cos θ, b=sin θ, c=-sin θ, d=cos θ.
		rad := float64(deg) * math.Pi / 180
		cos, sin := int32(math.Round(math.Cos(rad)))<<16, int32(math.Round(math.Sin(rad)))<<16
		m := [9]int32{cos, sin, 0, -sin, cos, 0, 0, 0, 1 << 30}
		for i, v := range m {
			binary.BigEndian.PutUint32(tkhd[off+4*i:], uint32(v))
		}
		patched = true
	}
	if !patched {
		return errors.New("no video track header")
	}
	return os.WriteFile(path, data, 0o644)
}

// child returns the body of the first box of type typ in b, or nil.
func child(b []byte, typ string) []byte {
	for body := range children(b, typ) {
		return body
	}
	return nil
}

// children yields the bodies of the boxes of type typ among the boxes that
// make up b. The bodies share memory with b, so writing to them patches b.
func children(b []byte, typ string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(b) >= 8 {
			size := int(binary.BigEndian.Uint32(b))
			hdr := 8
			switch size {
			case 0:
				size = len(b)
			case 1:
				if len(b) < 16 {
					return
				}
				size, hdr = int(binary.BigEndian.Uint64(b[8:])), 16
			}
			if size < hdr || size > len(b) {
				return
			}
			if string(b[4:8]) == typ && !yield(b[hdr:size]) {
				return
			}
			b = b[size:]
		}
	}
}
