package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Image limits: no side over MaxImageSide pixels, and no more than
// MaxImagePixels in all, so that whatever later decodes the image (a
// browser, an AI model) is not handed a decompression bomb: a few kilobytes
// of PNG can declare 100,000 × 100,000 pixels.
const (
	MaxImageSide   = 8192
	MaxImagePixels = 40_000_000
)

// ErrNotImage is matched (errors.Is) by every *NotImageError.
var ErrNotImage = errors.New("not an acceptable image")

// NotImageError reports that bytes are not an image of the declared type
// within the limits. Reason is a sentence for the uploader.
type NotImageError struct {
	Reason string
	Err    error
}

func (e *NotImageError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

// Is makes errors.Is(err, ErrNotImage) true.
func (e *NotImageError) Is(target error) bool { return target == ErrNotImage }

// Unwrap returns the technical cause.
func (e *NotImageError) Unwrap() error { return e.Err }

// ImageInfo is what CheckImage found.
type ImageInfo struct {
	Width, Height int
}

// imageFormats are the types we accept, their signatures and header
// decoders. The signature is checked first, so a file is never handed to a
// decoder for another format.
var imageFormats = map[string]struct {
	magic  func([]byte) bool
	config func(io.Reader) (image.Config, error)
}{
	"image/png": {
		magic:  func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) },
		config: png.DecodeConfig,
	},
	"image/jpeg": {
		magic:  func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) },
		config: jpeg.DecodeConfig,
	},
	"image/webp": {
		magic: func(b []byte) bool {
			return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
		},
		config: webp.DecodeConfig,
	},
}

// CheckImage reads the start of r and checks that it is an image of
// contentType (image/png, image/jpeg or image/webp): the file signature
// (magic bytes) first, then the header, decoded, for the dimensions, which
// must be within MaxImageSide and MaxImagePixels. Only the header is read,
// never the pixels. A failed check is a *NotImageError; an error reading r
// is returned as it is.
func CheckImage(r io.Reader, contentType string) (ImageInfo, error) {
	f, ok := imageFormats[contentType]
	if !ok {
		return ImageInfo{}, &NotImageError{Reason: fmt.Sprintf("%q is not an accepted image type", contentType)}
	}
	// Reads from r are recorded, so a read error (the storage failing) is
	// told apart from a header that does not decode.
	er := &errReader{r: r}
	head := make([]byte, 12)
	n, _ := io.ReadFull(er, head)
	if er.err != nil {
		return ImageInfo{}, er.err
	}
	if !f.magic(head[:n]) {
		return ImageInfo{}, &NotImageError{Reason: "the file is not a " + contentType[len("image/"):] + " image"}
	}
	cfg, err := f.config(io.MultiReader(bytes.NewReader(head[:n]), er))
	if er.err != nil {
		return ImageInfo{}, er.err
	}
	if err != nil {
		return ImageInfo{}, &NotImageError{Reason: "the image is damaged or truncated", Err: err}
	}
	switch {
	case cfg.Width < 1 || cfg.Height < 1:
		return ImageInfo{}, &NotImageError{Reason: "the image has no pixels"}
	case cfg.Width > MaxImageSide || cfg.Height > MaxImageSide:
		return ImageInfo{}, &NotImageError{Reason: fmt.Sprintf("the image is %d×%d pixels; each side may be at most %d", cfg.Width, cfg.Height, MaxImageSide)}
	case int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels:
		return ImageInfo{}, &NotImageError{Reason: fmt.Sprintf("the image is %d×%d pixels; at most %d pixels in all are allowed", cfg.Width, cfg.Height, MaxImagePixels)}
	}
	return ImageInfo{Width: cfg.Width, Height: cfg.Height}, nil
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}
