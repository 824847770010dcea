package db

import (
	"context"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// ReportFiling is one report: exactly one of UserID, VideoID and CommentID
// names its target.
type ReportFiling struct {
	ReporterID uuid.UUID
	UserID     *uuid.UUID
	VideoID    *uuid.UUID
	CommentID  *uuid.UUID
	ReportType string
	Reason     *string
}

// ReasonSelfReport refines "invalid" when a caller reports their own
// account, video or comment (B-24).
const ReasonSelfReport = "self_report"

func errSelfReport(what string) error {
	return &lokiz.Error{Code: lokiz.EINVALID, Reason: ReasonSelfReport, Message: "You cannot report " + what}
}

// FileReport files f when its target is one the reporter may see and is not
// their own: a user who is active and not blocked either way, a visible
// video, a comment they may see. created is false when the reporter
// already has an open report on the target: that report is returned and
// nothing changes (one open report per reporter and target, also under
// concurrency).
func (s *Store) FileReport(ctx context.Context, f ReportFiling) (r Report, created bool, err error) {
	n := 0
	for _, id := range []*uuid.UUID{f.UserID, f.VideoID, f.CommentID} {
		if id != nil {
			n++
		}
	}
	switch {
	case n == 0:
		return Report{}, false, lokiz.Errorf(lokiz.EINVALID, "Name what you report: reported_user_id, reported_video_id or reported_comment_id")
	case n > 1:
		return Report{}, false, lokiz.Errorf(lokiz.EINVALID, "Report one thing at a time")
	}
	me := f.ReporterID
	var target uuid.UUID
	err = s.InTx(ctx, func(q *Queries) error {
		switch {
		case f.UserID != nil:
			target = *f.UserID
			if target == me {
				return errSelfReport("your own account")
			}
			u, err := q.UserGetByID(ctx, target)
			if IsNotFound(err) || (err == nil && !u.IsActive) {
				return lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
			} else if err != nil {
				return err
			}
			blocked, err := q.UserBlockedEitherWay(ctx, UserBlockedEitherWayParams{A: me, B: target})
			if err != nil {
				return err
			} else if blocked {
				return lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
			}
		case f.VideoID != nil:
			target = *f.VideoID
			v, err := q.VideoViewTarget(ctx, VideoViewTargetParams{ID: target, ViewerID: &me})
			if IsNotFound(err) {
				return lokiz.Errorf(lokiz.ENOTFOUND, "Video not found")
			} else if err != nil {
				return err
			}
			if v.UserID == me {
				return errSelfReport("your own video")
			}
		default:
			target = *f.CommentID
			row, err := q.CommentForViewer(ctx, CommentForViewerParams{ID: target, ViewerID: me})
			if IsNotFound(err) {
				return lokiz.Errorf(lokiz.ENOTFOUND, "Comment not found")
			} else if err != nil {
				return err
			}
			if row.Comment.UserID == me {
				return errSelfReport("your own comment")
			}
		}
		var err error
		r, err = q.ReportCreate(ctx, ReportCreateParams{ID: NewID(), ReporterID: me, ReportedUserID: f.UserID,
			ReportedVideoID: f.VideoID, ReportedCommentID: f.CommentID, ReportType: f.ReportType, Reason: f.Reason})
		created = err == nil
		return err
	})
	if IsNotFound(err) {
		// An open report on this target exists (the insert did nothing):
		// answer it. Read after the transaction, so a concurrent filing that
		// made the insert wait is committed and seen.
		r, err = s.ReportOpenByTarget(ctx, ReportOpenByTargetParams{ReporterID: me, TargetID: target})
		return r, false, err
	}
	return r, created, err
}
