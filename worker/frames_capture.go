package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// FramesCaptureHandler runs frames:capture: one ffmpeg decode pass for all
// the requested times, each still stored as a JPEG.
type FramesCaptureHandler struct {
	store   *db.Store
	storage storage.Store
	cfg     MediaConfig
	log     *slog.Logger
}

// NewFramesCaptureHandler returns the handler.
func NewFramesCaptureHandler(store *db.Store, st storage.Store, cfg MediaConfig, logger *slog.Logger) *FramesCaptureHandler {
	return &FramesCaptureHandler{store: store, storage: st, cfg: cfg, log: logger}
}

// ProcessTask implements asynq.Handler.
func (h *FramesCaptureHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseFramesPayload(t)
	if err != nil {
		return err
	}
	fc, err := h.store.FrameCaptureGet(ctx, p.CaptureID)
	if db.IsNotFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("load frame capture: %w", err)
	}
	if fc.Status != lokiz.CapturePending {
		return nil // done by an earlier delivery
	}
	keys, err := h.capture(ctx, fc)
	var rej rejection
	if errors.As(err, &rej) {
		_, ferr := h.store.FrameCaptureFail(ctx, db.FrameCaptureFailParams{ID: fc.ID, Error: &rej.reason})
		return ferr
	} else if err != nil {
		return err
	}
	_, err = h.store.FrameCaptureComplete(ctx, db.FrameCaptureCompleteParams{ID: fc.ID, FrameKeys: keys})
	return err
}

func (h *FramesCaptureHandler) capture(ctx context.Context, fc db.FrameCapture) ([]string, error) {
	v, err := h.store.VideoGetByID(ctx, fc.VideoID)
	if err != nil {
		return nil, fmt.Errorf("load video: %w", err)
	}
	if v.ObjectKey == nil {
		return nil, rejection{"the video has no file"}
	}
	dir, err := os.MkdirTemp(h.cfg.TempDir, "lokiz-frames-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "video"+filepath.Ext(*v.ObjectKey))
	if err := fetchObject(ctx, h.storage, *v.ObjectKey, src); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "frames")
	if err := os.Mkdir(out, 0o700); err != nil {
		return nil, err
	}
	paths, err := media.Frames(ctx, src, fc.Timestamps, out)
	var nv *media.NotVideoError
	if errors.As(err, &nv) {
		return nil, rejection{nv.Reason}
	} else if err != nil {
		return nil, fmt.Errorf("extract frames: %w", err)
	}
	keys := make([]string, len(paths))
	for i, p := range paths {
		// Keys derive from the capture, so a retry overwrites its own output.
		keys[i] = storage.FrameKey(fc.ID, i)
		if err := storeFile(ctx, h.storage, p, keys[i]); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
