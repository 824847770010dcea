package api

import (
	"cmp"
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// Bounds of the glitch tree walk.
const (
	maxTreeDepth     = 10
	defaultTreeDepth = 3
	maxTreeNodes     = 200
	maxAncestors     = 50
)

// visibleVideo loads a video the viewer may see, or errVideoNotFound.
func (s *Server) visibleVideo(ctx context.Context, id uuid.UUID, viewer *uuid.UUID) (videoResponse, error) {
	row, err := s.store.VideoGetVisible(ctx, db.VideoGetVisibleParams{ID: id, ViewerID: viewer})
	if db.IsNotFound(err) {
		return videoResponse{}, errVideoNotFound
	} else if err != nil {
		return videoResponse{}, err
	}
	return s.videoResponse(ctx, row.Video, row.User)
}

type glitchListResponse struct {
	OriginalVideoID uuid.UUID       `json:"original_video_id"`
	Glitches        []videoResponse `json:"glitches"`
	Total           int             `json:"total"`
	NextCursor      *string         `json:"next_cursor"`
	HasMore         bool            `json:"has_more"`
	PageSize        int             `json:"page_size"`
}

// listGlitches pages the visible direct glitches of a visible video,
// `latest` (default) or `popular` (by likes).
func (s *Server) listGlitches(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	if _, err := s.store.VideoViewTarget(ctx, db.VideoViewTargetParams{ID: id, ViewerID: viewer}); db.IsNotFound(err) {
		s.writeError(c, errVideoNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	sort, err := glitchSort(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var vs []db.Video
	var us []db.User
	var next *string
	var more bool
	size := defaultPageSize
	switch sort {
	case "latest":
		p, err := parsePage(c)
		if err != nil {
			s.writeError(c, err)
			return
		}
		size = p.Size
		rows, err := s.store.GlitchChildren(ctx, db.GlitchChildrenParams{VideoID: id, ViewerID: viewer,
			CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
		if err != nil {
			s.writeError(c, err)
			return
		}
		rows, next, more = pageOf(rows, p.Size, func(r db.GlitchChildrenRow) cursor { return cursor{At: r.GlitchedAt, ID: r.EdgeID} })
		for _, r := range rows {
			vs, us = append(vs, r.Video), append(us, r.User)
		}
	case "popular":
		n, errs := parsePageSize(c, maxPageSize)
		if len(errs) > 0 {
			s.writeError(c, lokiz.ValidationError(errs...))
			return
		}
		size = cmp.Or(n, size)
		params := db.GlitchChildrenPopularParams{VideoID: id, ViewerID: viewer, Lim: int32(size + 1)}
		if raw := c.Query("cursor"); raw != "" {
			cur, ok := decodeRankCursor(raw)
			if !ok {
				s.writeError(c, lokiz.ValidationError(fieldErr("is not a cursor this API returned", "query", "cursor")))
				return
			}
			params.CursorRank, params.CursorID = &cur.Rank, &cur.ID
		}
		rows, err := s.store.GlitchChildrenPopular(ctx, params)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if more = len(rows) > size; more {
			rows = rows[:size]
			last := rows[len(rows)-1].Video
			n := rankCursor{Rank: int64(last.LikeCount), ID: last.ID}.encode()
			next = &n
		}
		for _, r := range rows {
			vs, us = append(vs, r.Video), append(us, r.User)
		}
	}
	out, err := s.videoResponses(ctx, vs, us)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, glitchListResponse{OriginalVideoID: id, Glitches: out, Total: len(out), NextCursor: next, HasMore: more, PageSize: size})
}

type glitchSourceResponse struct {
	GlitchVideoID   uuid.UUID      `json:"glitch_video_id"`
	OriginalVideoID *uuid.UUID     `json:"original_video_id"`
	OriginalVideo   *videoResponse `json:"original_video"`
	// SourceVideo is the frontend's name for original_video.
	SourceVideo *videoResponse `json:"source_video"`
	GlitchType  *string        `json:"glitch_type"`
}

// glitchSource answers the direct source of a visible video; the source
// itself is included only when the caller may see it.
func (s *Server) glitchSource(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	if _, err := s.visibleVideo(ctx, id, viewer); err != nil {
		s.writeError(c, err)
		return
	}
	out := glitchSourceResponse{GlitchVideoID: id}
	src, err := s.store.GlitchSource(ctx, id)
	if err != nil && !db.IsNotFound(err) {
		s.writeError(c, err)
		return
	}
	if err == nil {
		out.OriginalVideoID, out.GlitchType = &src.OriginalVideoID, &src.GlitchType
		if v, err := s.visibleVideo(ctx, src.OriginalVideoID, viewer); err == nil {
			out.OriginalVideo, out.SourceVideo = &v, &v
		} else if lokiz.ErrorCode(err) != lokiz.ENOTFOUND {
			s.writeError(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, out)
}

type glitchTreeNode struct {
	Video      videoResponse `json:"video"`
	ParentID   uuid.UUID     `json:"parent_id"`
	GlitchType string        `json:"glitch_type"`
	Depth      int32         `json:"depth"`
}

type glitchTreeResponse struct {
	Root      videoResponse    `json:"root"`
	Nodes     []glitchTreeNode `json:"nodes"`
	MaxDepth  int              `json:"max_depth"`
	Truncated bool             `json:"truncated"`
}

// glitchTree answers the chain's root (the highest ancestor the caller may
// see) and its visible descendants, breadth first, bounded in depth and size.
func (s *Server) glitchTree(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	depth, err := treeDepth(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	root, err := s.visibleVideo(ctx, id, viewer)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ancestors, err := s.store.GlitchAncestors(ctx, db.GlitchAncestorsParams{VideoID: id, MaxDepth: maxAncestors})
	if err != nil {
		s.writeError(c, err)
		return
	}
	// Climb while the next ancestor is visible: the root shown is the
	// highest one the caller may see without a gap.
	for _, a := range ancestors {
		v, err := s.visibleVideo(ctx, a.ID, viewer)
		if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
			break
		} else if err != nil {
			s.writeError(c, err)
			return
		}
		root = v
	}
	rows, err := s.store.GlitchDescendants(ctx, db.GlitchDescendantsParams{RootID: root.ID, ViewerID: viewer,
		MaxDepth: int32(depth), Lim: maxTreeNodes + 1})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := glitchTreeResponse{Root: root, Nodes: []glitchTreeNode{}, MaxDepth: depth, Truncated: len(rows) > maxTreeNodes}
	if out.Truncated {
		rows = rows[:maxTreeNodes]
	}
	vs := make([]db.Video, len(rows))
	us := make([]db.User, len(rows))
	for i, r := range rows {
		vs[i], us[i] = r.Video, r.User
	}
	videos, err := s.videoResponses(ctx, vs, us)
	if err != nil {
		s.writeError(c, err)
		return
	}
	for i, r := range rows {
		out.Nodes = append(out.Nodes, glitchTreeNode{Video: videos[i], ParentID: r.ParentID, GlitchType: r.GlitchType, Depth: r.Depth})
	}
	c.JSON(http.StatusOK, out)
}
