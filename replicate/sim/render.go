package sim

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lokiz/lokiz/media"
)

// Input names the simulator reads media from, in order of preference.
var (
	videoInputs = []string{"video", "driving_video", "input_video", "target_video", "reference_video"}
	imageInputs = []string{"image", "character_image", "input_image", "start_image", "first_frame_image", "first_frame", "face_image"}
)

// maxInputBytes bounds a downloaded input.
const maxInputBytes = 200 << 20

// render makes p's output file from its inputs.
func (s *Server) render(ctx context.Context, p *prediction) (name, contentType string, data []byte, err error) {
	dir, err := os.MkdirTemp("", "replicate-sim-*")
	if err != nil {
		return "", "", nil, errorf("render: %w", err)
	}
	defer os.RemoveAll(dir)

	videoKey, videoURL := firstURL(p.input, videoInputs)
	imageKey, imageURL := firstURL(p.input, imageInputs)
	var videoPath, imagePath string
	if videoURL != "" {
		if videoPath, err = s.download(ctx, videoKey, videoURL, filepath.Join(dir, "video")); err != nil {
			return "", "", nil, err
		}
	}
	if imageURL != "" {
		if imagePath, err = s.download(ctx, imageKey, imageURL, filepath.Join(dir, "image")); err != nil {
			return "", "", nil, err
		}
	}
	dur, hasDur := number(p.input["duration"])

	var out string
	switch {
	case videoPath != "":
		name, contentType, out = "output.mp4", "video/mp4", filepath.Join(dir, "output.mp4")
		err = remixVideo(ctx, videoPath, imagePath, out, clampDuration(dur, hasDur, 3))
	case imagePath != "":
		name, contentType, out = "output.mp4", "video/mp4", filepath.Join(dir, "output.mp4")
		err = kenBurns(ctx, imagePath, out, clampDuration(dur, hasDur, 2.4))
	default:
		format, _ := p.input["output_format"].(string)
		if format != "mp3" {
			format = "wav"
		}
		name, contentType, out = "output."+format, "audio/"+map[string]string{"wav": "wav", "mp3": "mpeg"}[format], filepath.Join(dir, "output."+format)
		prompt, _ := p.input["prompt"].(string)
		err = music(ctx, prompt, out, format, clampDuration(dur, hasDur, 2))
	}
	if err != nil {
		return "", "", nil, err
	}
	data, err = os.ReadFile(out)
	if err != nil {
		return "", "", nil, errorf("render: %w", err)
	}
	return name, contentType, data, nil
}

func firstURL(input map[string]any, keys []string) (key, value string) {
	for _, k := range keys {
		if v, ok := input[k].(string); ok && v != "" {
			return k, v
		}
	}
	return "", ""
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

// clampDuration keeps outputs tiny: between 1 and 3 seconds.
func clampDuration(d float64, ok bool, def float64) float64 {
	if !ok || d <= 0 {
		return def
	}
	return min(max(d, 1), 3)
}

// download GETs rawURL into path (with an extension from the URL, which
// helps ffmpeg's image demuxers) and returns the path written.
func (s *Server) download(ctx context.Context, key, rawURL, path string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("input %s: want an http or https URL", key)
	}
	if ext := strings.ToLower(filepath.Ext(u.Path)); len(ext) > 1 && len(ext) <= 5 {
		path += ext
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("input %s: %w", key, err)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("input %s: download: %w", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("input %s: download: %s answered %s", key, u.Redacted(), resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", errorf("download: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxInputBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("input %s: download: %w", key, err)
	case n > maxInputBytes:
		return "", fmt.Errorf("input %s: larger than %d bytes", key, maxInputBytes)
	case n == 0:
		return "", fmt.Errorf("input %s: the file is empty", key)
	}
	return path, nil
}

// even rounds v down to an even number of at least 2, as x264 needs.
func even(v float64) int { return max(2, int(v)/2*2) }

// fit scales w×h down (never up) to at most limit on its longer side.
func fit(w, h, limit int) (int, int) {
	f := min(1, float64(limit)/float64(max(w, h)))
	return even(float64(w) * f), even(float64(h) * f)
}

var x264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4"}

// remixVideo writes the first seconds of video with inverted, hue-turned
// colours and, when image is set, the image in the top right corner.
func remixVideo(ctx context.Context, video, image, out string, seconds float64) error {
	info, err := media.Probe(ctx, video)
	if err != nil {
		return fmt.Errorf("input video: %w", err)
	}
	f := min(1, 480/float64(info.Width))
	w, h := even(float64(info.Width)*f), even(float64(info.Height)*f)
	args := []string{"-t", secs(seconds), "-i", "file:" + video}
	graph := fmt.Sprintf("[0:v]scale=%d:%d,setsar=1,negate,hue=h=90:s=2", w, h)
	if image != "" {
		args = append(args, "-i", "file:"+image)
		graph += fmt.Sprintf("[base];[1:v]scale=%d:-2[ov];[base][ov]overlay=W-w-%d:%d", even(float64(w)/4), w/40+2, w/40+2)
	}
	graph += ",format=yuv420p[out]"
	args = append(args, "-filter_complex", graph, "-map", "[out]", "-map", "0:a?", "-c:a", "aac", "-shortest")
	args = append(args, x264...)
	return ffmpeg(ctx, append(args, "file:"+out)...)
}

// kenBurns writes a slow zoom into the middle of image.
func kenBurns(ctx context.Context, image, out string, seconds float64) error {
	iw, ih, err := imageSize(ctx, image)
	if err != nil {
		return err
	}
	w, h := fit(iw, ih, 320)
	frames := int(seconds * 25)
	graph := fmt.Sprintf("[0:v]scale=%d:%d,setsar=1,zoompan=z='min(zoom+0.004,1.3)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=%d:s=%dx%d:fps=25,format=yuv420p[out]",
		2*w, 2*h, frames, w, h)
	args := []string{"-i", "file:" + image, "-filter_complex", graph, "-map", "[out]", "-frames:v", strconv.Itoa(frames)}
	args = append(args, x264...)
	return ffmpeg(ctx, append(args, "file:"+out)...)
}

// music writes a tone (its pitch chosen by the prompt) over pink noise.
func music(ctx context.Context, prompt, out, format string, seconds float64) error {
	h := fnv.New32a()
	_, _ = h.Write([]byte(prompt))
	freq := 220 + h.Sum32()%440
	d := secs(seconds)
	codec := []string{"-c:a", "pcm_s16le", "-f", "wav"}
	if format == "mp3" {
		codec = []string{"-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"}
	}
	args := []string{
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=44100:duration=%s", freq, d),
		"-f", "lavfi", "-i", fmt.Sprintf("anoisesrc=color=pink:amplitude=0.05:sample_rate=44100:duration=%s", d),
		"-filter_complex", "[0:a][1:a]amix=inputs=2:duration=shortest[a]", "-map", "[a]",
	}
	args = append(args, codec...)
	return ffmpeg(ctx, append(args, "file:"+out)...)
}

func imageSize(ctx context.Context, path string) (int, int, error) {
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=width,height", "-of", "csv=p=0:s=x", "file:"+path)
	cmd.WaitDelay = 5 * time.Second
	outb, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("input image: not a readable image: %w", err)
	}
	var w, h int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(outb)), "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("input image: not a readable image (%q)", strings.TrimSpace(string(outb)))
	}
	return w, h, nil
}

func ffmpeg(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return errorf("ffmpeg: %w", ctx.Err())
		}
		msg := stderr.String()
		if len(msg) > 1000 {
			msg = msg[len(msg)-1000:]
		}
		return errorf("ffmpeg: %w: %s", err, strings.TrimSpace(msg))
	}
	return nil
}

func secs(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
