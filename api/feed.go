package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
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
	Videos []feedVideo `json:"videos"`
	// Total is the number of videos on this page, as the original's
	// FeedResponse had it: free to compute, so feeds stay fast.
	Total      int     `json:"total"`
	NextCursor *string `json:"next_cursor"`
	HasMore    bool    `json:"has_more"`
	PageSize   int     `json:"page_size"`
	Algorithm  string  `json:"algorithm"`
	FeedType   string  `json:"feed_type"`
}

// feedAlgorithms are the feeds served.
var feedAlgorithms = map[string]bool{"latest": true, "following": true, "trending": true, "personalized": true}

// loadedFeed is one page of a feed: its rows, the next cursor, whether more
// follow, the page size asked for and the algorithm that actually served it.
type loadedFeed struct {
	rows      []videoRow
	next      *string
	more      bool
	size      int
	algorithm string
}

// loadFeed loads one page of algorithm after the request's cursor; size
// overrides page_size when positive.
func (s *Server) loadFeed(c *gin.Context, algorithm string, viewer *uuid.UUID, size int) (loadedFeed, error) {
	if algorithm == "personalized" {
		if viewer != nil {
			if f, ok, err := s.personalizedFeed(c, *viewer, size); ok || err != nil {
				return f, err
			}
		}
		// Signed out, or nothing to personalize yet: trending serves,
		// and its cursors keep working under algorithm=personalized.
		algorithm = "trending"
	}
	if algorithm == "trending" {
		if f, ok, err := s.trendingFeed(c, viewer, size); ok || err != nil {
			return f, err
		}
		// No ranking yet: serve the latest feed, whose cursors this
		// branch keeps accepting.
		algorithm = "latest"
	}
	p, err := parsePage(c)
	if err != nil {
		return loadedFeed{}, err
	}
	if size > 0 {
		p.Size = size
	}
	ctx := c.Request.Context()
	var rows []videoRow
	switch algorithm {
	case "following":
		rs, err := s.store.FeedFollowing(ctx, db.FeedFollowingParams{ViewerID: *viewer, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
		if err != nil {
			return loadedFeed{}, err
		}
		for _, r := range rs {
			rows = append(rows, videoRow(r))
		}
	default:
		rs, err := s.store.VideoListVisible(ctx, db.VideoListVisibleParams{ViewerID: viewer, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
		if err != nil {
			return loadedFeed{}, err
		}
		for _, r := range rs {
			rows = append(rows, videoRow(r))
		}
	}
	rows, next, more := pageOf(rows, p.Size, func(r videoRow) cursor { return cursor{At: r.Video.CreatedAt, ID: r.Video.ID} })
	return loadedFeed{rows: rows, next: next, more: more, size: p.Size, algorithm: algorithm}, nil
}

// trendCursor is a position in one trending snapshot. Its encoding starts
// with "t|", which no keyset cursor does.
type trendCursor struct {
	Snapshot string
	Offset   int
}

func (t trendCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("t|" + t.Snapshot + "|" + strconv.Itoa(t.Offset)))
}

// decodeTrendCursor reports ok=false for anything that is not a trending
// cursor.
func decodeTrendCursor(s string) (trendCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return trendCursor{}, false
	}
	rest, ok := strings.CutPrefix(string(raw), "t|")
	if !ok {
		return trendCursor{}, false
	}
	snap, off, ok := strings.Cut(rest, "|")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || n < 0 || snap == "" {
		return trendCursor{}, false
	}
	return trendCursor{Snapshot: snap, Offset: n}, true
}

// trendingFeed pages the published trending ranking. ok is false when it
// cannot serve the request (no ranking published yet, or the cursor is a
// keyset cursor from the latest fallback): the caller serves latest.
func (s *Server) trendingFeed(c *gin.Context, viewer *uuid.UUID, size int) (loadedFeed, bool, error) {
	ctx := c.Request.Context()
	pageSize, cur, ok, err := parseSnapshotPage(c, size)
	if !ok || err != nil {
		return loadedFeed{}, false, err
	}
	if strings.HasPrefix(cur.Snapshot, foryou.SnapshotPrefix) {
		return loadedFeed{}, false, lokiz.ValidationError(fieldErr("belongs to the personalized feed", "query", "cursor"))
	}
	if cur.Snapshot == "" {
		snap, err := s.trending.Current(ctx)
		if err != nil {
			return loadedFeed{}, false, err
		}
		if snap == "" {
			// Ask for a first ranking now rather than at the next tick.
			if err := s.tasks.Enqueue(ctx, tasks.NewTrendingBootstrapTask()); err != nil {
				s.log.WarnContext(ctx, "enqueue first trending ranking", "err", err)
			}
			return loadedFeed{}, false, nil
		}
		f, err := s.snapshotPage(ctx, viewer, "trending", trendCursor{Snapshot: snap}, pageSize)
		if errors.Is(err, trending.ErrSnapshotGone) {
			// An empty ranking, or one the worker has not renewed for an
			// hour: the latest feed serves instead.
			return loadedFeed{}, false, nil
		}
		return f, err == nil, err
	}
	f, err := s.snapshotPage(ctx, viewer, "trending", cur, pageSize)
	return f, err == nil, cursorExpired(err)
}

// parseSnapshotPage reads page_size (size overrides it when positive) and
// a ranking cursor; ok is false when the cursor is some other kind.
func parseSnapshotPage(c *gin.Context, size int) (int, trendCursor, bool, error) {
	pageSize, errs := parsePageSize(c, maxPageSize)
	if size > 0 {
		pageSize = size
	} else if pageSize == 0 {
		pageSize = defaultPageSize
	}
	var cur trendCursor
	if raw := c.Query("cursor"); raw != "" {
		tc, ok := decodeTrendCursor(raw)
		if !ok {
			return 0, cur, false, nil
		}
		cur = tc
	}
	if len(errs) > 0 {
		return 0, cur, false, lokiz.ValidationError(errs...)
	}
	return pageSize, cur, true, nil
}

// cursorExpired turns a cursor's vanished ranking into a 422.
func cursorExpired(err error) error {
	if errors.Is(err, trending.ErrSnapshotGone) {
		return lokiz.ValidationError(fieldErr("has expired: the ranking it points into was replaced over an hour ago; load the feed again without a cursor", "query", "cursor"))
	}
	return err
}

// snapshotPage loads the page of a stored ranking at cur (ErrSnapshotGone
// when it has expired). Videos hidden
// since the ranking was computed (deleted, made private, blocked) drop out
// of the page; the rest keep their rank order.
func (s *Server) snapshotPage(ctx context.Context, viewer *uuid.UUID, algorithm string, cur trendCursor, pageSize int) (loadedFeed, error) {
	ids, more, err := s.trending.Page(ctx, cur.Snapshot, cur.Offset, pageSize)
	if err != nil {
		return loadedFeed{}, err
	}
	f := loadedFeed{algorithm: algorithm, more: more, size: pageSize}
	if more {
		next := trendCursor{Snapshot: cur.Snapshot, Offset: cur.Offset + pageSize}.encode()
		f.next = &next
	}
	if len(ids) == 0 {
		return f, nil
	}
	rs, err := s.store.VideosVisibleByIDs(ctx, db.VideosVisibleByIDsParams{IDs: ids, ViewerID: viewer})
	if err != nil {
		return loadedFeed{}, err
	}
	byID := make(map[uuid.UUID]videoRow, len(rs))
	for _, r := range rs {
		byID[r.Video.ID] = videoRow(r)
	}
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			f.rows = append(f.rows, r)
		}
	}
	return f, nil
}

// feedAlgorithm reads and checks the algorithm (def when absent, or always
// when fixed is set); following needs a caller.
func feedAlgorithm(c *gin.Context, def string, fixed bool) (string, error) {
	algorithm := c.DefaultQuery("algorithm", def)
	if fixed {
		algorithm = def
	}
	if !feedAlgorithms[algorithm] {
		return "", lokiz.ValidationError(fieldErr("must be latest, trending, personalized or following", "query", "algorithm"))
	}
	if algorithm == "following" && optionalUserID(c) == nil {
		return "", lokiz.Errorf(lokiz.EUNAUTHORIZED, "Sign in to see the videos of the creators you follow")
	}
	return algorithm, nil
}

func (s *Server) feed(c *gin.Context) { s.serveFeed(c, "latest", false) }

func (s *Server) followingFeed(c *gin.Context) { s.serveFeed(c, "following", true) }

func (s *Server) forYouFeed(c *gin.Context) { s.serveFeed(c, "personalized", true) }

// serveFeed pages a feed with the caller's flags resolved in one batch
// query per page, whatever the page size.
func (s *Server) serveFeed(c *gin.Context, def string, fixed bool) {
	ctx := c.Request.Context()
	algorithm, err := feedAlgorithm(c, def, fixed)
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	cacheKey := s.feedCacheKey(c, algorithm, viewer)
	if cacheKey != "" {
		if body, err := s.rdb.Get(ctx, cacheKey).Bytes(); err == nil {
			c.Header("X-Cache", "hit")
			c.Data(http.StatusOK, "application/json; charset=utf-8", body)
			return
		}
	}
	f, err := s.loadFeed(c, algorithm, viewer, 0)
	if err != nil {
		s.writeError(c, err)
		return
	}
	vs := make([]db.Video, len(f.rows))
	us := make([]db.User, len(f.rows))
	for i, r := range f.rows {
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
	res := feedResponse{Videos: items, Total: len(items), NextCursor: f.next, HasMore: f.more, PageSize: f.size, Algorithm: f.algorithm, FeedType: f.algorithm}
	if cacheKey == "" {
		c.JSON(http.StatusOK, res)
		return
	}
	body, err := json.Marshal(res)
	if err != nil {
		s.writeError(c, err)
		return
	}
	// A failed cache write costs the next caller a query, nothing more.
	if err := s.rdb.Set(ctx, cacheKey, body, s.cfg.FeedCacheTTL).Err(); err != nil {
		s.log.WarnContext(ctx, "cache feed page", "err", err)
	}
	c.Header("X-Cache", "miss")
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// feedCacheKey names the cached first page of latest or trending for an
// anonymous caller, or is "" when the request is not cached: a signed-in
// caller (flags and blocks differ per caller), a later page or another
// feed. The page is short-lived (FeedCacheTTL, seconds), so a new video
// shows up within that time; the key carries the page size as parsed, so
// spellings of the same request share it.
func (s *Server) feedCacheKey(c *gin.Context, algorithm string, viewer *uuid.UUID) string {
	if s.cfg.FeedCacheTTL <= 0 || viewer != nil || c.Query("cursor") != "" || (algorithm != "latest" && algorithm != "trending") {
		return ""
	}
	size, errs := parsePageSize(c, maxPageSize)
	if len(errs) > 0 {
		return ""
	}
	if size == 0 {
		size = defaultPageSize
	}
	return "lokiz:feedcache:" + algorithm + ":" + strconv.Itoa(size)
}

// withViewerFlags adds is_liked, is_bookmarked and is_following_author for
// a signed-in caller: one query for the whole page.
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
	flags, err := s.store.ViewerFlags(ctx, db.ViewerFlagsParams{ViewerID: *viewer, VideoIDs: ids, AuthorIds: authors})
	if err != nil {
		return nil, err
	}
	l, b, f := presence(ids, flags.Liked), presence(ids, flags.Bookmarked), presence(authors, flags.Following)
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
	count, err := prefetchCount(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f, err := s.loadFeed(c, algorithm, optionalUserID(c), count)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]prefetchItem, len(f.rows))
	for i, r := range f.rows {
		out[i] = prefetchItem{ID: r.Video.ID, VideoURL: s.videoMediaURL(ctx, r.Video, r.Video.ObjectKey), ThumbnailURL: s.videoMediaURL(ctx, r.Video, r.Video.ThumbnailKey),
			DurationSeconds: r.Video.DurationSeconds, AuthorID: r.Video.UserID}
	}
	if optionalUserID(c) == nil {
		c.Header("Cache-Control", "public, max-age=15")
	} else {
		c.Header("Cache-Control", "private, max-age=15")
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": f.next, "has_more": f.more, "algorithm": f.algorithm})
}
