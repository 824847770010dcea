package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/hibiken/asynq"
)

// LevelFatal is the slog level of asynq's Fatal messages, above Error.
const LevelFatal = slog.LevelError + 4

// NewAsynqLogger adapts logger to asynq's Logger interface, so that the
// server's and the scheduler's own messages go through the process's slog
// handler. Set the asynq LogLevel to asynq.DebugLevel and let the slog
// handler's level be the only filter.
func NewAsynqLogger(logger *slog.Logger) asynq.Logger {
	return asynqLogger{logger: logger}
}

type asynqLogger struct {
	logger *slog.Logger
}

var _ asynq.Logger = asynqLogger{}

func (l asynqLogger) log(level slog.Level, args []any) {
	ctx := context.Background() // asynq passes none
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.logger.Log(ctx, level, fmt.Sprint(args...))
}

// Debug logs at slog.LevelDebug.
func (l asynqLogger) Debug(args ...any) { l.log(slog.LevelDebug, args) }

// Info logs at slog.LevelInfo.
func (l asynqLogger) Info(args ...any) { l.log(slog.LevelInfo, args) }

// Warn logs at slog.LevelWarn.
func (l asynqLogger) Warn(args ...any) { l.log(slog.LevelWarn, args) }

// Error logs at slog.LevelError.
func (l asynqLogger) Error(args ...any) { l.log(slog.LevelError, args) }

// Fatal logs at LevelFatal and exits with status 1, as asynq's Logger
// interface requires (asynq v0.26 itself never calls it).
func (l asynqLogger) Fatal(args ...any) {
	l.log(LevelFatal, args)
	os.Exit(1)
}
