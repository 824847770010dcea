package api

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// The report review workflow (admins only): the queue, one report, a step
// along pending → reviewing → resolved | dismissed, and the removal and
// restore of a comment. The rules live in db (db/review_tx.go); these
// handlers parse, call once and answer.

// reviewCursor is a position in the review queue: the queue's snapshot
// time and the sort key of the last item (see db ReportsForReview).
type reviewCursor struct {
	AsOf    time.Time
	Open    int64
	FirstAt time.Time
	Target  uuid.UUID
	At      time.Time
	ID      uuid.UUID
}

func (c reviewCursor) encode() string {
	parts := []string{"q", c.AsOf.UTC().Format(time.RFC3339Nano), strconv.FormatInt(c.Open, 10),
		c.FirstAt.UTC().Format(time.RFC3339Nano), c.Target.String(), c.At.UTC().Format(time.RFC3339Nano), c.ID.String()}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
}

func decodeReviewCursor(s string) (reviewCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return reviewCursor{}, false
	}
	p := strings.Split(string(raw), "|")
	if len(p) != 7 || p[0] != "q" {
		return reviewCursor{}, false
	}
	var c reviewCursor
	var errs [6]error
	c.AsOf, errs[0] = time.Parse(time.RFC3339Nano, p[1])
	c.Open, errs[1] = strconv.ParseInt(p[2], 10, 64)
	c.FirstAt, errs[2] = time.Parse(time.RFC3339Nano, p[3])
	c.Target, errs[3] = uuid.Parse(p[4])
	c.At, errs[4] = time.Parse(time.RFC3339Nano, p[5])
	c.ID, errs[5] = uuid.Parse(p[6])
	for _, err := range errs {
		if err != nil {
			return reviewCursor{}, false
		}
	}
	return c, true
}

type reportParty struct {
	ID       uuid.UUID `json:"id"`
	Username *string   `json:"username"`
}

type reportedUser struct {
	ID       uuid.UUID `json:"id"`
	Username *string   `json:"username"`
	Status   *string   `json:"status"`
}

type reportedVideo struct {
	ID      uuid.UUID    `json:"id"`
	Caption *string      `json:"caption"`
	Status  *string      `json:"status"`
	Owner   *reportParty `json:"owner"`
}

type reportedComment struct {
	ID      *uuid.UUID   `json:"id"`
	Content *string      `json:"content"`
	Author  *reportParty `json:"author"`
	State   *string      `json:"state"`
	VideoID *uuid.UUID   `json:"video_id"`
}

// adminReportResponse is a report as an admin reads it: the report, its
// reporter, the reported content as it is now, and how many open reports
// its target has.
type adminReportResponse struct {
	ID                   uuid.UUID        `json:"id"`
	Status               string           `json:"status"`
	ReportType           string           `json:"report_type"`
	Reason               *string          `json:"reason"`
	Reporter             reportParty      `json:"reporter"`
	TargetKind           string           `json:"target_kind"`
	TargetID             uuid.UUID        `json:"target_id"`
	User                 *reportedUser    `json:"user"`
	Video                *reportedVideo   `json:"video"`
	Comment              *reportedComment `json:"comment"`
	OpenReportsForTarget int64            `json:"open_reports_for_target"`
	ReviewerID           *uuid.UUID       `json:"reviewer_id"`
	ResolutionAction     *string          `json:"resolution_action"`
	ResolutionNote       *string          `json:"resolution_note"`
	ReviewedAt           *time.Time       `json:"reviewed_at"`
	ResolvedAt           *time.Time       `json:"resolved_at"`
	CreatedAt            time.Time        `json:"created_at"`
	UpdatedAt            time.Time        `json:"updated_at"`
}

func toAdminReport(r db.ReportReview, open int64) adminReportResponse {
	username := r.ReporterUsername
	out := adminReportResponse{ID: r.ID, Status: r.Status, ReportType: r.ReportType, Reason: r.Reason,
		Reporter: reportParty{ID: r.ReporterID, Username: &username}, TargetKind: r.TargetKind, TargetID: r.TargetID,
		OpenReportsForTarget: open, ReviewerID: r.ReviewerID, ResolutionAction: r.ResolutionAction,
		ResolutionNote: r.ResolutionNote, ReviewedAt: utc(r.ReviewedAt), ResolvedAt: utc(r.ResolvedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	switch r.TargetKind {
	case db.TargetUser:
		out.User = &reportedUser{ID: r.TargetID, Username: r.UserUsername, Status: r.UserStatus}
	case db.TargetVideo:
		out.Video = &reportedVideo{ID: r.TargetID, Caption: r.VideoCaption, Status: r.VideoStatus}
		if r.VideoOwnerID != nil {
			out.Video.Owner = &reportParty{ID: *r.VideoOwnerID, Username: r.VideoOwnerUsername}
		}
	default:
		out.Comment = &reportedComment{ID: r.ReportedCommentID, Content: r.ReportedCommentContent, State: r.CommentState,
			VideoID: r.CommentVideoID}
		if r.ReportedCommentAuthorID != nil {
			out.Comment.Author = &reportParty{ID: *r.ReportedCommentAuthorID, Username: r.CommentAuthorUsername}
		}
	}
	return out
}

// listReviewReports answers GET /v1/admin/reports and GET /v1/reports/
// (admins only): the review queue, worst first (targets with the most
// open reports, then the oldest), filtered by status, report_type, target
// and a [since, until) range of filing times, in cursor pages over a
// snapshot of the queue taken by the first page.
func (s *Server) listReviewReports(c *gin.Context) {
	ctx := c.Request.Context()
	size, errs := parsePageSize(c, maxPageSize)
	if size == 0 {
		size = defaultPageSize
	}
	params := db.ReportsForReviewParams{Lim: int32(size + 1)}
	if raw := c.Query("cursor"); raw != "" {
		cur, ok := decodeReviewCursor(raw)
		if !ok {
			errs = append(errs, fieldErr("is not a cursor this API returned", "query", "cursor"))
		} else {
			params.AsOf, params.CursorN, params.CursorFirst = &cur.AsOf, &cur.Open, &cur.FirstAt
			params.CursorTarget, params.CursorAt, params.CursorID = &cur.Target, &cur.At, &cur.ID
		}
	}
	params.Status = enumParam(c, "status", db.ReportStatuses, &errs)
	params.ReportType = enumParam(c, "report_type", lokiz.ReportTypes, &errs)
	params.TargetKind = enumParam(c, "target", db.ReportTargetKinds, &errs)
	params.Since, params.Until = timeParam(c, "since", &errs), timeParam(c, "until", &errs)
	if params.Since != nil && params.Until != nil && !params.Until.After(*params.Since) {
		errs = append(errs, fieldErr("must be after since", "query", "until"))
	}
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	keys, err := s.store.ReportsForReview(ctx, params)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var (
		next *string
		more bool
	)
	if len(keys) > size {
		keys, more = keys[:size], true
	}
	ids := make([]uuid.UUID, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	views, err := s.store.ReportReviewsByIDs(ctx, ids)
	if err != nil {
		s.writeError(c, err)
		return
	}
	byID := make(map[uuid.UUID]db.ReportReview, len(views))
	for _, v := range views {
		byID[v.ID] = v
	}
	out := make([]adminReportResponse, 0, len(keys))
	for _, k := range keys {
		if v, ok := byID[k.ID]; ok { // gone between the two reads: left out
			out = append(out, toAdminReport(v, k.OpenN))
		}
	}
	var asOf *time.Time
	if len(keys) > 0 {
		t := keys[0].AsOf.UTC()
		asOf = &t
		if more {
			last := keys[len(keys)-1]
			enc := reviewCursor{AsOf: last.AsOf, Open: last.OpenN, FirstAt: last.FirstAt, Target: last.TargetID,
				At: last.CreatedAt, ID: last.ID}.encode()
			next = &enc
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"reports": out, "next_cursor": next, "has_more": more, "page_size": size, "as_of": asOf})
}

// getReviewReport answers GET /v1/admin/reports/{id} (admins only), with
// the target's open reports counted now.
func (s *Server) getReviewReport(c *gin.Context) {
	id, err := pathUUID(c, "id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.answerReport(c, id, http.StatusOK, nil)
}

func (s *Server) answerReport(c *gin.Context, id uuid.UUID, status int, closed []uuid.UUID) {
	row, err := s.store.ReportReviewByID(c.Request.Context(), id)
	if db.IsNotFound(err) {
		s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Report not found"))
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	r := toAdminReport(row.ReportReview, row.OpenForTarget)
	if closed == nil {
		c.JSON(status, r)
		return
	}
	c.JSON(status, gin.H{"report": r, "closed_report_ids": closed})
}

// reportDecisionRequest is the body of PATCH /v1/admin/reports/{id}.
type reportDecisionRequest struct {
	Status   string     `json:"status"`
	Action   *string    `json:"action"`
	Reason   string     `json:"reason"`
	BanUntil *time.Time `json:"ban_until"`
}

var reportSteps = []string{db.ReportReviewing, db.ReportResolved, db.ReportDismissed}

func (r *reportDecisionRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if !slices.Contains(reportSteps, r.Status) {
		errs = append(errs, fieldErr(oneOf(reportSteps), "body", "status"))
	}
	if r.Status == db.ReportReviewing {
		r.Reason = strings.TrimSpace(r.Reason)
		if len([]rune(r.Reason)) > maxReasonLen {
			errs = append(errs, fieldErr("must be at most 1000 characters", "body", "reason"))
		}
		if r.Action != nil {
			errs = append(errs, fieldErr("goes with resolved only", "body", "action"))
		}
	} else {
		errs = append(errs, validateReason(&r.Reason)...)
	}
	if r.Action != nil && !slices.Contains(db.ReportActions, *r.Action) {
		errs = append(errs, fieldErr(oneOf(db.ReportActions), "body", "action"))
	}
	if r.BanUntil != nil {
		switch {
		case r.Action == nil || *r.Action != db.ActionBanUser:
			errs = append(errs, fieldErr("goes with the action ban_user only", "body", "ban_until"))
		case !r.BanUntil.After(time.Now()):
			errs = append(errs, fieldErr("must be in the future", "body", "ban_until"))
		}
	}
	return errs
}

// decideReport answers PATCH /v1/admin/reports/{id} (admins only): a step
// along the workflow (db.Store.DecideReport). Once committed, the stored
// notifications are pushed and a ban's revocation is published, as the
// ban and removal routes do.
func (s *Server) decideReport(c *gin.Context) {
	id, err := pathUUID(c, "id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req reportDecisionRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	d := db.ReportDecision{ReportID: id, Status: req.Status, Note: req.Reason, BanUntil: req.BanUntil}
	if req.Action != nil {
		d.Action = *req.Action
	}
	ctx := c.Request.Context()
	out, err := s.store.DecideReport(ctx, actor(c), d)
	if err != nil {
		s.writeError(c, err)
		return
	}
	for _, p := range out.Pushes {
		s.pushNotification(c, p.UserID, p.NotificationID)
	}
	if out.Banned != nil {
		s.publishRevoked(ctx, *out.Banned, out.Revoked, db.RevokeBan)
	}
	// The removed or banned media leave the bucket, as after the admin
	// routes' own removal and ban.
	if out.RemovedVideo != nil {
		s.syncVideoMedia(ctx, *out.RemovedVideo)
	}
	if out.BannedUser != nil {
		s.syncUserMedia(ctx, *out.BannedUser)
	}
	closed := make([]uuid.UUID, len(out.Closed))
	for i, r := range out.Closed {
		closed[i] = r.ID
	}
	s.answerReport(c, id, http.StatusOK, closed)
}

type commentModerationResponse struct {
	ID            uuid.UUID  `json:"id"`
	VideoID       uuid.UUID  `json:"video_id"`
	RemovedAt     *time.Time `json:"removed_at"`
	RemovedReason *string    `json:"removed_reason"`
}

// removeComment answers PATCH /v1/admin/comments/{id}/remove (admins
// only); the author's notification is pushed once the removal is
// committed.
func (s *Server) removeComment(c *gin.Context) {
	s.moderateComment(c, func(a db.Actor, id uuid.UUID, reason string) (db.Comment, error) {
		cm, notes, err := s.store.AdminRemoveComment(c.Request.Context(), a, id, reason)
		for _, p := range notes {
			s.pushNotification(c, p.UserID, p.NotificationID)
		}
		return cm, err
	})
}

// restoreComment answers PATCH /v1/admin/comments/{id}/restore (admins only).
func (s *Server) restoreComment(c *gin.Context) {
	s.moderateComment(c, func(a db.Actor, id uuid.UUID, reason string) (db.Comment, error) {
		return s.store.AdminRestoreComment(c.Request.Context(), a, id, reason)
	})
}

func (s *Server) moderateComment(c *gin.Context, act func(db.Actor, uuid.UUID, string) (db.Comment, error)) {
	id, err := pathUUID(c, "id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req reasonRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	cm, err := act(actor(c), id, req.Reason)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, commentModerationResponse{ID: cm.ID, VideoID: cm.VideoID, RemovedAt: utc(cm.RemovedAt), RemovedReason: cm.RemovedReason})
}
