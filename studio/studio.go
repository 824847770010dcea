// Package studio holds the business operations of making things from
// videos: accepting and canceling AI jobs, completing an upload, capturing
// frames. Each is one call that the api's handlers make between parsing the
// request and writing the answer (DESIGN.md §2, STYLE.md B3). The atomic
// steps are db business transactions; the pure rules live in the root
// package. studio never speaks HTTP and never imports asynq: it enqueues
// through tasks.Client.
package studio

import (
	"context"
	"log/slog"
	"time"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// Models are the AI catalog's models by job type.
type Models map[string]Model

// Model is the model one job type runs on (recorded on the job) and its
// deadline.
type Model struct {
	Name     string
	Deadline time.Duration
}

// Config is what a Studio works with.
type Config struct {
	Store   *db.Store
	Storage storage.Store
	Tasks   *tasks.Client
	Logger  *slog.Logger
	// Models are the AI models by job type; without one a job type is
	// refused as unavailable.
	Models Models
	// Limits are the studio limits of each tier (the AI catalog's
	// tier_limits). Required.
	Limits lokiz.TierLimits
	// UploadSettledFunc, when set, is told the size of an upload's file
	// when its video is completed (the api gives back the byte quota it
	// charged for the signed size). It reports its own errors.
	UploadSettledFunc func(ctx context.Context, v db.Video, size int64)
	// CaptureWait is how long CaptureFrames waits for the worker before it
	// returns a pending capture. Defaults to 4 s.
	CaptureWait time.Duration
	// CapturePoll is how often a capture is read while waiting. Defaults
	// to 50 ms.
	CapturePoll time.Duration
}

// Studio runs the operations.
type Studio struct {
	cfg Config
}

// New returns a Studio; Store, Storage, Tasks and Logger are required.
func New(cfg Config) *Studio {
	if cfg.CaptureWait == 0 {
		cfg.CaptureWait = 4 * time.Second
	}
	if cfg.CapturePoll == 0 {
		cfg.CapturePoll = 50 * time.Millisecond
	}
	return &Studio{cfg: cfg}
}

func fieldErr(msg string, loc ...any) lokiz.FieldError { return lokiz.FieldError{Loc: loc, Msg: msg} }

func ptr[T any](v T) *T { return &v }
