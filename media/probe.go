package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/lokiz/lokiz/media/internal/ffrun"
	"github.com/lokiz/lokiz/tracing"
)

// InputFormats lists the demuxers ffmpeg and ffprobe may use on an input
// file (their -format_whitelist). It covers the containers phones and editors
// write, plus common audio-only formats so that an audio file is reported as
// having no video track rather than as unreadable. Playlist and image
// demuxers are left out on purpose (see the package documentation).
const InputFormats = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf,mp3,wav,aac,flac"

// Info describes a video file as ffprobe and the file's own header see it.
type Info struct {
	// Duration is the container's duration in seconds, as players show it.
	Duration float64
	// Width and Height are the display size in pixels: when rotation
	// metadata turns the picture by 90 or 270 degrees, they are swapped
	// relative to the coded size, as every player shows it.
	Width, Height int
	// Rotation is how far, in degrees clockwise, the coded picture is turned
	// for display: 0, 90, 180 or 270 (a phone held upright usually records
	// 90). ffmpeg applies it when decoding, so thumbnails and transcodes come
	// out upright.
	Rotation int
	// VideoCodec and AudioCodec are ffprobe codec names ("h264", "vp9",
	// "aac", "opus"). AudioCodec is "" when the file has no audio track.
	VideoCodec, AudioCodec string
	// PixelFormat is the video's pixel format ("yuv420p"); browsers decode
	// H.264 only in 8-bit 4:2:0.
	PixelFormat string
	// FrameRate is the average frame rate in frames per second, 0 if unknown.
	FrameRate float64
	// Container is a short name for the container: "mp4", "mov", "3gp",
	// "webm", "mkv", or else the first name in FormatName ("avi", "mpegts").
	Container string
	// FormatName is ffprobe's format_name as is ("mov,mp4,m4a,3gp,3g2,mj2").
	FormatName string
	// BitRate is the overall bit rate in bits per second, 0 if unknown.
	BitRate int64
	// SizeBytes is the file's size.
	SizeBytes int64
	// FastStart reports, for mp4, mov and 3gp, whether the index (moov) comes
	// before the media data, so a browser can start playing while it
	// downloads. It is false for every other container.
	FastStart bool
	// HasVideo reports a video track (an attached cover picture does not
	// count). It is true whenever Probe returns no error.
	HasVideo bool
}

// probeResult is Info plus what Thumbnail and Frames need to stay inside the
// video track, which can end before the container (audio running longer).
type probeResult struct {
	Info
	videoDuration float64
}

// lastFrameTime is a time, in seconds, at which a frame is sure to exist:
// one frame before the end of the video track.
func (p probeResult) lastFrameTime() float64 {
	end := p.Duration
	if p.videoDuration > 0 && p.videoDuration < end {
		end = p.videoDuration
	}
	return math.Max(0, end-p.frameInterval())
}

// frameInterval is the time between two frames, assuming 30 fps when the
// rate is unknown.
func (p probeResult) frameInterval() float64 {
	if p.FrameRate > 0 {
		return 1 / p.FrameRate
	}
	return 1.0 / 30
}

// Probe inspects the video at path. It returns a *NotVideoError (errors.Is
// ErrNotVideo) when the file is empty, an image, unreadable as a video
// container, has no video track, or has no duration; for a readable file
// without video, Info is filled as far as known (HasVideo false).
func Probe(ctx context.Context, path string) (Info, error) {
	p, err := probe(ctx, path)
	return p.Info, err
}

func probe(ctx context.Context, path string) (probeResult, error) {
	var res probeResult
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("probe: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return res, fmt.Errorf("probe %s: not a regular file", path)
	}
	res.SizeBytes = fi.Size()
	if res.SizeBytes == 0 {
		return res, notVideo("the file is empty", nil)
	}
	head, layout, err := sniff(path, res.SizeBytes)
	if err != nil {
		return res, fmt.Errorf("probe: %w", err)
	}
	// Saying "image" helps the uploader more than what ffprobe would lead to:
	// "unreadable" (InputFormats has no image demuxers) or, for HEIF and
	// AVIF, which are MP4 boxes, "no duration".
	if strings.HasPrefix(http.DetectContentType(head), "image/") ||
		(layout.hasFtyp && imageBrands[layout.majorBrand]) {
		return res, notVideo("the file is an image, not a video", nil)
	}

	out, err := runFFprobe(ctx, path)
	if err != nil {
		return res, err
	}
	return res, parseProbe(&res, out, head, layout)
}

// parseProbe fills res from ffprobe's JSON output (and the file's first
// bytes and box layout) and refuses what is not a playable video.
func parseProbe(res *probeResult, out, head []byte, layout mp4Layout) error {
	var pj probeJSON
	if err := json.Unmarshal(out, &pj); err != nil {
		return fmt.Errorf("probe: decode ffprobe output: %w", err)
	}
	fillInfo(res, pj, head, layout)

	switch {
	case !res.HasVideo:
		return notVideo("the file has no video track", nil)
	case res.Width <= 0 || res.Height <= 0:
		return notVideo("the video track has no picture size", nil)
	case !(res.Duration > 0): // also catches NaN
		return notVideo("the video has no duration", nil)
	}
	return nil
}

// sniff reads the first bytes of the file and, for ISO-BMFF files, the order
// of the top-level boxes.
func sniff(path string, size int64) ([]byte, mp4Layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, mp4Layout{}, err
	}
	defer f.Close()
	head := make([]byte, 512) // what http.DetectContentType looks at
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, mp4Layout{}, err
	}
	head = head[:n]
	var layout mp4Layout
	if n >= 8 {
		// A damaged box only means "not fast start"; ffprobe judges the rest.
		layout, _ = readMP4Layout(f, size)
	}
	return head, layout, nil
}

// imageBrands are the ISO-BMFF major brands of still images (and image
// sequences) in the HEIF family: phone photos (HEIC) and AVIF.
var imageBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true,
	"mif1": true, "msf1": true, "avif": true, "avis": true,
}

// probeTimeout is a backstop for a context without a deadline: ffprobe reads
// only headers, so even a huge file takes well under a second.
const probeTimeout = 2 * time.Minute

// runFFprobe runs ffprobe with os/exec: ffmpeg-go's ProbeWithTimeout builds
// its own context from context.Background(), so it cannot be cancelled.
func runFFprobe(ctx context.Context, path string) (out []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	ctx, span := ffrun.Span(ctx, "ffprobe")
	defer func() { tracing.End(span, err) }()
	var stdout bytes.Buffer
	var stderr ffrun.Tail
	cmd := exec.CommandContext(ctx, "ffprobe",
		"-v", "error", "-format_whitelist", InputFormats,
		"-show_format", "-show_streams", "-of", "json",
		fileURL(path))
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("ffprobe: %w", ctxErr)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() { // not killed by a signal
		// ffprobe ran and could not make sense of the file.
		return nil, notVideo("the file is not a video format we can read",
			fmt.Errorf("ffprobe: %w: %s", err, stderr.String()))
	}
	return nil, fmt.Errorf("ffprobe: %w", err) // not installed, cannot start
}

// fileURL makes ffmpeg treat path as a plain file: a name that starts with
// "-" or looks like "http:" or "concat:" stays a file name.
func fileURL(path string) string { return "file:" + path }

type probeJSON struct {
	Streams []struct {
		CodecType    string            `json:"codec_type"`
		CodecName    string            `json:"codec_name"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		PixFmt       string            `json:"pix_fmt"`
		AvgFrameRate string            `json:"avg_frame_rate"`
		RFrameRate   string            `json:"r_frame_rate"`
		Duration     string            `json:"duration"`
		Tags         map[string]string `json:"tags"`
		Disposition  struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		SideDataList []sideData `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

type sideData struct {
	SideDataType string   `json:"side_data_type"`
	Rotation     *float64 `json:"rotation"`
}

func fillInfo(res *probeResult, pj probeJSON, head []byte, layout mp4Layout) {
	res.FormatName = pj.Format.FormatName
	res.Duration = parseFloat(pj.Format.Duration)
	res.BitRate, _ = strconv.ParseInt(pj.Format.BitRate, 10, 64)
	res.Container = containerName(pj.Format.FormatName, head, layout)
	switch res.Container {
	case "mp4", "mov", "3gp":
		res.FastStart = layout.fastStart
	}

	for _, s := range pj.Streams {
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && !res.HasVideo:
			res.HasVideo = true
			res.VideoCodec = s.CodecName
			res.PixelFormat = s.PixFmt
			res.Width, res.Height = s.Width, s.Height
			res.FrameRate = parseRate(s.AvgFrameRate)
			if res.FrameRate == 0 {
				res.FrameRate = parseRate(s.RFrameRate)
			}
			res.videoDuration = parseFloat(s.Duration)
			if res.videoDuration == 0 {
				// Matroska keeps per-track durations only as a tag.
				res.videoDuration = parseClock(s.Tags["DURATION"])
			}
			res.Rotation = rotationOf(s.SideDataList, s.Tags["rotate"])
			if res.Rotation == 90 || res.Rotation == 270 {
				res.Width, res.Height = res.Height, res.Width
			}
		case s.CodecType == "audio" && res.AudioCodec == "":
			res.AudioCodec = s.CodecName
		}
	}
	if res.Duration == 0 {
		res.Duration = res.videoDuration
	}
}

// rotationOf returns the clockwise display rotation. ffprobe 5+ reports the
// display matrix's angle counter-clockwise; older ones a "rotate" tag that
// is already clockwise.
func rotationOf(list []sideData, tag string) int {
	for _, sd := range list {
		if sd.SideDataType == "Display Matrix" && sd.Rotation != nil {
			return normalizeRotation(-*sd.Rotation)
		}
	}
	if tag != "" {
		return normalizeRotation(parseFloat(tag))
	}
	return 0
}

// normalizeRotation maps any angle to the nearest of 0, 90, 180 and 270.
// The angle is first reduced to (-360, 360): a huge one would overflow int
// and come out as some other number of degrees.
func normalizeRotation(deg float64) int {
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return 0
	}
	r := int(math.Round(math.Mod(deg, 360)/90)) * 90
	return ((r % 360) + 360) % 360
}

func containerName(formatName string, head []byte, layout mp4Layout) string {
	switch {
	case strings.HasPrefix(formatName, "mov,"):
		switch b := layout.majorBrand; {
		case !layout.hasFtyp || b == "qt  ":
			return "mov"
		case strings.HasPrefix(b, "3g"):
			return "3gp"
		default:
			return "mp4"
		}
	case formatName == "matroska,webm":
		if ebmlDocType(head) == "webm" {
			return "webm"
		}
		return "mkv"
	}
	name, _, _ := strings.Cut(formatName, ",")
	return name
}

// parseFloat parses an ffprobe number, giving 0 for "", "N/A" and NaN.
func parseFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// parseRate parses a rational such as "30000/1001", giving 0 (unknown) for
// "0/0", a negative rate and one too large to represent.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return max(parseFloat(s), 0)
	}
	n, d := parseFloat(num), parseFloat(den)
	if d == 0 {
		return 0
	}
	return finiteOrZero(max(n/d, 0))
}

// parseClock parses "HH:MM:SS.fraction" as written in Matroska DURATION
// tags, giving 0 for what is not a finite time.
func parseClock(s string) float64 {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0
	}
	return finiteOrZero(parseFloat(parts[0])*3600 + parseFloat(parts[1])*60 + parseFloat(parts[2]))
}

func finiteOrZero(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// NeedsTranscode reports whether a video must be converted before browsers
// can stream it: anything but H.264 (8-bit 4:2:0) with AAC or no audio in a
// fast-start MP4.
func NeedsTranscode(info Info) bool {
	return !(info.Container == "mp4" && webCodecs(info) && info.FastStart)
}

// webCodecs reports whether the streams themselves are what browsers play,
// so that only the container needs rewriting.
func webCodecs(info Info) bool {
	return info.VideoCodec == "h264" &&
		(info.PixelFormat == "yuv420p" || info.PixelFormat == "yuvj420p") &&
		(info.AudioCodec == "" || info.AudioCodec == "aac")
}
