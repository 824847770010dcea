package ffrun_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ffmpeg "github.com/u2takey/ffmpeg-go"

	"github.com/lokiz/lokiz/media/internal/ffrun"
)

// longInput is generated video that ffmpeg reads in real time (-re), so a
// run takes its full 5 seconds unless it is killed, however fast the machine.
func longInput() *ffmpeg.Stream {
	return ffmpeg.Input("testsrc2=size=160x120:rate=25:duration=5", ffmpeg.KwArgs{"f": "lavfi", "re": ""})
}

// TestRunCanceled cancels a run after 200 ms: Run must return promptly with
// the context's error, which it can only do once ffmpeg has been killed and
// reaped.
func TestRunCanceled(t *testing.T) {
	t.Parallel()
	src := longInput()
	out := filepath.Join(t.TempDir(), "long.mp4")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)

	start := time.Now()
	err := ffrun.Run(ctx, src.Output(out, ffmpeg.KwArgs{"c:v": "libx264", "preset": "ultrafast"}))
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.Canceled)
	require.GreaterOrEqual(t, elapsed, 200*time.Millisecond)
	require.Less(t, elapsed, 2*time.Second)
}

func TestRunDeadline(t *testing.T) {
	t.Parallel()
	src := longInput()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := ffrun.Run(ctx, src.Output(filepath.Join(t.TempDir(), "long.mp4"), ffmpeg.KwArgs{"c:v": "libx264", "preset": "ultrafast"}))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestRunReportsStderr(t *testing.T) {
	t.Parallel()
	src := ffmpeg.Input("testsrc2=duration=1", ffmpeg.KwArgs{"f": "lavfi"})
	err := ffrun.Run(t.Context(), src.Output(filepath.Join(t.TempDir(), "x.mp4"), ffmpeg.KwArgs{"c:v": "no-such-encoder"}))
	require.Error(t, err)
	require.Contains(t, err.Error(), "no-such-encoder")
	require.False(t, errors.Is(err, context.Canceled))
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"Zero", 0, "0"},
		{"Fraction", 1.5, "1.5"},
		{"Small", 0.00001, "0.00001"},
		{"BelowMicrosecond", 1e-7, "0"},
		{"Large", 12345678.25, "12345678.25"},
		{"Huge", 1e21, "1000000000000000000000"},
		{"Rounded", 2.0 / 3, "0.666667"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ffrun.Seconds(tt.in)
			require.Equal(t, tt.want, got)
			require.False(t, strings.ContainsAny(got, "eE"))
		})
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	var tail ffrun.Tail
	_, _ = tail.Write([]byte(strings.Repeat("x", 5000)))
	_, _ = tail.Write([]byte("\nlast line\n"))
	got := tail.String()
	require.True(t, strings.HasSuffix(got, "| last line"), got)
	require.LessOrEqual(t, len(got), 2048+16)
}
