package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

type shareRequest struct {
	Platform *string `json:"platform"`
}

func (r *shareRequest) validate() []lokiz.FieldError {
	if r.Platform != nil && !slices.Contains(lokiz.SharePlatforms, *r.Platform) {
		return []lokiz.FieldError{fieldErr("must be one of "+strings.Join(lokiz.SharePlatforms, ", "), "body", "platform")}
	}
	return nil
}

type shareResponse struct {
	VideoID    uuid.UUID `json:"video_id"`
	ShareURL   string    `json:"share_url"`
	ShareCount int32     `json:"share_count"`
	Platform   *string   `json:"platform"`
}

// shareVideo records a share of a visible video (anonymous allowed) and
// answers the link to share and the new count.
func (s *Server) shareVideo(c *gin.Context) {
	ctx := c.Request.Context()
	var req shareRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.writeError(c, err)
			return
		}
	}
	id, _, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	count, err := s.store.ShareAdd(ctx, db.ShareAddParams{ID: db.NewID(), UserID: optionalUserID(c), VideoID: id, Platform: req.Platform})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, shareResponse{VideoID: id, ShareURL: s.cfg.PublicWebURL + "/v/" + id.String(), ShareCount: count, Platform: req.Platform})
}

type shareCountResponse struct {
	VideoID    uuid.UUID        `json:"video_id"`
	ShareCount int64            `json:"share_count"`
	ByPlatform map[string]int64 `json:"by_platform,omitempty"`
}

// shareCount answers a visible video's share count; its owner also gets
// the count by platform.
func (s *Server) shareCount(c *gin.Context) {
	ctx := c.Request.Context()
	id, target, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.ShareCountsByPlatform(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := shareCountResponse{VideoID: id}
	by := map[string]int64{}
	for _, r := range rows {
		out.ShareCount += r.Shares
		by[r.Platform] = r.Shares
	}
	if viewer := optionalUserID(c); viewer != nil && *viewer == target.UserID {
		out.ByPlatform = by
	}
	c.JSON(http.StatusOK, out)
}
