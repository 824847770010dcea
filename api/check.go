package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz/db"
)

// relation answers, in one query, which of ids the caller me stands in a
// relation to (has liked, has bookmarked, follows).
type relation func(ctx context.Context, me uuid.UUID, ids []uuid.UUID) ([]uuid.UUID, error)

func (s *Server) likedBy(ctx context.Context, me uuid.UUID, ids []uuid.UUID) ([]uuid.UUID, error) {
	return s.store.LikeCheckBatch(ctx, db.LikeCheckBatchParams{UserID: me, VideoIDs: ids})
}

func (s *Server) bookmarkedBy(ctx context.Context, me uuid.UUID, ids []uuid.UUID) ([]uuid.UUID, error) {
	return s.store.BookmarkCheckBatch(ctx, db.BookmarkCheckBatchParams{UserID: me, VideoIDs: ids})
}

func (s *Server) followedBy(ctx context.Context, me uuid.UUID, ids []uuid.UUID) ([]uuid.UUID, error) {
	return s.store.FollowCheckBatch(ctx, db.FollowCheckBatchParams{FollowerID: me, IDs: ids})
}

// checkOne answers whether the caller has rel to the id in path param
// param, under each of keys (the original's names and ours).
func (s *Server) checkOne(c *gin.Context, param string, rel relation, keys ...string) {
	id, err := pathUUID(c, param)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := rel(c.Request.Context(), mustUser(c).ID, []uuid.UUID{id})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := gin.H{}
	for _, k := range keys {
		out[k] = len(rows) > 0
	}
	c.JSON(http.StatusOK, out)
}

// checkMany answers, in one query, which of ids (validated, at most 100)
// the caller has rel to: every id is a key under key, unknown ids false.
func (s *Server) checkMany(c *gin.Context, ids []uuid.UUID, rel relation, key string) {
	var found []uuid.UUID
	if len(ids) > 0 {
		var err error
		if found, err = rel(c.Request.Context(), mustUser(c).ID, ids); err != nil {
			s.writeError(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{key: presence(ids, found)})
}
