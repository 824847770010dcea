package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// feedVideo is a video in a feed with the caller's relation to it (absent
// for anonymous callers).
type feedVideo struct {
	videoResponse
	IsLiked           *bool `json:"is_liked,omitempty"`
	IsBookmarked      *bool `json:"is_bookmarked,omitempty"`
	IsFollowingAuthor *bool `json:"is_following_author,omitempty"`
}

type feedResponse struct {
	Videos     []feedVideo `json:"videos"`
	NextCursor *string     `json:"next_cursor"`
	HasMore    bool        `json:"has_more"`
	PageSize   int         `json:"page_size"`
	Algorithm  string      `json:"algorithm"`
	FeedType   string      `json:"feed_type"`
}

// feedAlgorithms are the feeds served so far; trending and personalized
// need the ranking task and are refused with a clear message until then.
var feedAlgorithms = map[string]bool{"latest": true, "following": true}

// feedPage loads one page of a feed: rows, cursor and whether more follow.
func (s *Server) feedPage(ctx context.Context, algorithm string, viewer *uuid.UUID, p pageParams) ([]videoRow, error) {
	var rows []videoRow
	switch algorithm {
	case "following":
		rs, err := s.store.FeedFollowing(ctx, db.FeedFollowingParams{ViewerID: *viewer, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			rows = append(rows, videoRow(r))
		}
	default:
		rs, err := s.store.VideoListVisible(ctx, db.VideoListVisibleParams{ViewerID: viewer, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			rows = append(rows, videoRow(r))
		}
	}
	return rows, nil
}

// feedAlgorithm reads and checks the algorithm (def when absent, or always
// when fixed is set); following needs a caller.
func feedAlgorithm(c *gin.Context, def string, fixed bool) (string, error) {
	algorithm := c.DefaultQuery("algorithm", def)
	if fixed {
		algorithm = def
	}
	if !feedAlgorithms[algorithm] {
		return "", lokiz.ValidationError(fieldErr("must be latest or following (trending and personalized are not available yet)", "query", "algorithm"))
	}
	if algorithm == "following" && optionalUserID(c) == nil {
		return "", lokiz.Errorf(lokiz.EUNAUTHORIZED, "Sign in to see the videos of the creators you follow")
	}
	return algorithm, nil
}

func (s *Server) feed(c *gin.Context) { s.serveFeed(c, "latest", false) }

func (s *Server) followingFeed(c *gin.Context) { s.serveFeed(c, "following", true) }

// serveFeed pages a feed with the caller's flags resolved in three batch
// queries per page, whatever the page size.
func (s *Server) serveFeed(c *gin.Context, def string, fixed bool) {
	ctx := c.Request.Context()
	algorithm, err := feedAlgorithm(c, def, fixed)
	if err != nil {
		s.writeError(c, err)
		return
	}
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	rows, err := s.feedPage(ctx, algorithm, viewer, p)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, p.Size, func(r videoRow) cursor { return cursor{At: r.Video.CreatedAt, ID: r.Video.ID} })
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
	items, err := s.withViewerFlags(ctx, viewer, videos)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, feedResponse{Videos: items, NextCursor: next, HasMore: more, PageSize: p.Size, Algorithm: algorithm, FeedType: algorithm})
}

// withViewerFlags adds is_liked, is_bookmarked and is_following_author for
// a signed-in caller: one query each for the whole page.
func (s *Server) withViewerFlags(ctx context.Context, viewer *uuid.UUID, videos []videoResponse) ([]feedVideo, error) {
	out := make([]feedVideo, len(videos))
	for i, v := range videos {
		out[i] = feedVideo{videoResponse: v}
	}
	if viewer == nil || len(videos) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(videos))
	authors := make([]uuid.UUID, len(videos))
	for i, v := range videos {
		ids[i], authors[i] = v.ID, v.User.ID
	}
	liked, err := s.store.LikeCheckBatch(ctx, db.LikeCheckBatchParams{UserID: *viewer, VideoIDs: ids})
	if err != nil {
		return nil, err
	}
	saved, err := s.store.BookmarkCheckBatch(ctx, db.BookmarkCheckBatchParams{UserID: *viewer, VideoIDs: ids})
	if err != nil {
		return nil, err
	}
	following, err := s.store.FollowCheckBatch(ctx, db.FollowCheckBatchParams{FollowerID: *viewer, IDs: authors})
	if err != nil {
		return nil, err
	}
	l, b, f := presence(ids, liked), presence(ids, saved), presence(authors, following)
	for i, v := range videos {
		isLiked, isSaved, isFollowing := l[v.ID.String()], b[v.ID.String()], f[v.User.ID.String()]
		out[i].IsLiked, out[i].IsBookmarked, out[i].IsFollowingAuthor = &isLiked, &isSaved, &isFollowing
	}
	return out, nil
}

type prefetchItem struct {
	ID              uuid.UUID `json:"id"`
	VideoURL        *string   `json:"video_url"`
	ThumbnailURL    *string   `json:"thumbnail_url"`
	DurationSeconds float64   `json:"duration_seconds"`
	AuthorID        uuid.UUID `json:"author_id"`
}

// prefetch is the next `count` (≤ 10) items of a feed after the cursor,
// light fields only, for the player to warm up.
func (s *Server) prefetch(c *gin.Context) {
	ctx := c.Request.Context()
	algorithm, err := feedAlgorithm(c, "latest", false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	count := 5
	if raw := c.Query("count"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 10 {
			s.writeError(c, lokiz.ValidationError(fieldErr("must be a whole number from 1 to 10", "query", "count")))
			return
		}
		count = n
	}
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	p.Size = count
	rows, err := s.feedPage(ctx, algorithm, optionalUserID(c), p)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, count, func(r videoRow) cursor { return cursor{At: r.Video.CreatedAt, ID: r.Video.ID} })
	out := make([]prefetchItem, len(rows))
	for i, r := range rows {
		out[i] = prefetchItem{ID: r.Video.ID, VideoURL: s.mediaURL(ctx, r.Video.ObjectKey), ThumbnailURL: s.mediaURL(ctx, r.Video.ThumbnailKey),
			DurationSeconds: r.Video.DurationSeconds, AuthorID: r.Video.UserID}
	}
	if optionalUserID(c) == nil {
		c.Header("Cache-Control", "public, max-age=15")
	} else {
		c.Header("Cache-Control", "private, max-age=15")
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": next, "has_more": more, "algorithm": algorithm})
}
