package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

type blockResponse struct {
	ID          uuid.UUID       `json:"id"`
	BlockerID   uuid.UUID       `json:"blocker_id"`
	BlockedID   uuid.UUID       `json:"blocked_id"`
	BlockedUser lokiz.UserBasic `json:"blocked_user"`
	CreatedAt   time.Time       `json:"created_at"`
}

// block blocks the user named by the path (POST /v1/blocks/users/{user_id})
// or by the body (POST /v1/moderation/block): 201 the first time, 200 when
// already blocked. Follows between the two end in both directions.
func (s *Server) block(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := s.blockTarget(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	if id == me {
		s.writeError(c, lokiz.Errorf(lokiz.EINVALID, "Cannot block yourself"))
		return
	}
	// A block must be possible against someone who blocked you first, so
	// only existence is checked, not visibility.
	target, err := s.store.UserGetByID(ctx, id)
	if db.IsNotFound(err) || (err == nil && !target.IsActive) {
		s.writeError(c, errUserNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	b, created, err := s.store.BlockUser(ctx, me, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		// A block hides each from the other's "for you" feed.
		s.signalsChanged(c, me)
		s.signalsChanged(c, id)
	}
	c.JSON(status, blockResponse{ID: b.ID, BlockerID: me, BlockedID: id, BlockedUser: s.basicUser(ctx, target), CreatedAt: b.CreatedAt.UTC()})
}

type blockRequest struct {
	BlockedUserID string `json:"blocked_user_id"`
	id            uuid.UUID
}

func (r *blockRequest) validate() []lokiz.FieldError {
	id, err := uuid.Parse(r.BlockedUserID)
	if err != nil {
		return []lokiz.FieldError{fieldErr("must be a UUID", "body", "blocked_user_id")}
	}
	r.id = id
	return nil
}

func (s *Server) blockTarget(c *gin.Context) (uuid.UUID, error) {
	if c.Param("user_id") != "" {
		return pathUUID(c, "user_id")
	}
	var req blockRequest
	if err := bindJSON(c, &req); err != nil {
		return uuid.Nil, err
	}
	return req.id, nil
}

// unblock is idempotent: not blocking is already the wanted state. The path
// parameter is user_id (new spelling) or blocked_user_id (the original's).
func (s *Server) unblock(c *gin.Context) {
	name := "user_id"
	if c.Param("blocked_user_id") != "" {
		name = "blocked_user_id"
	}
	id, err := pathUUID(c, name)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.store.BlockRemove(c.Request.Context(), db.BlockRemoveParams{BlockerID: mustUser(c).ID, BlockedID: id}); err != nil {
		s.writeError(c, err)
		return
	}
	s.signalsChanged(c, mustUser(c).ID)
	s.signalsChanged(c, id)
	c.Status(http.StatusNoContent)
}

type blockListResponse struct {
	Blocks []blockResponse `json:"blocks"`
	Total  int64           `json:"total"`
}

// listBlocks is the caller's blocks, newest first (`limit` 1–100, default 50).
func (s *Server) listBlocks(c *gin.Context) {
	ctx := c.Request.Context()
	limit, err := limitParam(c, 50)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	rows, err := s.store.BlocksOf(ctx, db.BlocksOfParams{BlockerID: me, Lim: int32(limit)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	total, err := s.store.BlocksCount(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := blockListResponse{Blocks: []blockResponse{}, Total: total}
	for _, r := range rows {
		out.Blocks = append(out.Blocks, blockResponse{ID: r.BlockID, BlockerID: me, BlockedID: r.User.ID,
			BlockedUser: s.basicUser(ctx, r.User), CreatedAt: r.BlockedAt.UTC()})
	}
	c.JSON(http.StatusOK, out)
}

// isBlocked answers both directions (the original answered only one).
func (s *Server) isBlocked(c *gin.Context) {
	id, err := pathUUID(c, "user_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	d, err := s.store.BlockDirections(c.Request.Context(), db.BlockDirectionsParams{Me: mustUser(c).ID, Other: id})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"is_blocked": d.IBlocked, "blocked_by": d.BlockedMe})
}
