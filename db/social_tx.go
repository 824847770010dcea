package db

import (
	"context"

	"github.com/google/uuid"
)

// BlockUser records that blocker blocks blocked and ends the follows between
// them in both directions, in one transaction (CONTRACT.md §2). Blocking
// twice changes nothing; created says whether this call made the block.
func (s *Store) BlockUser(ctx context.Context, blocker, blocked uuid.UUID) (b Block, created bool, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		if created, err = q.BlockAdd(ctx, BlockAddParams{ID: NewID(), BlockerID: blocker, BlockedID: blocked}); err != nil {
			return err
		}
		if _, err = q.FollowsRemoveBetween(ctx, FollowsRemoveBetweenParams{A: blocker, B: blocked}); err != nil {
			return err
		}
		b, err = q.BlockGet(ctx, BlockGetParams{BlockerID: blocker, BlockedID: blocked})
		return err
	})
	return b, created, translate(err, "block")
}

// UnlikeVideo removes user's like of video and, in the same transaction,
// its actor in the like notification the video's owner got (a group
// counts down, or goes when it was the only one), so an unlike never leaves
// a stale "liked your video" behind. Unliking twice changes nothing.
func (s *Store) UnlikeVideo(ctx context.Context, user, video, owner uuid.UUID) (res LikeRemoveRow, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		if res, err = q.LikeRemove(ctx, LikeRemoveParams{UserID: user, VideoID: video}); err != nil || !res.Removed {
			return err
		}
		_, err = deleteForFact(ctx, q, NotificationLike, user, owner, &video, nil)
		return err
	})
	return res, translate(err, "like")
}

// Unfollow ends follower's follow of following and, in the same
// transaction, the follow notification it gave; removed says whether there
// was a follow to end.
func (s *Store) Unfollow(ctx context.Context, follower, following uuid.UUID) (removed bool, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		n, err := q.FollowRemove(ctx, FollowRemoveParams{FollowerID: follower, FollowingID: following})
		if err != nil || n == 0 {
			return err
		}
		removed = true
		_, err = deleteForFact(ctx, q, NotificationFollow, follower, following, nil, nil)
		return err
	})
	return removed, translate(err, "follow")
}

// UnlikeComment removes user's like of a comment (by author, on video) and,
// in the same transaction, the notification it gave the comment's author.
func (s *Store) UnlikeComment(ctx context.Context, user, comment, author, video uuid.UUID) (res CommentLikeRemoveRow, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		if res, err = q.CommentLikeRemove(ctx, CommentLikeRemoveParams{UserID: user, CommentID: comment}); err != nil || !res.Removed {
			return err
		}
		_, err = deleteForFact(ctx, q, NotificationCommentLike, user, author, &video, &comment)
		return err
	})
	return res, translate(err, "comment like")
}
