package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// PurgeGrace is how long the sweep leaves a freshly deleted video to its own
// video:purge task before purging it itself. Purging twice is harmless; the
// grace only saves work.
const PurgeGrace = time.Minute

// VideoPurgeHandler runs video:purge (one deleted video, enqueued by the
// delete) and videos:purge (the sweep for those whose task was lost). Every
// step is idempotent: deleting a missing object succeeds, and the row's keys
// are cleared only after every object is gone, so a failed run is retried
// by the task or picked up by the next sweep.
type VideoPurgeHandler struct {
	store   *db.Store
	storage storage.Store
	log     *slog.Logger
	now     func() time.Time
}

// NewVideoPurgeHandler returns the handler of both task types.
func NewVideoPurgeHandler(store *db.Store, st storage.Store, logger *slog.Logger) *VideoPurgeHandler {
	return &VideoPurgeHandler{store: store, storage: st, log: logger, now: time.Now}
}

// ProcessTask implements asynq.Handler.
func (h *VideoPurgeHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	if t.Type() == tasks.TypeVideosPurge {
		return h.sweep(ctx)
	}
	p, err := tasks.ParseVideoPayload(t)
	if err != nil {
		return err
	}
	return h.Purge(ctx, p.VideoID)
}

func (h *VideoPurgeHandler) sweep(ctx context.Context) error {
	ids, err := h.store.VideoPurgeCandidates(ctx, db.VideoPurgeCandidatesParams{
		Before: ptr(h.now().Add(-PurgeGrace)), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list videos to purge: %w", err)
	}
	for _, id := range ids {
		if err := h.Purge(ctx, id); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		h.log.InfoContext(ctx, "deleted videos purged by the sweep", "videos", len(ids))
	}
	return nil
}

// Purge deletes the objects of a soft-deleted video (file, original,
// upload, thumbnail, the frames captured from it and, for an AI result, the
// job's further output files) and clears the row's keys.
// A video that is not deleted (or no longer exists) is left alone.
//
// It runs under the video's media lock (db.Store.WithVideoMediaLock), so a
// video:media_sync that moves the objects (to or from their withheld
// place, which the purge deletes too) is never halfway through.
func (h *VideoPurgeHandler) Purge(ctx context.Context, id uuid.UUID) error {
	err := h.store.WithVideoMediaLock(ctx, id, func(v db.Video) error {
		if v.DeletedAt == nil {
			return nil
		}
		return h.purge(ctx, v)
	})
	if db.IsNotFound(err) {
		return nil
	}
	return err
}

func (h *VideoPurgeHandler) purge(ctx context.Context, v db.Video) error {
	id := v.ID
	frames, err := h.store.FrameKeysOfVideo(ctx, id)
	if err != nil {
		return fmt.Errorf("list frames of video %s: %w", id, err)
	}
	files, err := h.store.AIJobFilesOfVideo(ctx, &id)
	if err != nil {
		return fmt.Errorf("list AI files of video %s: %w", id, err)
	}
	frames = append(frames, files...)
	// videoMediaKeys has the thumbnail key derived from the id, so it is
	// deleted even when the row lost it (an AI job's response renders it
	// from the id).
	var keys []*string
	for _, k := range videoMediaKeys(v) {
		// Where a sync moved it while the video was withheld, too.
		keys = append(keys, &k, ptr(storage.WithheldKey(k)))
	}
	for i := range frames {
		keys = append(keys, &frames[i])
	}
	for _, k := range keys {
		if k == nil || storage.ValidateKey(*k) != nil {
			continue // nothing we could have stored
		}
		if err := h.storage.Delete(ctx, *k); err != nil {
			return fmt.Errorf("purge %s of video %s: %w", *k, id, err)
		}
	}
	if _, err := h.store.VideoClearObjects(ctx, id); err != nil {
		return fmt.Errorf("clear objects of video %s: %w", id, err)
	}
	return nil
}
