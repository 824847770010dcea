package api

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

type reportRequest struct {
	ReportedUserID    *string `json:"reported_user_id"`
	ReportedVideoID   *string `json:"reported_video_id"`
	ReportedCommentID *string `json:"reported_comment_id"`
	ReportType        string  `json:"report_type"`
	Reason            *string `json:"reason" text:"multiline"`
	user, video, cmt  *uuid.UUID
}

func optionalUUID(raw *string, field string, errs *[]lokiz.FieldError) *uuid.UUID {
	if raw == nil || *raw == "" {
		return nil
	}
	id, err := uuid.Parse(*raw)
	if err != nil {
		*errs = append(*errs, fieldErr("must be a UUID", "body", field))
		return nil
	}
	return &id
}

func (r *reportRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	r.user = optionalUUID(r.ReportedUserID, "reported_user_id", &errs)
	r.video = optionalUUID(r.ReportedVideoID, "reported_video_id", &errs)
	r.cmt = optionalUUID(r.ReportedCommentID, "reported_comment_id", &errs)
	if !slices.Contains(lokiz.ReportTypes, r.ReportType) {
		errs = append(errs, fieldErr(oneOf(lokiz.ReportTypes), "body", "report_type"))
	}
	if r.Reason != nil {
		*r.Reason = strings.TrimSpace(*r.Reason)
		if utf8.RuneCountInString(*r.Reason) > 1000 {
			errs = append(errs, fieldErr("must be at most 1000 characters long", "body", "reason"))
		}
		if *r.Reason == "" {
			r.Reason = nil
		}
	}
	return errs
}

type reportResponse struct {
	ID                uuid.UUID  `json:"id"`
	ReporterID        uuid.UUID  `json:"reporter_id"`
	ReportedUserID    *uuid.UUID `json:"reported_user_id"`
	ReportedVideoID   *uuid.UUID `json:"reported_video_id"`
	ReportedCommentID *uuid.UUID `json:"reported_comment_id"`
	ReportType        string     `json:"report_type"`
	Reason            *string    `json:"reason"`
	Status            string     `json:"status"`
	// The reported comment's text and author when the report was filed;
	// they stay when the comment is deleted (reported_comment_id is then null).
	ReportedCommentContent  *string    `json:"reported_comment_content"`
	ReportedCommentAuthorID *uuid.UUID `json:"reported_comment_author_id"`
	// Outcome is what the reporter may know of a decision: action_taken,
	// no_action or no_violation (null while open); never the action itself
	// nor the moderator's note.
	Outcome    *string    `json:"outcome"`
	ResolvedAt *time.Time `json:"resolved_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// reportOutcome is a decided report's outcome as its reporter sees it.
func reportOutcome(r db.Report) *string {
	var o string
	switch {
	case r.Status == db.ReportDismissed:
		o = "no_violation"
	case r.Status != db.ReportResolved:
		return nil
	case r.ResolutionAction == nil || *r.ResolutionAction == db.ActionNone:
		o = "no_action"
	default:
		o = "action_taken"
	}
	return &o
}

func toReportResponse(r db.Report) reportResponse {
	return reportResponse{ID: r.ID, ReporterID: r.ReporterID, ReportedUserID: r.ReportedUserID, ReportedVideoID: r.ReportedVideoID,
		ReportedCommentID: r.ReportedCommentID, ReportType: r.ReportType, Reason: r.Reason, Status: r.Status,
		ReportedCommentContent: r.ReportedCommentContent, ReportedCommentAuthorID: r.ReportedCommentAuthorID,
		Outcome: reportOutcome(r), ResolvedAt: utc(r.ResolvedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// reportVideo is POST /v1/videos/{video_id}/report: the body names only
// the type and reason.
func (s *Server) reportVideo(c *gin.Context) {
	var req reportRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	req.user, req.cmt, req.video = nil, nil, &id
	s.fileReport(c, req)
}

// report is POST /v1/moderation/report: exactly one of user, video or
// comment.
func (s *Server) report(c *gin.Context) {
	var req reportRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	s.fileReport(c, req)
}

// fileReport files the report (db.Store.FileReport checks the target is
// one the caller may see): 201, or 200 with the caller's open report on the
// same target.
func (s *Server) fileReport(c *gin.Context, req reportRequest) {
	r, created, err := s.store.FileReport(c.Request.Context(), db.ReportFiling{
		ReporterID: mustUser(c).ID, UserID: req.user, VideoID: req.video, CommentID: req.cmt,
		ReportType: req.ReportType, Reason: req.Reason,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, toReportResponse(r))
}

// listMyReports is the caller's own reports, newest first.
func (s *Server) listMyReports(c *gin.Context) {
	ctx := c.Request.Context()
	limit, err := limitParam(c, 50)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	rows, err := s.store.ReportsByReporter(ctx, db.ReportsByReporterParams{ReporterID: me, Lim: int32(limit)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	total, err := s.store.ReportsCountByReporter(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]reportResponse, len(rows))
	for i, r := range rows {
		out[i] = toReportResponse(r)
	}
	c.JSON(http.StatusOK, gin.H{"reports": out, "total": total})
}
