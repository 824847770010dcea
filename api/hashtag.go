package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// trendingWindow is how far back "recent use" looks.
const trendingWindow = 7 * 24 * time.Hour

type hashtagResponse struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	UseCount   int32     `json:"use_count"`
	RecentUses int64     `json:"recent_uses"`
	CreatedAt  time.Time `json:"created_at"`
	// VideoCount and ViewCount are the frontend's names: the tag's
	// public videos and their views (as batch-stats counts them).
	VideoCount int64 `json:"video_count"`
	ViewCount  int64 `json:"view_count"`
}

// hashtagCounts counts the public videos of each named tag and their views
// in one query; a name without videos is absent.
func (s *Server) hashtagCounts(ctx context.Context, names []string) (map[string]db.HashtagBatchStatsRow, error) {
	out := make(map[string]db.HashtagBatchStatsRow, len(names))
	if len(names) == 0 {
		return out, nil
	}
	rows, err := s.store.HashtagBatchStats(ctx, names)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out, nil
}

func limitParam(c *gin.Context, def int) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 100 {
		return 0, lokiz.ValidationError(fieldErr("must be a whole number from 1 to 100", "query", "limit"))
	}
	return n, nil
}

// trendingHashtags ranks tags by their use on public videos over the last
// week (B-21: the original ranked by all-time use).
func (s *Server) trendingHashtags(c *gin.Context) {
	limit, err := limitParam(c, 20)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.HashtagTrending(c.Request.Context(), db.HashtagTrendingParams{Since: time.Now().Add(-trendingWindow), Lim: int32(limit)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	counts, err := s.hashtagCounts(c.Request.Context(), names)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]hashtagResponse, len(rows))
	for i, r := range rows {
		n := counts[r.Name]
		out[i] = hashtagResponse{ID: r.ID, Name: r.Name, UseCount: r.UseCount, RecentUses: r.RecentUses, CreatedAt: r.CreatedAt.UTC(),
			VideoCount: n.VideoCount, ViewCount: n.TotalViews}
	}
	c.JSON(http.StatusOK, gin.H{"hashtags": out, "total": len(out)})
}

// normalizeTag accepts "Dance", "#dance" or "%23dance" for the tag "dance".
func normalizeTag(raw string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(raw), "#"))
}

// hashtagVideos pages the visible videos of a tag, newest first.
func (s *Server) hashtagVideos(c *gin.Context) {
	ctx := c.Request.Context()
	name := normalizeTag(c.Param("hashtag_name"))
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h, err := s.store.HashtagGetByName(ctx, name)
	if db.IsNotFound(err) {
		s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Hashtag #%s not found", name))
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.HashtagVideos(ctx, db.HashtagVideosParams{HashtagID: h.ID, ViewerID: optionalUserID(c),
		CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, err := videoPage(ctx, s, rows, p, func(r db.HashtagVideosRow) (db.Video, db.User) { return r.Video, r.User },
		func(r db.HashtagVideosRow) cursor { return cursor{At: r.Video.CreatedAt, ID: r.Video.ID} })
	if err != nil {
		s.writeError(c, err)
		return
	}
	// total is the tag's public videos (the original counted them with
	// the page's filter), the same on every page.
	counts, err := s.hashtagCounts(ctx, []string{h.Name})
	if err != nil {
		s.writeError(c, err)
		return
	}
	n := counts[h.Name]
	c.JSON(http.StatusOK, gin.H{
		"hashtag": hashtagResponse{ID: h.ID, Name: h.Name, UseCount: h.UseCount, CreatedAt: h.CreatedAt.UTC(),
			VideoCount: n.VideoCount, ViewCount: n.TotalViews},
		"videos": page.Videos, "total": n.VideoCount, "next_cursor": page.NextCursor, "has_more": page.HasMore, "page_size": page.PageSize,
	})
}

type hashtagStatsRequest struct {
	HashtagNames []string `json:"hashtag_names"`
}

func (r *hashtagStatsRequest) validate() []lokiz.FieldError {
	if r.HashtagNames == nil {
		return []lokiz.FieldError{fieldErr("is required", "body", "hashtag_names")}
	}
	if len(r.HashtagNames) > 50 {
		return []lokiz.FieldError{fieldErr("must hold at most 50 names", "body", "hashtag_names")}
	}
	for i := range r.HashtagNames {
		r.HashtagNames[i] = normalizeTag(r.HashtagNames[i])
	}
	return nil
}

type hashtagStats struct {
	VideoCount      int64   `json:"video_count"`
	TotalViews      int64   `json:"total_views"`
	LatestThumbnail *string `json:"latest_thumbnail"`
	TrendingScore   float64 `json:"trending_score"`
	UseCount        int32   `json:"use_count"`
}

// hashtagBatchStats answers stats for up to 50 tags in one query; every
// requested name has a key (zeros when unknown).
func (s *Server) hashtagBatchStats(c *gin.Context) {
	ctx := c.Request.Context()
	var req hashtagStatsRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out := make(map[string]hashtagStats, len(req.HashtagNames))
	for _, n := range req.HashtagNames {
		out[n] = hashtagStats{}
	}
	if len(req.HashtagNames) > 0 {
		rows, err := s.store.HashtagBatchStats(ctx, req.HashtagNames)
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, r := range rows {
			score := float64(int64(float64(r.UseCount)*70+float64(r.VideoCount)*30)) / 100
			out[r.Name] = hashtagStats{VideoCount: r.VideoCount, TotalViews: r.TotalViews,
				LatestThumbnail: s.mediaURL(ctx, &r.LatestThumbnailKey), TrendingScore: score, UseCount: r.UseCount}
		}
	}
	c.JSON(http.StatusOK, gin.H{"hashtags": out})
}
