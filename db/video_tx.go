package db

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// syncHashtags makes the video's hashtags exactly tags (already extracted and
// normalized), adjusting use_count for what was added and removed, inside the
// caller's transaction. A hashtag counts the live (completed, not deleted)
// videos that carry it: callers pass nil tags for a video that stops being live.
func syncHashtags(ctx context.Context, q *Queries, videoID uuid.UUID, tags []string) error {
	names := slices.Clone(tags)
	slices.Sort(names) // a fixed lock order between concurrent syncs
	names = slices.Compact(names)
	keep := []uuid.UUID{}
	if len(names) > 0 {
		ids := make([]uuid.UUID, len(names))
		for i := range ids {
			ids[i] = NewID()
		}
		rows, err := q.HashtagUpsert(ctx, HashtagUpsertParams{IDs: ids, Names: names})
		if err != nil {
			return fmt.Errorf("upsert hashtags: %w", err)
		}
		for _, r := range rows {
			keep = append(keep, r.ID)
		}
	}
	removed, err := q.VideoHashtagsRemoveExcept(ctx, VideoHashtagsRemoveExceptParams{VideoID: videoID, Keep: keep})
	if err != nil {
		return fmt.Errorf("remove hashtags: %w", err)
	}
	added, err := q.VideoHashtagsAdd(ctx, VideoHashtagsAddParams{VideoID: videoID, HashtagIDs: keep})
	if err != nil {
		return fmt.Errorf("add hashtags: %w", err)
	}
	if len(removed) > 0 {
		if err := q.HashtagsAdjustUseCount(ctx, HashtagsAdjustUseCountParams{Delta: -1, IDs: removed}); err != nil {
			return fmt.Errorf("decrement hashtags: %w", err)
		}
	}
	if len(added) > 0 {
		if err := q.HashtagsAdjustUseCount(ctx, HashtagsAdjustUseCountParams{Delta: 1, IDs: added}); err != nil {
			return fmt.Errorf("increment hashtags: %w", err)
		}
	}
	return nil
}

// FinalizeVideo records a successful finalize and links the caption's
// hashtags, in one transaction. It returns not_found when the video is no
// longer processing (another delivery of the task finished it first).
func (s *Store) FinalizeVideo(ctx context.Context, p VideoFinalizeCompleteParams) (Video, error) {
	var v Video
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		if v, err = q.VideoFinalizeComplete(ctx, p); err != nil {
			return err
		}
		if v.DeletedAt != nil {
			return nil
		}
		return syncHashtags(ctx, q, v.ID, lokiz.ExtractHashtags(v.Caption))
	})
	return v, translate(err, "processing video")
}

// UpdateVideo applies an owner's edit and keeps hashtags right when the
// caption of a live video changes.
func (s *Store) UpdateVideo(ctx context.Context, p VideoUpdateParams) (Video, error) {
	var v Video
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		if v, err = q.VideoUpdate(ctx, p); err != nil {
			return err
		}
		if p.Caption != nil && v.Status == lokiz.VideoCompleted {
			return syncHashtags(ctx, q, v.ID, lokiz.ExtractHashtags(v.Caption))
		}
		return nil
	})
	return v, translate(err, "video")
}

// DeleteVideo soft-deletes an owner's video and releases its hashtags.
func (s *Store) DeleteVideo(ctx context.Context, id, userID uuid.UUID) (Video, error) {
	var v Video
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		if v, err = q.VideoSoftDelete(ctx, VideoSoftDeleteParams{ID: id, UserID: userID}); err != nil {
			return err
		}
		return syncHashtags(ctx, q, v.ID, nil)
	})
	return v, translate(err, "video")
}
