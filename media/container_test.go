package media

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// box builds an ISO-BMFF box; large writes the 64-bit size form and toEnd
// the size-0 form ("up to the end of the file").
func box(typ string, body []byte, large, toEnd bool) []byte {
	var b bytes.Buffer
	switch {
	case toEnd:
		_ = binary.Write(&b, binary.BigEndian, uint32(0))
		b.WriteString(typ)
	case large:
		_ = binary.Write(&b, binary.BigEndian, uint32(1))
		b.WriteString(typ)
		_ = binary.Write(&b, binary.BigEndian, uint64(16+len(body)))
	default:
		_ = binary.Write(&b, binary.BigEndian, uint32(8+len(body)))
		b.WriteString(typ)
	}
	b.Write(body)
	return b.Bytes()
}

func TestReadMP4Layout(t *testing.T) {
	t.Parallel()
	ftyp := box("ftyp", []byte("isom\x00\x00\x02\x00isomavc1"), false, false)
	tests := []struct {
		name string
		file []byte
		want mp4Layout
	}{
		{"MoovFirst", cat(ftyp, box("moov", make([]byte, 40), false, false), box("mdat", make([]byte, 100), false, false)),
			mp4Layout{hasFtyp: true, majorBrand: "isom", fastStart: true}},
		{"MdatFirst", cat(ftyp, box("mdat", make([]byte, 100), false, false), box("moov", make([]byte, 40), false, false)),
			mp4Layout{hasFtyp: true, majorBrand: "isom"}},
		{"LargeSizeBeforeMoov", cat(ftyp, box("free", make([]byte, 30), true, false), box("moov", nil, false, false)),
			mp4Layout{hasFtyp: true, majorBrand: "isom", fastStart: true}},
		{"LargeMdatFirst", cat(ftyp, box("mdat", make([]byte, 30), true, false), box("moov", nil, false, false)),
			mp4Layout{hasFtyp: true, majorBrand: "isom"}},
		{"MdatToEnd", cat(ftyp, box("wide", nil, false, false), box("mdat", make([]byte, 50), false, true)),
			mp4Layout{hasFtyp: true, majorBrand: "isom"}},
		{"QuickTimeNoFtyp", cat(box("wide", nil, false, false), box("moov", nil, false, false)),
			mp4Layout{fastStart: true}},
		{"NoIndex", cat(ftyp, box("free", nil, false, false)),
			mp4Layout{hasFtyp: true, majorBrand: "isom"}},
		{"GarbageSize", cat(ftyp, []byte{0, 0, 0, 3, 'm', 'o', 'o', 'v'}),
			mp4Layout{hasFtyp: true, majorBrand: "isom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _ := readMP4Layout(bytes.NewReader(tt.file), int64(len(tt.file)))
			require.Equal(t, tt.want, got)
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestEBMLDocType(t *testing.T) {
	t.Parallel()
	header := func(doc string) []byte {
		return cat([]byte{0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, byte(0x80 | len(doc))}, []byte(doc))
	}
	require.Equal(t, "webm", ebmlDocType(header("webm")))
	require.Equal(t, "matroska", ebmlDocType(header("matroska")))
	require.Empty(t, ebmlDocType([]byte{0x1a, 0x45, 0xdf, 0xa3}))
	require.Empty(t, ebmlDocType(header("webm")[:13])) // cut inside the string
}
