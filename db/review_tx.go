package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// Report states (reports.status): pending → reviewing → resolved |
// dismissed; pending may go straight to resolved or dismissed, and the two
// last are final (00031_report_workflow.sql).
const (
	ReportPending   = "pending"
	ReportReviewing = "reviewing"
	ReportResolved  = "resolved"
	ReportDismissed = "dismissed"
)

// ReportStatuses are the states of a report.
var ReportStatuses = []string{ReportPending, ReportReviewing, ReportResolved, ReportDismissed}

// Resolution actions (reports.resolution_action).
const (
	ActionNone          = "none"
	ActionRemoveVideo   = "remove_video"
	ActionRemoveComment = "remove_comment"
	ActionBanUser       = "ban_user"
)

// ReportActions are the actions a resolution may take.
var ReportActions = []string{ActionNone, ActionRemoveVideo, ActionRemoveComment, ActionBanUser}

// Report target kinds (reports.target_kind).
const (
	TargetUser    = "user"
	TargetVideo   = "video"
	TargetComment = "comment"
)

// ReportTargetKinds are the kinds of thing a report names.
var ReportTargetKinds = []string{TargetUser, TargetVideo, TargetComment}

// ReportOpen reports whether a report in status still waits for a decision.
func ReportOpen(status string) bool { return status == ReportPending || status == ReportReviewing }

// Errors of the review workflow, each with a reason clients may branch on.
var (
	ErrReportClosed = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "report_closed",
		Message: "The report is already resolved or dismissed; that decision is final"}
	ErrReportUnderReview = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "already_reviewing",
		Message: "The report is already under review"}
	ErrTargetGone = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "target_gone",
		Message: "The reported content no longer exists; resolve with the action none"}
	ErrCommentAlreadyRemoved = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "already_removed", Message: "The comment is already removed"}
	ErrCommentNotRemoved     = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "not_removed", Message: "The comment is not removed"}
)

func errActionMismatch(action, kind string) error {
	return &lokiz.Error{Code: lokiz.EINVALID, Reason: "action_not_applicable",
		Message: fmt.Sprintf("The action %s does not apply to a report of a %s", action, kind)}
}

// Push names a notification stored by a committed transaction, for the
// push to its recipient's open sockets.
type Push struct {
	UserID         uuid.UUID
	NotificationID uuid.UUID
}

func pushOf(user uuid.UUID, note *uuid.UUID) []Push {
	if note == nil {
		return nil
	}
	return []Push{{UserID: user, NotificationID: *note}}
}

type commentModState struct {
	RemovedAt     *time.Time `json:"removed_at"`
	RemovedReason *string    `json:"removed_reason"`
}

// AdminRemoveComment removes a comment: removed_at and the reason (it
// leaves every comment list, batch read and count at once; the counters
// follow by trigger), the author's system notification carrying the
// reason, and the audit row, in one transaction. It returns the comment
// and the notification to push. A deleted or unknown comment is not_found.
func (s *Store) AdminRemoveComment(ctx context.Context, a Actor, id uuid.UUID, reason string) (Comment, []Push, error) {
	var (
		c     Comment
		notes []Push
	)
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		c, notes, err = moderateCommentTx(ctx, q, a, id, reason, true)
		return err
	})
	if err != nil {
		return Comment{}, nil, fmt.Errorf("remove comment: %w", translate(err, "comment"))
	}
	return c, notes, nil
}

// AdminRestoreComment reverses a removal, with the audit row, in one
// transaction: the comment is listed and counted again.
func (s *Store) AdminRestoreComment(ctx context.Context, a Actor, id uuid.UUID, reason string) (Comment, error) {
	var c Comment
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		c, _, err = moderateCommentTx(ctx, q, a, id, reason, false)
		return err
	})
	if err != nil {
		return Comment{}, fmt.Errorf("restore comment: %w", translate(err, "comment"))
	}
	return c, nil
}

func moderateCommentTx(ctx context.Context, q *Queries, a Actor, id uuid.UUID, reason string, remove bool) (Comment, []Push, error) {
	row, err := q.CommentWithVideoOwner(ctx, id)
	if err != nil {
		return Comment{}, nil, err
	}
	// The author's FOR SHARE before the comment's lock: the order of a ban
	// (the user's row, then what its trigger locks), so the two queue
	// rather than deadlock; the counters' trigger asks the same.
	if _, err := q.UserCounts(ctx, row.Comment.UserID); err != nil {
		return Comment{}, nil, err
	}
	c, err := q.CommentGetForModeration(ctx, id)
	if err != nil {
		return Comment{}, nil, err
	}
	before := commentModState{RemovedAt: c.RemovedAt, RemovedReason: c.RemovedReason}
	params := CommentSetRemovedParams{ID: c.ID}
	action := AuditCommentRestore
	switch {
	case remove && c.RemovedAt != nil:
		return Comment{}, nil, ErrCommentAlreadyRemoved
	case !remove && c.RemovedAt == nil:
		return Comment{}, nil, ErrCommentNotRemoved
	case remove:
		now := time.Now()
		params.RemovedAt, params.RemovedReason, action = &now, &reason, AuditCommentRemove
	}
	out, err := q.CommentSetRemoved(ctx, params)
	if err != nil {
		return Comment{}, nil, err
	}
	var notes []Push
	if remove {
		note, err := insertSystemNote(ctx, q, c.UserID, &c.VideoID, "Your comment was removed by a moderator: "+reason)
		if err != nil {
			return Comment{}, nil, err
		}
		notes = pushOf(c.UserID, note)
	}
	return out, notes, audit(ctx, q, a, AuditEntry{
		Action: action, TargetType: AuditTargetComment, TargetID: c.ID, Reason: reason,
		Before: before, After: commentModState{RemovedAt: out.RemovedAt, RemovedReason: out.RemovedReason},
	})
}

// ReportDecision is an admin's step on a report: Status reviewing, or a
// decision, resolved (Action: none, remove_video, remove_comment or
// ban_user, "" meaning none) or dismissed (Action none or ""), with Note
// (required for a decision; it goes to the audit log and, for a removal
// or a ban, to the content's author, never to the reporters).
type ReportDecision struct {
	ReportID uuid.UUID
	Status   string
	Action   string
	Note     string
	BanUntil *time.Time // ban_user only: nil bans without end
}

// ReportDecided is what a decision changed.
type ReportDecided struct {
	Report Report   // the report named, after the step
	Closed []Report // every report the decision closed, the named one first
	Pushes []Push   // notifications stored, to push once committed
	// Banned is the user a ban_user resolution banned, with the sessions
	// it ended (for the revocation event).
	Banned  *uuid.UUID
	Revoked []uuid.UUID
	// BannedUser and RemovedVideo are the rows a ban_user or remove_video
	// resolution changed, as committed (for the media sync to follow).
	BannedUser   *User
	RemovedVideo *Video
}

// auditReport is a report's state as the audit log records it.
type auditReport struct {
	Status string  `json:"status"`
	Action *string `json:"resolution_action,omitempty"`
}

// DecideReport takes a report a step along its workflow in one
// transaction, with an audit row per change:
//   - reviewing: a pending report is taken by the admin (reviewer_id,
//     reviewed_at); one already under review is 409 already_reviewing;
//   - resolved or dismissed: the decision applies to the report's target,
//     so every open report of that target is closed with the same status,
//     action and note, and each reporter gets a system notification of the
//     outcome that names neither the reported party nor the action. A
//     resolution's action runs in the same transaction through the code of
//     the admin routes (the video's removal, the comment's removal, the
//     ban of the reported user or of the author of the reported video or
//     comment), with its own audit row and notification.
//
// A resolved or dismissed report is final: 409 report_closed. An action
// that does not fit the target is invalid (action_not_applicable). Two
// admins deciding at once queue on the reports' row locks: the second sees
// the first's decision and gets 409.
func (s *Store) DecideReport(ctx context.Context, a Actor, d ReportDecision) (ReportDecided, error) {
	if d.Action == "" {
		d.Action = ActionNone
	}
	var out ReportDecided
	err := s.InTx(ctx, func(q *Queries) error {
		out = ReportDecided{}
		r, err := q.ReportByID(ctx, d.ReportID)
		if err != nil {
			return err
		}
		// The target's open reports and this one, locked in id order.
		locked, err := q.ReportsLockOpenOfTarget(ctx, ReportsLockOpenOfTargetParams{TargetID: r.TargetID, ReportID: r.ID})
		if err != nil {
			return err
		}
		var others []Report
		for _, l := range locked {
			if l.ID == r.ID {
				r = l
			} else {
				others = append(others, l)
			}
		}
		if !ReportOpen(r.Status) {
			return ErrReportClosed
		}
		if d.Status == ReportReviewing {
			if r.Status == ReportReviewing {
				return ErrReportUnderReview
			}
			out.Report, err = q.ReportSetReviewing(ctx, ReportSetReviewingParams{ID: r.ID, ReviewerID: a.AdminID})
			if err != nil {
				return err
			}
			return audit(ctx, q, a, AuditEntry{Action: AuditReportReview, TargetType: AuditTargetReport, TargetID: r.ID, Reason: d.Note,
				Before: auditReport{Status: r.Status}, After: auditReport{Status: ReportReviewing}})
		}
		if err := takeAction(ctx, q, a, r, d, &out); err != nil {
			return err
		}
		for _, o := range append([]Report{r}, others...) {
			closed, err := closeReport(ctx, q, a, o, d)
			if err != nil {
				return err
			}
			out.Closed = append(out.Closed, closed)
			note, err := insertSystemNote(ctx, q, o.ReporterID, nil, reportOutcomeMessage(o, d))
			if err != nil {
				return err
			}
			out.Pushes = append(out.Pushes, pushOf(o.ReporterID, note)...)
		}
		out.Report = out.Closed[0]
		return nil
	})
	if err != nil {
		return ReportDecided{}, fmt.Errorf("decide report: %w", translate(err, "report"))
	}
	return out, nil
}

// takeAction runs a resolution's action on r's target.
func takeAction(ctx context.Context, q *Queries, a Actor, r Report, d ReportDecision, out *ReportDecided) error {
	if d.Status == ReportDismissed && d.Action != ActionNone {
		return &lokiz.Error{Code: lokiz.EINVALID, Reason: "action_not_applicable", Message: "A dismissal takes no action"}
	}
	if d.BanUntil != nil && d.Action != ActionBanUser {
		return &lokiz.Error{Code: lokiz.EINVALID, Reason: "action_not_applicable", Message: "ban_until goes with the action ban_user"}
	}
	switch d.Action {
	case ActionNone:
		return nil
	case ActionRemoveVideo:
		if r.TargetKind != TargetVideo {
			return errActionMismatch(d.Action, r.TargetKind)
		}
		v, note, err := moderateVideoTx(ctx, q, a, *r.ReportedVideoID, d.Note, true)
		if IsNotFound(err) { // deleted by its owner meanwhile
			return ErrTargetGone
		} else if err != nil {
			return err
		}
		out.Pushes = append(out.Pushes, pushOf(v.UserID, note)...)
		out.RemovedVideo = &v
		return nil
	case ActionRemoveComment:
		if r.TargetKind != TargetComment {
			return errActionMismatch(d.Action, r.TargetKind)
		}
		if r.ReportedCommentID == nil {
			return ErrTargetGone
		}
		_, notes, err := moderateCommentTx(ctx, q, a, *r.ReportedCommentID, d.Note, true)
		if IsNotFound(err) {
			return ErrTargetGone
		} else if err != nil {
			return err
		}
		out.Pushes = append(out.Pushes, notes...)
		return nil
	case ActionBanUser:
		var user *uuid.UUID
		switch r.TargetKind {
		case TargetUser:
			user = r.ReportedUserID
		case TargetVideo:
			v, err := q.VideoGetByID(ctx, *r.ReportedVideoID)
			if err != nil {
				return err
			}
			user = &v.UserID
		default:
			user = r.ReportedCommentAuthorID // the snapshot: also once the comment is deleted
		}
		if user == nil {
			return ErrTargetGone
		}
		u, revoked, err := banUserTx(ctx, q, a, BanParams{UserID: *user, Reason: d.Note, Until: d.BanUntil})
		if err != nil {
			return err
		}
		out.Banned, out.Revoked, out.BannedUser = &u.ID, revoked, &u
		return nil
	default:
		return lokiz.Errorf(lokiz.EINVALID, "unknown action %q", d.Action)
	}
}

func closeReport(ctx context.Context, q *Queries, a Actor, r Report, d ReportDecision) (Report, error) {
	action, note := d.Action, d.Note
	closed, err := q.ReportClose(ctx, ReportCloseParams{ID: r.ID, Status: d.Status, Action: &action, Note: &note, ReviewerID: a.AdminID})
	if err != nil {
		return Report{}, err
	}
	auditAction := AuditReportResolve
	if d.Status == ReportDismissed {
		auditAction = AuditReportDismiss
	}
	return closed, audit(ctx, q, a, AuditEntry{Action: auditAction, TargetType: AuditTargetReport, TargetID: r.ID,
		Reason: d.Note, Before: auditReport{Status: r.Status}, After: auditReport{Status: d.Status, Action: &action}})
}

// reportOutcomeMessage is what a reporter is told of the decision on their
// report: the report by its type and day, and whether action was taken.
// It never names the reported party, the action or the moderator's note.
func reportOutcomeMessage(r Report, d ReportDecision) string {
	head := fmt.Sprintf("Thanks for your report (%s, %s). ", r.ReportType, r.CreatedAt.UTC().Format("2 January 2006"))
	switch {
	case d.Status == ReportDismissed:
		return head + "We reviewed it and found no violation."
	case d.Action == ActionNone:
		return head + "We reviewed it; no further action was needed."
	default:
		return head + "We reviewed it and took action."
	}
}
