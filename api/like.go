package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

type likeResponse struct {
	ID        uuid.UUID `json:"id"`
	UserID    uuid.UUID `json:"user_id"`
	VideoID   uuid.UUID `json:"video_id"`
	CreatedAt time.Time `json:"created_at"`
	LikeCount int32     `json:"like_count"`
	Liked     bool      `json:"liked"`
}

// visibleVideoForAction resolves the path's video_id to a video the caller
// may act on (CONTRACT.md §2: an invisible video is a 404).
func (s *Server) visibleVideoForAction(c *gin.Context) (uuid.UUID, db.VideoViewTargetRow, error) {
	id, err := pathUUID(c, "video_id")
	if err != nil {
		return uuid.Nil, db.VideoViewTargetRow{}, err
	}
	target, err := s.store.VideoViewTarget(c.Request.Context(), db.VideoViewTargetParams{ID: id, ViewerID: optionalUserID(c)})
	if db.IsNotFound(err) {
		return uuid.Nil, db.VideoViewTargetRow{}, errVideoNotFound
	}
	return id, target, err
}

// likeVideo likes a visible video: 201 the first time, 200 when it was
// already liked (a repeated like changes nothing).
func (s *Server) likeVideo(c *gin.Context) {
	ctx := c.Request.Context()
	id, target, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	res, owed, err := s.store.LikeVideo(ctx, me, id, target.UserID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.notify(ctx, owed)
	if res.Created {
		s.signalsChanged(c, me)
	}
	like, err := s.store.LikeGet(ctx, db.LikeGetParams{UserID: me, VideoID: id})
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	c.JSON(status, likeResponse{ID: like.ID, UserID: me, VideoID: id, CreatedAt: like.CreatedAt.UTC(), LikeCount: res.LikeCount, Liked: true})
}

type unlikeResponse struct {
	VideoID   uuid.UUID `json:"video_id"`
	LikeCount int32     `json:"like_count"`
	Liked     bool      `json:"liked"`
}

// unlikeVideo removes the caller's like; unliking what is not liked is a
// no-op, so a double tap never errors.
func (s *Server) unlikeVideo(c *gin.Context) {
	ctx := c.Request.Context()
	id, target, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	res, err := s.store.UnlikeVideo(ctx, me, id, target.UserID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.signalsChanged(c, me)
	c.JSON(http.StatusOK, unlikeResponse{VideoID: id, LikeCount: res.LikeCount, Liked: false})
}

func (s *Server) checkLike(c *gin.Context) {
	s.checkOne(c, "video_id", s.likedBy, "liked", "is_liked")
}

// checkLikes answers, in one query, which of up to 100 videos the caller
// liked; every requested id has a key, unknown ids answer false.
func (s *Server) checkLikes(c *gin.Context) {
	var req batchVideosRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	s.checkMany(c, req.ids, s.likedBy, "liked_videos")
}

// listLikedVideos is a user's liked videos, visible only to that user
// (CONTRACT.md §2), newest like first.
func (s *Server) listLikedVideos(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "user_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	switch viewer := optionalUserID(c); {
	case viewer == nil:
		s.writeError(c, lokiz.Errorf(lokiz.EUNAUTHORIZED, "Not authenticated"))
		return
	case *viewer != id:
		s.writeError(c, lokiz.Errorf(lokiz.EFORBIDDEN, "Liked videos are visible only to their owner"))
		return
	}
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.LikedVideos(ctx, db.LikedVideosParams{UserID: id, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	respondVideoList(c, s, rows, p, func(r db.LikedVideosRow) (db.Video, db.User) { return r.Video, r.User },
		func(r db.LikedVideosRow) cursor { return cursor{At: r.LikedAt, ID: r.LikeID} })
}

// presence maps every asked id to whether it is among found: the shape of
// the batch checks, where unknown ids answer false.
func presence(asked, found []uuid.UUID) map[string]bool {
	out := make(map[string]bool, len(asked))
	for _, id := range asked {
		out[id.String()] = false
	}
	for _, id := range found {
		out[id.String()] = true
	}
	return out
}
