package media_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media"
)

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// pngHeader is a PNG signature and a valid IHDR chunk (with its CRC)
// declaring w×h pixels, and nothing else: a few bytes that claim any size.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// A 1×1 lossless WebP.
var tinyWebP, _ = base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")

func TestCheckImage(t *testing.T) {
	t.Parallel()
	var jpg bytes.Buffer
	require.NoError(t, jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 40, 30)), nil))

	for _, ok := range []struct {
		name, contentType string
		data              []byte
		w, h              int
	}{
		{"png", "image/png", encodePNG(t, 64, 48), 64, 48},
		{"jpeg", "image/jpeg", jpg.Bytes(), 40, 30},
		{"webp", "image/webp", tinyWebP, 1, 1},
		{"largest side", "image/png", pngHeader(media.MaxImageSide, 100), media.MaxImageSide, 100},
		{"slow reader", "image/png", encodePNG(t, 3, 2), 3, 2},
	} {
		r := bytes.NewReader(ok.data)
		info, err := media.CheckImage(iotest.OneByteReader(r), ok.contentType)
		require.NoError(t, err, ok.name)
		require.Equal(t, media.ImageInfo{Width: ok.w, Height: ok.h}, info, ok.name)
	}

	for _, bad := range []struct {
		name, contentType string
		data              []byte
		reason            string
	}{
		{"text claiming png", "image/png", []byte("hello, I am a PNG, honest"), "not a png"},
		{"html claiming jpeg", "image/jpeg", []byte("<html><script>alert(1)</script>"), "not a jpeg"},
		{"empty", "image/webp", nil, "not a webp"},
		{"png claiming jpeg", "image/jpeg", encodePNG(t, 4, 4), "not a jpeg"},
		{"jpeg claiming webp", "image/webp", jpg.Bytes(), "not a webp"},
		{"truncated header", "image/png", pngHeader(10, 10)[:20], "damaged or truncated"},
		{"bad header checksum", "image/png", append(pngHeader(10, 10)[:29], 0, 0, 0, 0), "damaged or truncated"},
		{"truncated jpeg", "image/jpeg", jpg.Bytes()[:8], "damaged or truncated"},
		{"huge declared side", "image/png", pngHeader(100000, 10), "each side may be at most"},
		{"too many pixels", "image/png", pngHeader(8000, 8000), "pixels in all"},
		{"zero pixels", "image/png", pngHeader(0, 10), ""},
		{"unaccepted type", "image/gif", []byte("GIF89a"), "not an accepted image type"},
	} {
		_, err := media.CheckImage(bytes.NewReader(bad.data), bad.contentType)
		var ni *media.NotImageError
		require.ErrorAs(t, err, &ni, bad.name)
		require.ErrorIs(t, err, media.ErrNotImage, bad.name)
		require.Contains(t, ni.Reason, bad.reason, bad.name)
	}

	// A failing storage read is not the uploader's fault.
	readErr := errors.New("connection reset")
	_, err := media.CheckImage(iotest.ErrReader(readErr), "image/png")
	require.ErrorIs(t, err, readErr)
	require.NotErrorIs(t, err, media.ErrNotImage)
}
