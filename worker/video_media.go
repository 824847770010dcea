package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// mediaSyncPage is how many of a user's videos user:media_sync reads (and
// enqueues a video:media_sync for) at a time.
const mediaSyncPage = 200

// VideoMediaHandler runs video:media_sync and user:media_sync. A removed
// video's objects, and a banned author's, are moved under
// storage.WithheldKey, where no URL issued for them reaches them: on S3 a
// presigned or public URL handed out before the removal answers 404 at the
// bucket at once, instead of until it expires. A restore or a lift moves
// them back, and the same URLs work again.
//
// The handler moves the objects to where the video's state says when it
// runs, not where the change that enqueued it pointed: a removal's task
// that runs after the restore moves nothing away. Two runs for one video
// never overlap (db.Store.WithVideoMediaLock), and each move is re-runnable
// (storage.Store.Move: copy, then delete), so retries and crashes converge.
type VideoMediaHandler struct {
	store   *db.Store
	storage storage.Store
	tasks   *tasks.Client
	page    int32 // videos per page of user:media_sync; tests lower it
}

// NewVideoMediaHandler returns the handler of both task types.
func NewVideoMediaHandler(store *db.Store, st storage.Store, tc *tasks.Client) *VideoMediaHandler {
	return &VideoMediaHandler{store: store, storage: st, tasks: tc, page: mediaSyncPage}
}

// ProcessTask implements asynq.Handler.
func (h *VideoMediaHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseMediaSyncPayload(t)
	if err != nil {
		return err
	}
	if t.Type() == tasks.TypeUserMediaSync {
		return h.syncUser(ctx, p.UserID, time.Unix(0, p.Change))
	}
	return h.Sync(ctx, p.VideoID)
}

// syncUser enqueues the sync of each of the user's videos, a page at a
// time. The video tasks' ids are those of this change, so a retried
// fan-out enqueues nothing twice; each video is synced on its own, and a
// failure of one is retried alone.
func (h *VideoMediaHandler) syncUser(ctx context.Context, userID uuid.UUID, changedAt time.Time) error {
	after := uuid.Nil
	for {
		ids, err := h.store.VideoIDsOfUser(ctx, db.VideoIDsOfUserParams{UserID: userID, After: after, Lim: h.page})
		if err != nil {
			return fmt.Errorf("list videos of user %s: %w", userID, err)
		}
		for _, id := range ids {
			if err := h.tasks.Enqueue(ctx, tasks.NewVideoMediaSyncTask(id, changedAt)); err != nil {
				return err
			}
		}
		if len(ids) < int(h.page) {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// Sync moves the objects of video id under storage.WithheldKey when its
// media is withheld (db.Video.MediaWithheld), and back under their own keys
// otherwise. Objects already in place, and keys with no object (a video
// without thumbnail yet, an upload the finalize moved), are left as they
// are. A deleted or unknown video is left to the purge, which deletes the
// objects in both places; a video still uploading or processing to its
// finalize, which writes the objects and then syncs them (a banned
// author's video that completes is withheld at once).
func (h *VideoMediaHandler) Sync(ctx context.Context, id uuid.UUID) error {
	err := h.store.WithVideoMediaLock(ctx, id, func(v db.Video) error {
		if v.DeletedAt != nil || v.Status == lokiz.VideoUploading || v.Status == lokiz.VideoProcessing {
			return nil
		}
		withhold := v.MediaWithheld()
		for _, key := range videoMediaKeys(v) {
			src, dst := key, storage.WithheldKey(key)
			if !withhold {
				src, dst = dst, src
			}
			if err := h.storage.Move(ctx, src, dst); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("sync media of video %s: %w", id, err)
			}
		}
		return nil
	})
	if db.IsNotFound(err) {
		return nil
	}
	return err
}

// videoMediaKeys lists every key video v's objects may be stored under:
// the playable file, the kept original, the upload and the thumbnail (the
// row's, and the one derived from the id, which an AI result's response
// renders even when the row lost it). Keys that are not valid, so that
// nothing could be stored under them, are left out.
func videoMediaKeys(v db.Video) []string {
	var keys []string
	for _, k := range []*string{v.ObjectKey, v.OriginalKey, v.UploadKey, v.ThumbnailKey, ptr(storage.ThumbnailKey(v.ID))} {
		if k == nil || storage.ValidateKey(*k) != nil || slices.Contains(keys, *k) {
			continue
		}
		keys = append(keys, *k)
	}
	return keys
}
