// Package ffrun runs ffmpeg command graphs built with ffmpeg-go under a
// context, so that media and mediatest share one way of starting, bounding and
// reporting an ffmpeg process.
package ffrun

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/lokiz/lokiz/tracing"
)

// waitDelay bounds how long Run waits for ffmpeg's stderr to close after the
// process was killed; ffmpeg starts no children, so this is only a backstop.
const waitDelay = 5 * time.Second

// quiet turns off ffmpeg-go's log.Printf of every compiled command. The switch
// is a package variable of ffmpeg-go that Compile reads, so it is set once
// here rather than per call through Stream.Silent, which would race.
var quiet sync.Once

// Run executes the output stream s (an Output, MergeOutputs or similar) and
// waits for it. ctx bounds the process: when ctx is done, ffmpeg is killed and
// Run returns an error wrapping ctx.Err(). Other failures carry the tail of
// ffmpeg's stderr. Run always adds -nostdin (a worker has no terminal, and
// ffmpeg would otherwise read commands from stdin), -y and a quiet log level.
func Run(ctx context.Context, s *ffmpeg.Stream) (err error) {
	quiet.Do(func() { ffmpeg.LogCompiledCommand = false })
	ctx, span := Span(ctx, "ffmpeg")
	defer func() { tracing.End(span, err) }()

	var stderr Tail
	s = s.GlobalArgs("-nostdin", "-hide_banner", "-loglevel", "error")
	// ffmpeg-go builds its exec.Cmd with exec.CommandContext(s.Context, ...),
	// and GlobalArgs starts a new stream with context.Background(), so the
	// caller's ctx goes on last; OverWriteOutput and WithErrorOutput store
	// their values in that same context, so they come after it.
	s.Context = ctx
	cmd := s.OverWriteOutput().WithErrorOutput(&stderr).Compile()
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("ffmpeg: %w", ctxErr)
		}
		if msg := stderr.String(); msg != "" {
			return fmt.Errorf("ffmpeg: %w: %s", err, msg)
		}
		return fmt.Errorf("ffmpeg: %w", err)
	}
	return nil
}

// RunArgs runs ffmpeg with args (the options and files, without the program
// name) under ctx, with the same global options, killing and error reporting
// as Run. It is for the few commands ffmpeg-go's graph builder cannot express
// reliably.
func RunArgs(ctx context.Context, args []string) (err error) {
	ctx, span := Span(ctx, "ffmpeg")
	defer func() { tracing.End(span, err) }()
	var stderr Tail
	full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	cmd := exec.CommandContext(ctx, "ffmpeg", full...)
	cmd.Stderr = &stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("ffmpeg: %w", ctxErr)
		}
		if msg := stderr.String(); msg != "" {
			return fmt.Errorf("ffmpeg: %w: %s", err, msg)
		}
		return fmt.Errorf("ffmpeg: %w", err)
	}
	return nil
}

// Span starts the span of one run of program (ffmpeg, ffprobe) under the
// recording span in ctx, if any (package tracing). It names the program
// only: the arguments hold file paths.
func Span(ctx context.Context, program string) (context.Context, trace.Span) {
	return tracing.Child(ctx, program, trace.SpanKindInternal,
		attribute.String("process.executable.name", program))
}

// Seconds formats a time in seconds the way ffmpeg options want it: fixed
// point with microsecond precision (ffmpeg's own time base), never the
// exponent notation that fmt's %v produces for small or large floats.
func Seconds(v float64) string {
	s := strconv.FormatFloat(v, 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// tailSize is how much of a process's stderr Tail keeps: enough for the last
// few error lines, which say why ffmpeg failed.
const tailSize = 2048

// Tail is an io.Writer that keeps the last tailSize bytes written to it.
type Tail struct {
	buf []byte
}

// Write implements io.Writer; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, trimmed and with newlines folded so that the
// text fits on one log line.
func (t *Tail) String() string {
	s := strings.TrimSpace(string(t.buf))
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
