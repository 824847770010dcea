package worker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig for JPEG outputs
	_ "image/png"  // and PNG ones
	"io"
	"os"
	"slices"

	"github.com/lokiz/lokiz/media"
)

// Output kinds: what a model's file must be. A catalog entry's Output names
// the kind of a job's first file.
const (
	kindVideo = "video"
	kindAudio = "audio"
	kindImage = "image"
)

// outputKinds are the kinds file i of a job whose catalog output is kind may
// have: a video job's first file is its video, and later ones may be videos
// or stills (a poster or last frame); every file of an audio job is audio.
func outputKinds(kind string, i int) []string {
	if kind == kindVideo && i > 0 {
		return []string{kindVideo, kindImage}
	}
	return []string{kind}
}

// outputFormat is what a downloaded file was found to be: its kind, and the
// extension and content type it is stored under (from the storage
// allow-list, never from the provider's URL or headers).
type outputFormat struct {
	kind, ext, contentType string
}

// outputFormats are the formats kept, by kind, in the order their keys are
// looked for.
var outputFormats = map[string][]outputFormat{
	kindVideo: {{kindVideo, ".mp4", "video/mp4"}, {kindVideo, ".mov", "video/quicktime"}, {kindVideo, ".webm", "video/webm"}},
	kindAudio: {{kindAudio, ".wav", "audio/wav"}, {kindAudio, ".mp3", "audio/mpeg"}},
	kindImage: {{kindImage, ".jpg", "image/jpeg"}, {kindImage, ".png", "image/png"}, {kindImage, ".webp", "image/webp"}},
}

// notOutputError says a file is not of a kind its job may return.
type notOutputError struct {
	kinds  []string
	reason string
}

func (e *notOutputError) Error() string {
	return fmt.Sprintf("output is not a valid %v file: %s", e.kinds, e.reason)
}

// checkOutput finds what the file at path is, from its first bytes (the
// magic numbers of the formats we keep), then has it read by a decoder
// (ffprobe for video and audio, the image package for stills): a file that
// only starts like a video is not one. It returns *notOutputError when the
// file is none of kinds.
func checkOutput(ctx context.Context, path string, kinds []string) (outputFormat, error) {
	f, err := os.Open(path)
	if err != nil {
		return outputFormat{}, fmt.Errorf("open output: %w", err)
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return outputFormat{}, fmt.Errorf("read output: %w", err)
	}
	format, ok := sniffOutput(head[:n])
	if !ok {
		return outputFormat{}, &notOutputError{kinds, "its first bytes match no video, audio or image format we keep"}
	}
	if !slices.Contains(kinds, format.kind) {
		return outputFormat{}, &notOutputError{kinds, "it is " + format.kind}
	}
	switch format.kind {
	case kindVideo:
		var nv *media.NotVideoError
		if _, err := media.Probe(ctx, path); errors.As(err, &nv) {
			return outputFormat{}, &notOutputError{kinds, nv.Reason}
		} else if err != nil {
			return outputFormat{}, err
		}
	case kindAudio:
		// Probe judges videos; for a readable file without one it reports
		// what it found, which for audio is the whole answer.
		info, err := media.Probe(ctx, path)
		var nv *media.NotVideoError
		switch {
		case err == nil || info.HasVideo:
			return outputFormat{}, &notOutputError{kinds, "it has a video track"}
		case !errors.As(err, &nv):
			return outputFormat{}, err
		case info.AudioCodec == "" || !(info.Duration > 0):
			return outputFormat{}, &notOutputError{kinds, "ffprobe finds no audio track with a duration"}
		}
	case kindImage:
		if err := checkImage(path, format); err != nil {
			return outputFormat{}, &notOutputError{kinds, err.Error()}
		}
	}
	return format, nil
}

// sniffOutput names the format of a file from its first bytes.
func sniffOutput(head []byte) (outputFormat, bool) {
	pick := func(kind, ext string) (outputFormat, bool) {
		for _, f := range outputFormats[kind] {
			if f.ext == ext {
				return f, true
			}
		}
		return outputFormat{}, false
	}
	switch {
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		switch brand := string(head[8:12]); brand {
		case "qt  ":
			return pick(kindVideo, ".mov")
		case "heic", "heix", "heim", "heis", "hevc", "mif1", "msf1", "avif", "avis", "M4A ", "M4B ", "M4P ":
			return outputFormat{}, false // stills and audio in MP4 boxes: not kept
		default:
			return pick(kindVideo, ".mp4")
		}
	case bytes.HasPrefix(head, []byte{0x1a, 0x45, 0xdf, 0xa3}) && bytes.Contains(head, []byte("webm")):
		return pick(kindVideo, ".webm")
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return pick(kindAudio, ".wav")
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return pick(kindImage, ".webp")
	case bytes.HasPrefix(head, []byte("ID3")) || (len(head) >= 2 && head[0] == 0xff && head[1]&0xe6 == 0xe2):
		// An ID3 tag, or an MPEG audio frame sync with layer III.
		return pick(kindAudio, ".mp3")
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return pick(kindImage, ".jpg")
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return pick(kindImage, ".png")
	}
	return outputFormat{}, false
}

// maxImageSide bounds a still's width and height.
const maxImageSide = 16384

// checkImage reads a still's header: JPEG and PNG through the image
// package, WebP by its chunk layout.
func checkImage(path string, format outputFormat) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if format.ext == ".webp" {
		var hdr [30]byte
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			return errors.New("the WebP file is truncated")
		}
		switch chunk := string(hdr[12:16]); chunk {
		case "VP8 ":
			if !bytes.Equal(hdr[23:26], []byte{0x9d, 0x01, 0x2a}) {
				return errors.New("the WebP frame has no start code")
			}
			w, h := binary.LittleEndian.Uint16(hdr[26:28])&0x3fff, binary.LittleEndian.Uint16(hdr[28:30])&0x3fff
			if w == 0 || h == 0 {
				return errors.New("the WebP image has no size")
			}
		case "VP8L":
			if hdr[20] != 0x2f {
				return errors.New("the lossless WebP has no signature")
			}
		case "VP8X":
		default:
			return fmt.Errorf("unknown WebP chunk %q", chunk)
		}
		return nil
	}
	cfg, name, err := image.DecodeConfig(f)
	if err != nil {
		return fmt.Errorf("the image cannot be decoded: %v", err)
	}
	if "."+name != format.ext && !(name == "jpeg" && format.ext == ".jpg") {
		return fmt.Errorf("the image decodes as %s", name)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxImageSide || cfg.Height > maxImageSide {
		return fmt.Errorf("the image is %dx%d", cfg.Width, cfg.Height)
	}
	return nil
}
