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

// The actions that tell someone write their notification's outbox row in
// their own transaction (migration 00032): the caller enqueues the delivery
// of the rows they return after the commit. A repeat (already liked,
// already following) and a self-action return no row.

// LikeVideo likes video (owned by owner) for user once and, in the same
// transaction when the like is new, owes owner its like notification.
func (s *Store) LikeVideo(ctx context.Context, user, video, owner uuid.UUID) (res LikeAddRow, notify []NotificationOutbox, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		notify = nil
		if res, err = q.LikeAdd(ctx, LikeAddParams{ID: NewID(), UserID: user, VideoID: video}); err != nil || !res.Created {
			return err
		}
		notify, err = appendOutbox(ctx, q, notify, NewNotification{Type: NotificationLike, RecipientID: owner, ActorID: &user, VideoID: &video})
		return err
	})
	if err != nil {
		return LikeAddRow{}, nil, translate(err, "like")
	}
	return res, notify, nil
}

// Follow makes follower follow following once and, in the same transaction
// when the follow is new, owes following its follow notification.
func (s *Store) Follow(ctx context.Context, follower, following uuid.UUID) (created bool, notify []NotificationOutbox, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		notify = nil
		if created, err = q.FollowAdd(ctx, FollowAddParams{ID: NewID(), FollowerID: follower, FollowingID: following}); err != nil || !created {
			return err
		}
		notify, err = appendOutbox(ctx, q, notify, NewNotification{Type: NotificationFollow, RecipientID: following, ActorID: &follower})
		return err
	})
	if err != nil {
		return false, nil, translate(err, "follow")
	}
	return created, notify, nil
}

// CreateComment writes p on its video (owned by owner) and, in the same
// transaction, owes owner its comment notification.
func (s *Store) CreateComment(ctx context.Context, p CommentCreateParams, owner uuid.UUID) (c CommentCreateRow, notify []NotificationOutbox, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		notify = nil
		if c, err = q.CommentCreate(ctx, p); err != nil {
			return err
		}
		notify, err = appendOutbox(ctx, q, notify, NewNotification{Type: NotificationComment, RecipientID: owner,
			ActorID: &c.UserID, VideoID: &c.VideoID, CommentID: &c.ID})
		return err
	})
	if err != nil {
		return CommentCreateRow{}, nil, translate(err, "comment")
	}
	return c, notify, nil
}

// LikeComment likes comment (by author, on video) for user once and, in the
// same transaction when the like is new, owes author its notification.
func (s *Store) LikeComment(ctx context.Context, user, comment, author, video uuid.UUID) (res CommentLikeAddRow, notify []NotificationOutbox, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		notify = nil
		if res, err = q.CommentLikeAdd(ctx, CommentLikeAddParams{ID: NewID(), UserID: user, CommentID: comment}); err != nil || !res.Created {
			return err
		}
		notify, err = appendOutbox(ctx, q, notify, NewNotification{Type: NotificationCommentLike, RecipientID: author,
			ActorID: &user, VideoID: &video, CommentID: &comment})
		return err
	})
	if err != nil {
		return CommentLikeAddRow{}, nil, translate(err, "comment like")
	}
	return res, notify, nil
}
