package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// MediaConfig are the limits the media tasks enforce.
type MediaConfig struct {
	// MaxDuration is the longest video accepted, in seconds of playback.
	MaxDuration time.Duration
	// TempDir holds the working copies of files being processed ("" = os.TempDir()).
	TempDir string
	// ThumbnailWidth is the widest thumbnail made, in pixels.
	ThumbnailWidth int
	// FrameMaxAge is how long captured frames are kept (FRAME_MAX_AGE);
	// zero means DefaultFrameMaxAge.
	FrameMaxAge time.Duration
}

// VideoFinalizeHandler runs video:finalize: the uploaded file is the truth,
// the client's metadata only a hint. Each step is safe to repeat; the final
// state change is conditional on the video still being processing.
type VideoFinalizeHandler struct {
	store   *db.Store
	storage storage.Store
	cfg     MediaConfig
	log     *slog.Logger
}

// NewVideoFinalizeHandler returns the handler.
func NewVideoFinalizeHandler(store *db.Store, st storage.Store, cfg MediaConfig, logger *slog.Logger) *VideoFinalizeHandler {
	if cfg.ThumbnailWidth == 0 {
		cfg.ThumbnailWidth = 540
	}
	return &VideoFinalizeHandler{store: store, storage: st, cfg: cfg, log: logger}
}

// ProcessTask implements asynq.Handler.
func (h *VideoFinalizeHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseVideoPayload(t)
	if err != nil {
		return err
	}
	return h.Finalize(ctx, p.VideoID)
}

// rejection is a reason the upload can never succeed: the video fails with
// it and the task is not retried.
type rejection struct{ reason string }

func (r rejection) Error() string { return r.reason }

// Finalize processes one video (also called by `lokiz seed`).
func (h *VideoFinalizeHandler) Finalize(ctx context.Context, id uuid.UUID) error {
	v, err := h.store.VideoGetByID(ctx, id)
	if db.IsNotFound(err) {
		return nil // the upload was cleaned away: nothing to do
	} else if err != nil {
		return fmt.Errorf("load video %s: %w", id, err)
	}
	if v.Status != lokiz.VideoProcessing {
		return nil // finished by an earlier delivery, or never completed
	}
	err = h.finalize(ctx, v)
	var rej rejection
	if errors.As(err, &rej) {
		n, ferr := h.store.VideoFinalizeFail(ctx, db.VideoFinalizeFailParams{ID: v.ID, FailureReason: &rej.reason})
		if ferr != nil {
			return fmt.Errorf("mark video %s failed: %w", v.ID, ferr)
		}
		if n == 1 {
			h.log.InfoContext(ctx, "video rejected", "video_id", v.ID, "reason", rej.reason)
		}
		return nil
	}
	return err
}

func (h *VideoFinalizeHandler) finalize(ctx context.Context, v db.Video) error {
	if v.UploadKey == nil {
		return rejection{"the upload is missing"}
	}
	info, err := h.storage.Stat(ctx, *v.UploadKey)
	if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
		return rejection{"the uploaded file is missing"}
	} else if err != nil {
		return fmt.Errorf("stat upload: %w", err)
	}
	if v.UploadMaxBytes != nil && info.Size > *v.UploadMaxBytes {
		return rejection{fmt.Sprintf("the file is larger than the %d bytes allowed", *v.UploadMaxBytes)}
	}

	dir, err := os.MkdirTemp(h.cfg.TempDir, "lokiz-finalize-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir) // whatever happens, no working copy stays behind

	ext := filepath.Ext(*v.UploadKey)
	src := filepath.Join(dir, "upload"+ext)
	if err := fetchObject(ctx, h.storage, *v.UploadKey, src); err != nil {
		return err
	}
	probe, err := media.Probe(ctx, src)
	var nv *media.NotVideoError
	if errors.As(err, &nv) {
		return rejection{nv.Reason}
	} else if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if h.cfg.MaxDuration > 0 && probe.Duration > h.cfg.MaxDuration.Seconds() {
		return rejection{fmt.Sprintf("the video is %.0f seconds long; at most %.0f are allowed", probe.Duration, h.cfg.MaxDuration.Seconds())}
	}

	thumb := filepath.Join(dir, "thumb.jpg")
	if err := media.Thumbnail(ctx, src, thumb, min(1, probe.Duration/2), h.cfg.ThumbnailWidth); err != nil {
		return fmt.Errorf("thumbnail: %w", err)
	}

	// Final keys are derived from the video id, so a retried attempt
	// overwrites its own earlier output instead of leaving orphans.
	thumbKey := storage.ThumbnailKey(v.ID)
	objectKey := storage.VideoKey(v.ID, ext)
	contentType := storage.ContentTypeFor(*v.UploadKey)
	out := src
	var originalKey *string
	transcoded := media.NeedsTranscode(probe)
	if transcoded {
		out = filepath.Join(dir, "web.mp4")
		if err := media.TranscodeWeb(ctx, src, out); err != nil {
			return fmt.Errorf("transcode: %w", err)
		}
		if probe, err = media.Probe(ctx, out); err != nil {
			return fmt.Errorf("probe transcode: %w", err)
		}
		objectKey, contentType = storage.VideoKey(v.ID, ".mp4"), "video/mp4"
		k := storage.OriginalKey(v.ID, ext)
		originalKey = &k
		if err := storeFile(ctx, h.storage, src, k); err != nil {
			return err
		}
	}
	if err := storeFile(ctx, h.storage, out, objectKey); err != nil {
		return err
	}
	if err := storeFile(ctx, h.storage, thumb, thumbKey); err != nil {
		return err
	}

	size := probe.SizeBytes
	audio := &probe.AudioCodec
	if probe.AudioCodec == "" {
		audio = nil
	}
	done, err := h.store.FinalizeVideo(ctx, db.VideoFinalizeCompleteParams{
		ID: v.ID, ObjectKey: &objectKey, OriginalKey: originalKey, ThumbnailKey: &thumbKey,
		ContentType: &contentType, SizeBytes: &size, DurationSeconds: probe.Duration,
		Width: ptr(int32(probe.Width)), Height: ptr(int32(probe.Height)),
		VideoCodec: &probe.VideoCodec, AudioCodec: audio, Container: &probe.Container,
		BitRate: &probe.BitRate, FrameRate: &probe.FrameRate, Transcoded: transcoded,
	})
	if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
		return nil // another delivery completed it while this one worked
	} else if err != nil {
		return fmt.Errorf("complete video: %w", err)
	}
	// The upload is redundant once the video points at its final objects.
	if err := h.storage.Delete(ctx, *v.UploadKey); err != nil {
		h.log.WarnContext(ctx, "delete finalized upload", "key", *v.UploadKey, "error", err)
	}
	h.log.InfoContext(ctx, "video finalized", "video_id", done.ID, "duration", probe.Duration,
		"width", probe.Width, "height", probe.Height, "transcoded", transcoded)
	// The author was banned while the video processed: the ban's
	// video:media_sync left it to this finalize (worker/video_media.go).
	// A retry would find the video completed and stop, so a failure here
	// is logged, not returned.
	if done.MediaWithheld() {
		if err := NewVideoMediaHandler(h.store, h.storage, nil).Sync(ctx, done.ID); err != nil {
			h.log.ErrorContext(ctx, "media of a banned author's new video left in place", "video_id", done.ID, "error", err)
		}
	}
	return nil
}

// fetchObject copies an object from storage to a local file.
func fetchObject(ctx context.Context, st storage.Store, key, dst string) error {
	r, err := st.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("create working copy: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("download upload: %w", err)
	}
	return f.Close()
}

// storeFile puts a local file into storage under key, typed by its key.
func storeFile(ctx context.Context, st storage.Store, src, key string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", src, err)
	}
	if err := st.Put(ctx, key, f, info.Size(), storage.ContentTypeFor(key)); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
