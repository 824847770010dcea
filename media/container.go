package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// mp4Layout is what the top-level boxes (atoms) of an ISO-BMFF or QuickTime
// file say: its brand and whether the index (moov) comes before the media
// data (mdat). A browser can start playing a "fast start" file after the
// first bytes; otherwise it must fetch the end of the file first.
type mp4Layout struct {
	hasFtyp    bool
	majorBrand string
	fastStart  bool
}

// maxTopLevelBoxes bounds the walk over a hostile file made of tiny boxes.
const maxTopLevelBoxes = 1024

// readMP4Layout walks the top-level boxes of r (size bytes long) until it
// meets moov or mdat. It reads only box headers, seeking over bodies, so the
// cost does not depend on the file's size.
func readMP4Layout(r io.ReadSeeker, size int64) (mp4Layout, error) {
	var l mp4Layout
	var off int64
	hdr := make([]byte, 16)
	for range maxTopLevelBoxes {
		if off+8 > size {
			return l, nil
		}
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return l, err
		}
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			return l, err
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		hdrLen := int64(8)
		switch boxSize {
		case 0: // the box runs to the end of the file
			boxSize = size - off
		case 1: // a 64-bit size follows the type
			if _, err := io.ReadFull(r, hdr[8:16]); err != nil {
				return l, err
			}
			boxSize = int64(binary.BigEndian.Uint64(hdr[8:16]))
			hdrLen = 16
		}
		if boxSize < hdrLen {
			return l, errors.New("malformed box size")
		}
		switch typ {
		case "ftyp":
			l.hasFtyp = true
			brand := make([]byte, 4)
			if _, err := io.ReadFull(r, brand); err == nil {
				l.majorBrand = string(brand)
			}
		case "moov":
			l.fastStart = true
			return l, nil
		case "mdat":
			return l, nil
		}
		off += boxSize
	}
	return l, nil
}

// ebmlDocType returns the DocType ("webm" or "matroska") from the first bytes
// of a Matroska file, or "" when it is not there. ffprobe names both formats
// "matroska,webm", but only WebM is a web format.
func ebmlDocType(head []byte) string {
	i := bytes.Index(head, []byte{0x42, 0x82}) // DocType element ID
	if i < 0 || i+3 > len(head) {
		return ""
	}
	n := int(head[i+2])
	if n&0x80 == 0 { // longer size encodings never occur for a short DocType
		return ""
	}
	n &= 0x7f
	start := i + 3
	if start+n > len(head) {
		return ""
	}
	return string(head[start : start+n])
}
