package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// eraseBatch is how many rows of one kind an erase step handles per
// statement; the step loops until none are left.
const eraseBatch = 500

// errAIJobsOpen makes the task retry later: results of running AI jobs
// would arrive after the erasure.
var errAIJobsOpen = errors.New("account has running AI jobs; erasing again once they end")

// AccountEraseHandler runs account:erase: it erases what a deleted account
// owned (videos and their objects, images, frame captures, AI job inputs and
// outputs, comments, likes, follows, blocks, bookmarks, searches,
// notifications, drafts, reports it filed, sessions; first of all its
// subscription, canceled at Stripe at once) and keeps the
// anonymised user row with its credit ledger and AI job rows (accounting).
// Each step is idempotent: objects are deleted before the row that names
// them, so a crash repeats the step without leaving an object unnamed. The
// account counts as erased (users.erased_at) only when every step is done.
type AccountEraseHandler struct {
	store   *db.Store
	storage storage.Store
	subs    *billing.Subscriptions
	log     *slog.Logger
}

// NewAccountEraseHandler returns the handler; subs ends the account's
// subscription at its provider.
func NewAccountEraseHandler(store *db.Store, st storage.Store, subs *billing.Subscriptions, logger *slog.Logger) *AccountEraseHandler {
	return &AccountEraseHandler{store: store, storage: st, subs: subs, log: logger}
}

// ProcessTask implements asynq.Handler.
func (h *AccountEraseHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseUserPayload(t)
	if err != nil {
		return err
	}
	state, err := h.store.UserEraseState(ctx, p.UserID)
	if db.IsNotFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	if state.DeletedAt == nil || state.ErasedAt != nil {
		return nil // not deleted (nothing to do) or already erased
	}
	uid := p.UserID

	// First of all, no provider charges the account again: its
	// subscription ends now, at Stripe too (a retry is harmless).
	if err := h.subs.EndForErasure(ctx, uid); err != nil {
		return fmt.Errorf("end subscription: %w", err)
	}

	videos := 0
	for {
		batch, err := h.store.EraseVideosOfUser(ctx, db.EraseVideosOfUserParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("list videos: %w", err)
		}
		for _, v := range batch {
			keys := []*string{v.ObjectKey, v.ThumbnailKey, v.OriginalKey, v.UploadKey}
			for _, k := range keys[:4] {
				// A banned author's objects were moved to their withheld
				// place (video:media_sync).
				if k != nil && storage.ValidateKey(*k) == nil {
					keys = append(keys, ptr(storage.WithheldKey(*k)))
				}
			}
			if err := h.deleteObjects(ctx, keys...); err != nil {
				return err
			}
			if _, err := h.store.EraseVideo(ctx, db.EraseVideoParams{ID: v.ID, UserID: uid}); err != nil {
				return fmt.Errorf("delete video %s: %w", v.ID, err)
			}
		}
		videos += len(batch)
		if len(batch) < eraseBatch {
			break
		}
	}

	for {
		batch, err := h.store.EraseImagesOfUser(ctx, db.EraseImagesOfUserParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		for _, img := range batch {
			if err := h.deleteObjects(ctx, &img.ObjectKey); err != nil {
				return err
			}
			if err := h.store.EraseImage(ctx, img.ID); err != nil {
				return fmt.Errorf("delete image %s: %w", img.ID, err)
			}
		}
		if len(batch) < eraseBatch {
			break
		}
	}

	for {
		batch, err := h.store.EraseFrameCapturesOfUser(ctx, db.EraseFrameCapturesOfUserParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("list frame captures: %w", err)
		}
		for _, fc := range batch {
			for _, key := range fc.FrameKeys {
				if err := h.deleteObjects(ctx, &key); err != nil {
					return err
				}
			}
			if err := h.store.EraseFrameCapture(ctx, fc.ID); err != nil {
				return fmt.Errorf("delete frame capture %s: %w", fc.ID, err)
			}
		}
		if len(batch) < eraseBatch {
			break
		}
	}

	for {
		batch, err := h.store.EraseAIJobsOfUser(ctx, db.EraseAIJobsOfUserParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("list ai jobs: %w", err)
		}
		for _, j := range batch {
			if err := h.deleteObjects(ctx, j.OutputKey); err != nil {
				return err
			}
			if err := h.store.EraseAIJobData(ctx, j.ID); err != nil {
				return fmt.Errorf("scrub ai job %s: %w", j.ID, err)
			}
		}
		if len(batch) < eraseBatch {
			break
		}
	}

	for {
		r, err := h.store.EraseLikesBatch(ctx, db.EraseLikesBatchParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("erase likes: %w", err)
		}
		if r.Erased < eraseBatch {
			break
		}
	}
	for {
		r, err := h.store.EraseCommentLikesBatch(ctx, db.EraseCommentLikesBatchParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("erase comment likes: %w", err)
		}
		if r.Erased < eraseBatch {
			break
		}
	}
	for {
		r, err := h.store.EraseCommentsBatch(ctx, db.EraseCommentsBatchParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("erase comments: %w", err)
		}
		if r.Erased < eraseBatch {
			break
		}
	}
	for {
		n, err := h.store.EraseFollowsBatch(ctx, db.EraseFollowsBatchParams{UserID: uid, Lim: eraseBatch})
		if err != nil {
			return fmt.Errorf("erase follows: %w", err)
		}
		if n < eraseBatch {
			break
		}
	}
	if err := h.store.EraseUserRest(ctx, uid); err != nil {
		return fmt.Errorf("erase the rest: %w", err)
	}

	open, err := h.store.AIJobsOpenOfUser(ctx, uid)
	if err != nil {
		return fmt.Errorf("count open ai jobs: %w", err)
	}
	if open > 0 {
		return errAIJobsOpen
	}
	if _, err := h.store.UserMarkErased(ctx, uid); err != nil {
		return fmt.Errorf("mark erased: %w", err)
	}
	h.log.InfoContext(ctx, "account erased", "user_id", uid, "videos", videos)
	return nil
}

func (h *AccountEraseHandler) deleteObjects(ctx context.Context, keys ...*string) error {
	for _, k := range keys {
		if k == nil || *k == "" {
			continue
		}
		if err := h.storage.Delete(ctx, *k); err != nil {
			return fmt.Errorf("delete object %s: %w", *k, err)
		}
	}
	return nil
}

// EraseAfter is how long after a deletion the reconciler assumes the
// account:erase task was lost and enqueues it again (its TaskID makes that
// a no-op while it is still queued or retrying).
const EraseAfter = 15 * time.Minute

// SessionRetention is how long a session's row is kept after its refresh
// token expired; then the reconciler deletes it.
const SessionRetention = 30 * 24 * time.Hour

// AccountsReconcileHandler runs accounts:reconcile (principle 4: nothing is
// lost between the database and the queue), and purges sessions that ended
// long ago.
type AccountsReconcileHandler struct {
	store *db.Store
	tasks *tasks.Client
	log   *slog.Logger
	now   func() time.Time
}

// NewAccountsReconcileHandler returns the handler.
func NewAccountsReconcileHandler(store *db.Store, tc *tasks.Client, logger *slog.Logger) *AccountsReconcileHandler {
	return &AccountsReconcileHandler{store: store, tasks: tc, log: logger, now: time.Now}
}

// ProcessTask implements asynq.Handler.
func (h *AccountsReconcileHandler) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	ids, err := h.store.UsersErasePending(ctx, db.UsersErasePendingParams{Before: ptr(h.now().Add(-EraseAfter)), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("list deleted accounts: %w", err)
	}
	for _, id := range ids {
		if err := h.tasks.Enqueue(ctx, tasks.NewAccountEraseTask(id)); err != nil {
			return err
		}
	}
	purged, err := h.store.SessionsPurge(ctx, db.SessionsPurgeParams{Before: h.now().Add(-SessionRetention), Lim: reconcileMax})
	if err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	if len(ids) > 0 || purged > 0 {
		h.log.InfoContext(ctx, "accounts reconciled", "erasures_enqueued", len(ids), "sessions_purged", purged)
	}
	return nil
}
