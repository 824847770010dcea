package api

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// commentResponse is the reference's CommentResponse plus like_count and
// is_liked (B-33).
type commentResponse struct {
	ID        uuid.UUID       `json:"id"`
	User      lokiz.UserBasic `json:"user"`
	VideoID   uuid.UUID       `json:"video_id"`
	Content   string          `json:"content"`
	LikeCount int32           `json:"like_count"`
	IsLiked   bool            `json:"is_liked"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func (s *Server) commentResponse(ctx context.Context, c db.Comment, author db.User, liked bool) commentResponse {
	return commentResponse{ID: c.ID, User: s.basicUser(ctx, author), VideoID: c.VideoID, Content: c.Content,
		LikeCount: c.LikeCount, IsLiked: liked, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

// commentContent is 1–1000 characters after trimming, kept verbatim
// otherwise (no HTML interpretation: clients render it as text).
type commentContent struct {
	Content string `json:"content" text:"multiline"`
}

func (r *commentContent) validate() []lokiz.FieldError {
	r.Content = strings.TrimSpace(r.Content)
	switch n := utf8.RuneCountInString(r.Content); {
	case n == 0:
		return []lokiz.FieldError{fieldErr("must not be empty", "body", "content")}
	case n > 1000:
		return []lokiz.FieldError{fieldErr("must be at most 1000 characters long", "body", "content")}
	case !utf8.ValidString(r.Content):
		return []lokiz.FieldError{fieldErr("must be valid UTF-8", "body", "content")}
	}
	return nil
}

var errCommentNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "Comment not found")

func (s *Server) createComment(c *gin.Context) {
	ctx := c.Request.Context()
	var req commentContent
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	id, target, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	cm, owed, err := s.store.CreateComment(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: me.ID, VideoID: id, Content: req.Content}, target.UserID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.notify(ctx, owed)
	s.signalsChanged(c, me.ID)
	c.JSON(http.StatusCreated, s.commentResponse(ctx, db.Comment(cm), me, false))
}

type commentListResponse struct {
	Comments []commentResponse `json:"comments"`
	Total    int64             `json:"total"`
	Page     int               `json:"page"`
	PageSize int               `json:"page_size"`
	HasMore  bool              `json:"has_more"`
}

// listComments pages a visible video's comments, newest first.
func (s *Server) listComments(c *gin.Context) {
	ctx := c.Request.Context()
	id, _, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, size, err := offsetPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.CommentsOfVideo(ctx, db.CommentsOfVideoParams{VideoID: id, ViewerID: optionalUserID(c),
		Lim: int32(size + 1), Off: int32((page - 1) * size)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := commentListResponse{Comments: []commentResponse{}, Page: page, PageSize: size, HasMore: len(rows) > size}
	if len(rows) > size {
		rows = rows[:size]
	}
	for _, r := range rows {
		out.Total = r.Total
		out.Comments = append(out.Comments, s.commentResponse(ctx, r.Comment, r.User, r.IsLiked))
	}
	c.JSON(http.StatusOK, out)
}

// commentForCaller loads the path's comment if the caller may see it.
func (s *Server) commentForCaller(c *gin.Context) (db.CommentForViewerRow, error) {
	id, err := pathUUID(c, "comment_id")
	if err != nil {
		return db.CommentForViewerRow{}, err
	}
	row, err := s.store.CommentForViewer(c.Request.Context(), db.CommentForViewerParams{ID: id, ViewerID: mustUser(c).ID})
	if db.IsNotFound(err) {
		return row, errCommentNotFound
	}
	return row, err
}

func (s *Server) updateComment(c *gin.Context) {
	ctx := c.Request.Context()
	var req commentContent
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	row, err := s.commentForCaller(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	if row.Comment.UserID != me {
		s.writeError(c, lokiz.Errorf(lokiz.EFORBIDDEN, "Only the author can edit a comment"))
		return
	}
	cm, err := s.store.CommentUpdate(ctx, db.CommentUpdateParams{ID: row.Comment.ID, UserID: me, Content: req.Content})
	if err != nil {
		s.writeError(c, err)
		return
	}
	author, err := s.store.UserByID(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	liked, err := s.store.CommentLikeCheck(ctx, db.CommentLikeCheckParams{UserID: me, CommentID: cm.ID})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.commentResponse(ctx, cm, author, liked))
}

// deleteComment: the author or the video's owner may delete; its likes go
// with it (B-43), its reports stay (with their snapshot of the text). The
// two may delete also where they cannot see the comment: the owner after
// blocking its author (the comment stays visible to everyone else until it
// is deleted), the author after the video became invisible to them. Anyone
// else gets 403 for a comment they can see and 404 otherwise.
func (s *Server) deleteComment(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "comment_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	row, err := s.store.CommentWithVideoOwner(ctx, id)
	if db.IsNotFound(err) {
		s.writeError(c, errCommentNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	if row.Comment.UserID != me && row.VideoOwnerID != me {
		if _, err := s.commentForCaller(c); err != nil {
			s.writeError(c, err)
			return
		}
		s.writeError(c, lokiz.Errorf(lokiz.EFORBIDDEN, "Only the author or the video's owner can delete a comment"))
		return
	}
	if _, err := s.store.CommentDelete(ctx, row.Comment.ID); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type batchCommentsRequest struct {
	CommentIDs []string `json:"comment_ids"`
	ids        []uuid.UUID
}

func (r *batchCommentsRequest) validate() []lokiz.FieldError {
	ids, errs := parseIDBatch(r.CommentIDs, "comment_ids", maxBatch)
	r.ids = ids
	return errs
}

type batchCommentEntry struct {
	commentResponse
	IsFollowing bool `json:"is_following"`
}

// batchComments answers up to 100 comments the caller may see, keyed by id.
func (s *Server) batchComments(c *gin.Context) {
	ctx := c.Request.Context()
	var req batchCommentsRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out := map[string]batchCommentEntry{}
	if len(req.ids) > 0 {
		rows, err := s.store.CommentsBatch(ctx, db.CommentsBatchParams{IDs: req.ids, ViewerID: mustUser(c).ID})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, r := range rows {
			out[r.Comment.ID.String()] = batchCommentEntry{commentResponse: s.commentResponse(ctx, r.Comment, r.User, r.IsLiked), IsFollowing: r.IsFollowing}
		}
	}
	c.JSON(http.StatusOK, gin.H{"comments": out})
}

type commentLikeResponse struct {
	CommentID uuid.UUID `json:"comment_id"`
	LikeCount int32     `json:"like_count"`
	IsLiked   bool      `json:"is_liked"`
}

func (s *Server) likeComment(c *gin.Context) {
	row, err := s.commentForCaller(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	me := mustUser(c).ID
	res, owed, err := s.store.LikeComment(ctx, me, row.Comment.ID, row.Comment.UserID, row.Comment.VideoID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.notify(ctx, owed)
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	c.JSON(status, commentLikeResponse{CommentID: row.Comment.ID, LikeCount: res.LikeCount, IsLiked: true})
}

func (s *Server) unlikeComment(c *gin.Context) {
	row, err := s.commentForCaller(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	me := mustUser(c).ID
	res, err := s.store.UnlikeComment(ctx, me, row.Comment.ID, row.Comment.UserID, row.Comment.VideoID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, commentLikeResponse{CommentID: row.Comment.ID, LikeCount: res.LikeCount, IsLiked: false})
}

func (s *Server) checkCommentLike(c *gin.Context) {
	id, err := pathUUID(c, "comment_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	liked, err := s.store.CommentLikeCheck(c.Request.Context(), db.CommentLikeCheckParams{UserID: mustUser(c).ID, CommentID: id})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"is_liked": liked})
}
