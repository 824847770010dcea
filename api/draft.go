package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// maxDraftState is the largest editing state a draft keeps (CONTRACT.md §3).
const maxDraftState = 256 << 10

type draftRequest struct {
	Title  string          `json:"title"`
	State  json.RawMessage `json:"state"`
	JobIDs []string        `json:"job_ids"`
	Assets []string        `json:"assets"`
	// UpdatedAt is the version a save is based on (PUT only).
	UpdatedAt *time.Time `json:"updated_at"`
	jobIDs    []uuid.UUID
}

func (r *draftRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	r.Title = strings.TrimSpace(r.Title)
	if msg := lokiz.ValidateTitle(r.Title); msg != "" {
		errs = append(errs, fieldErr(msg, "body", "title"))
	}
	if len(r.State) == 0 || string(r.State) == "null" {
		r.State = json.RawMessage(`{}`)
	}
	if len(r.State) > maxDraftState {
		errs = append(errs, fieldErr("must be at most 256 KiB of JSON", "body", "state"))
	} else if r.State[0] != '{' {
		errs = append(errs, fieldErr("must be a JSON object", "body", "state"))
	}
	if len(r.JobIDs) > 50 {
		errs = append(errs, fieldErr("must hold at most 50 ids", "body", "job_ids"))
	} else {
		var idErrs []lokiz.FieldError
		r.jobIDs, idErrs = parseUUIDs(r.JobIDs, "job_ids")
		errs = append(errs, idErrs...)
	}
	if len(r.Assets) > 50 {
		errs = append(errs, fieldErr("must hold at most 50 assets", "body", "assets"))
	}
	for i, a := range r.Assets {
		if a == "" || utf8.RuneCountInString(a) > 500 {
			errs = append(errs, fieldErr("must be an object key or URL of at most 500 characters", "body", "assets", i))
		}
	}
	if r.Assets == nil {
		r.Assets = []string{}
	}
	return errs
}

type draftResponse struct {
	ID        uuid.UUID       `json:"id"`
	Title     string          `json:"title"`
	State     json.RawMessage `json:"state"`
	JobIDs    []uuid.UUID     `json:"job_ids"`
	Assets    []string        `json:"assets"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func toDraftResponse(d db.Draft) draftResponse {
	return draftResponse{ID: d.ID, Title: d.Title, State: d.State, JobIDs: d.JobIDs, Assets: d.Assets,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

var errDraftNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "Draft not found")

func (s *Server) createDraft(c *gin.Context) {
	var req draftRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	d, err := s.store.DraftCreate(c.Request.Context(), db.DraftCreateParams{ID: db.NewID(), UserID: mustUser(c).ID,
		Title: req.Title, State: req.State, JobIDs: req.jobIDs, Assets: req.Assets})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toDraftResponse(d))
}

func (s *Server) getDraft(c *gin.Context) {
	id, err := pathUUID(c, "draft_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	d, err := s.store.DraftGet(c.Request.Context(), db.DraftGetParams{ID: id, UserID: mustUser(c).ID})
	if db.IsNotFound(err) {
		s.writeError(c, errDraftNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toDraftResponse(d))
}

// saveDraft is autosave: the body carries the updated_at it was based on;
// when the draft changed since (another tab saved), the save is 409 with
// the current version so the client can merge.
func (s *Server) saveDraft(c *gin.Context) {
	ctx := c.Request.Context()
	var req draftRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if req.UpdatedAt == nil {
		s.writeError(c, lokiz.ValidationError(fieldErr("is required: the updated_at of the version this save is based on", "body", "updated_at")))
		return
	}
	id, err := pathUUID(c, "draft_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	d, err := s.store.DraftSave(ctx, db.DraftSaveParams{ID: id, UserID: me, Title: req.Title, State: req.State,
		JobIDs: req.jobIDs, Assets: req.Assets, IfUpdatedAt: *req.UpdatedAt})
	if db.IsNotFound(err) {
		if _, gerr := s.store.DraftGet(ctx, db.DraftGetParams{ID: id, UserID: me}); db.IsNotFound(gerr) {
			s.writeError(c, errDraftNotFound)
		} else {
			s.writeError(c, &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "stale_draft",
				Message: "This draft was saved elsewhere since this version; reload it before saving"})
		}
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toDraftResponse(d))
}

func (s *Server) deleteDraft(c *gin.Context) {
	id, err := pathUUID(c, "draft_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	n, err := s.store.DraftDelete(c.Request.Context(), db.DraftDeleteParams{ID: id, UserID: mustUser(c).ID})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if n == 0 {
		s.writeError(c, errDraftNotFound)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listDrafts(c *gin.Context) {
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.DraftsOfUser(c.Request.Context(), db.DraftsOfUserParams{UserID: mustUser(c).ID,
		CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, p.Size, func(d db.Draft) cursor { return cursor{At: d.UpdatedAt, ID: d.ID} })
	out := make([]draftResponse, len(rows))
	for i, d := range rows {
		out[i] = toDraftResponse(d)
	}
	c.JSON(http.StatusOK, gin.H{"drafts": out, "next_cursor": next, "has_more": more, "page_size": p.Size})
}
