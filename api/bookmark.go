package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz/db"
)

type bookmarkResponse struct {
	ID           uuid.UUID `json:"id"`
	VideoID      uuid.UUID `json:"video_id"`
	CreatedAt    time.Time `json:"created_at"`
	IsBookmarked bool      `json:"is_bookmarked"`
}

// bookmark saves a visible video: 201 the first time, 200 when already saved.
func (s *Server) bookmark(c *gin.Context) {
	ctx := c.Request.Context()
	id, _, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	created, err := s.store.BookmarkAdd(ctx, db.BookmarkAddParams{ID: db.NewID(), UserID: me, VideoID: id})
	if err != nil {
		s.writeError(c, err)
		return
	}
	b, err := s.store.BookmarkGet(ctx, db.BookmarkGetParams{UserID: me, VideoID: id})
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, bookmarkResponse{ID: b.ID, VideoID: id, CreatedAt: b.CreatedAt.UTC(), IsBookmarked: true})
}

// unbookmark is idempotent, and works on a video that has since become
// invisible, so a saved list can always be cleaned.
func (s *Server) unbookmark(c *gin.Context) {
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.store.BookmarkRemove(c.Request.Context(), db.BookmarkRemoveParams{UserID: mustUser(c).ID, VideoID: id}); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) checkBookmark(c *gin.Context) {
	s.checkOne(c, "video_id", s.bookmarkedBy, "is_bookmarked", "bookmarked")
}

// listBookmarks is the caller's saved videos, newest first, cursor-paged.
func (s *Server) listBookmarks(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.BookmarkedVideos(ctx, db.BookmarkedVideosParams{UserID: mustUser(c).ID, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	respondVideoList(c, s, rows, p, func(r db.BookmarkedVideosRow) (db.Video, db.User) { return r.Video, r.User },
		func(r db.BookmarkedVideosRow) cursor { return cursor{At: r.BookmarkedAt, ID: r.BookmarkID} })
}
