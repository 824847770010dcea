package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// Search limits.
const (
	maxQueryRunes        = 100
	searchHistoryKeep    = 50
	autocompleteMax      = 10
	defaultSearchResults = 20
)

// likePattern escapes LIKE's wildcards so a query is matched literally (B-32).
func likePattern(q string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
}

// normalizeQuery is how history deduplicates and suggestions group queries.
func normalizeQuery(q string) string {
	return strings.ToLower(strings.Join(strings.Fields(q), " "))
}

// searchQuery reads and checks q: 1–100 characters after trimming.
func searchQuery(c *gin.Context) (string, error) {
	q := strings.TrimSpace(c.Query("q"))
	if q == "" {
		return "", lokiz.ValidationError(fieldErr("is required", "query", "q"))
	}
	if utf8.RuneCountInString(q) > maxQueryRunes || !utf8.ValidString(q) {
		return "", lokiz.ValidationError(fieldErr("must be at most 100 characters", "query", "q"))
	}
	return q, nil
}

type searchUser struct {
	lokiz.UserBasic
	Bio         *string `json:"bio"`
	IsFollowing bool    `json:"is_following"`
}

// shortQuery reports whether q is too short for pg_trgm to narrow a
// substring search (one or two characters, such as "댄스"): those searches
// go to the *Short queries and their short_grams indexes.
func shortQuery(q string) bool { return utf8.RuneCountInString(q) <= 2 }

func (s *Server) findUsers(ctx context.Context, q string, viewer *uuid.UUID, limit int) ([]searchUser, error) {
	var rows []db.SearchUsersRow
	var err error
	if shortQuery(q) {
		var short []db.SearchUsersShortRow
		short, err = s.store.SearchUsersShort(ctx, db.SearchUsersShortParams{Pattern: likePattern(q), Q: q, ViewerID: viewer, Lim: int32(limit)})
		for _, r := range short {
			rows = append(rows, db.SearchUsersRow(r))
		}
	} else {
		rows, err = s.store.SearchUsers(ctx, db.SearchUsersParams{Pattern: likePattern(q), Q: q, ViewerID: viewer, Lim: int32(limit)})
	}
	if err != nil {
		return nil, err
	}
	out := make([]searchUser, len(rows))
	for i, r := range rows {
		out[i] = searchUser{UserBasic: s.basicUser(ctx, r.User), Bio: r.User.Bio, IsFollowing: r.IsFollowing}
	}
	return out, nil
}

func (s *Server) findVideos(ctx context.Context, q string, viewer *uuid.UUID, limit int) ([]videoResponse, error) {
	var rows []db.SearchVideosRow
	var err error
	if shortQuery(q) {
		var short []db.SearchVideosShortRow
		short, err = s.store.SearchVideosShort(ctx, db.SearchVideosShortParams{Q: q, ViewerID: viewer, Lim: int32(limit)})
		for _, r := range short {
			rows = append(rows, db.SearchVideosRow(r))
		}
	} else {
		rows, err = s.store.SearchVideos(ctx, db.SearchVideosParams{Pattern: likePattern(q), Q: q, ViewerID: viewer, Lim: int32(limit)})
	}
	if err != nil {
		return nil, err
	}
	vs := make([]db.Video, len(rows))
	us := make([]db.User, len(rows))
	for i, r := range rows {
		vs[i], us[i] = r.Video, r.User
	}
	return s.videoResponses(ctx, vs, us)
}

type searchHashtag struct {
	Name     string `json:"name"`
	UseCount int32  `json:"use_count"`
}

func (s *Server) findHashtags(ctx context.Context, q string, limit int) ([]searchHashtag, error) {
	rows, err := s.store.SearchHashtags(ctx, db.SearchHashtagsParams{Prefix: normalizeTag(q), Lim: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]searchHashtag, len(rows))
	for i, r := range rows {
		out[i] = searchHashtag{Name: r.Name, UseCount: r.UseCount}
	}
	return out, nil
}

// remember records a signed-in caller's search in their history; failing
// to remember never fails the search.
func (s *Server) remember(c *gin.Context, q string) {
	viewer := optionalUserID(c)
	if viewer == nil {
		return
	}
	if err := s.recordSearch(c.Request.Context(), *viewer, q); err != nil {
		s.log.WarnContext(c.Request.Context(), "search history not recorded", "error", err)
	}
}

func (s *Server) recordSearch(ctx context.Context, user uuid.UUID, q string) error {
	if _, err := s.store.SearchHistoryRecord(ctx, db.SearchHistoryRecordParams{ID: db.NewID(), UserID: user, Query: q, Normalized: normalizeQuery(q)}); err != nil {
		return err
	}
	_, err := s.store.SearchHistoryTrim(ctx, db.SearchHistoryTrimParams{UserID: user, Keep: searchHistoryKeep})
	return err
}

func (s *Server) searchUsers(c *gin.Context) {
	q, err := searchQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	limit, err := limitParam(c, defaultSearchResults)
	if err != nil {
		s.writeError(c, err)
		return
	}
	users, err := s.findUsers(c.Request.Context(), q, optionalUserID(c), limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.remember(c, q)
	c.JSON(http.StatusOK, gin.H{"users": users, "total": len(users)})
}

func (s *Server) searchVideos(c *gin.Context) {
	q, err := searchQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	limit, err := limitParam(c, defaultSearchResults)
	if err != nil {
		s.writeError(c, err)
		return
	}
	videos, err := s.findVideos(c.Request.Context(), q, optionalUserID(c), limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.remember(c, q)
	c.JSON(http.StatusOK, gin.H{"videos": videos, "total": len(videos)})
}

// searchAll answers users, videos and hashtags for one query.
func (s *Server) searchAll(c *gin.Context) {
	ctx := c.Request.Context()
	q, err := searchQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	users, err := s.findUsers(ctx, q, viewer, 10)
	if err != nil {
		s.writeError(c, err)
		return
	}
	videos, err := s.findVideos(ctx, q, viewer, 20)
	if err != nil {
		s.writeError(c, err)
		return
	}
	tags, err := s.findHashtags(ctx, q, 10)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.remember(c, q)
	c.JSON(http.StatusOK, gin.H{"users": users, "videos": videos, "hashtags": tags,
		"user_count": len(users), "video_count": len(videos)})
}

type suggestion struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Value string `json:"value"`
	Count *int64 `json:"count"`
}

// autocompleteCacheTTL is how long the hashtag and keyword suggestions for
// a prefix are shared: the same for every caller, and the response already
// lets the client keep it this long.
const autocompleteCacheTTL = 30 * time.Second

// autocompleteCacheKey names the cached term suggestions of a prefix. It
// names the database too, so that servers of different databases sharing
// one Redis (tests, staging) never answer with each other's terms.
func autocompleteCacheKey(database, kind, prefix string) string {
	return "lokiz:autocomplete:" + database + ":" + kind + ":" + prefix
}

// autocompleteHistoryMax is how many of the caller's own searches a
// suggestion list carries at most.
const autocompleteHistoryMax = 3

// autocomplete suggests up to 10 users (@name), the caller's own recent
// searches (history), hashtags (#tag with count) and keywords (searches
// of at least AutocompleteMinSearchers users) for a prefix. "@" or "#" in
// front narrows to users or hashtags. The users and the caller's own
// searches are read for each caller (blocks differ; a history is private);
// the hashtags and keywords come from termSuggestions, which are shared.
func (s *Server) autocomplete(c *gin.Context) {
	ctx := c.Request.Context()
	q, err := searchQuery(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	kind := ""
	switch q[0] {
	case '@':
		kind, q = "user", q[1:]
	case '#':
		kind, q = "hashtag", q[1:]
	}
	prefix := strings.ToLower(q)
	out := []suggestion{}
	if prefix == "" {
		c.JSON(http.StatusOK, gin.H{"suggestions": out})
		return
	}
	viewer := optionalUserID(c)
	if kind == "" || kind == "user" {
		names, err := s.store.AutocompleteUsers(ctx, db.AutocompleteUsersParams{Prefix: prefix, ViewerID: viewer, Lim: 4})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, name := range names {
			out = append(out, suggestion{Type: "user", Text: "@" + name, Value: name})
		}
	}
	own := map[string]bool{} // the caller's own searches, by normalized query
	if kind == "" && viewer != nil {
		rows, err := s.store.AutocompleteHistory(ctx, db.AutocompleteHistoryParams{UserID: *viewer,
			Prefix: normalizeQuery(prefix), Lim: autocompleteHistoryMax})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, r := range rows {
			own[r.Normalized] = true
			out = append(out, suggestion{Type: "history", Text: r.Query, Value: r.Query})
		}
	}
	if kind == "" || kind == "hashtag" {
		terms, hit, err := s.termSuggestions(ctx, kind, prefix)
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, t := range terms {
			if t.Type == "keyword" && own[t.Value] {
				continue // already suggested as the caller's own search
			}
			out = append(out, t)
		}
		if hit {
			c.Header("X-Cache", "hit")
		} else {
			c.Header("X-Cache", "miss")
		}
	}
	if len(out) > autocompleteMax {
		out = out[:autocompleteMax]
	}
	c.Header("Cache-Control", "private, max-age=30")
	c.JSON(http.StatusOK, gin.H{"suggestions": out})
}

// termSuggestions are the hashtag suggestions for prefix and, when kind is
// "", the keyword ones: queries that at least AutocompleteMinSearchers
// distinct users searched in the last lokiz.KeywordDays days, so that no
// one person's search is shown to others. They are the same for every
// caller and hold nothing of one caller's: the answer is kept in Redis for
// autocompleteCacheTTL and shared by all callers; hit says it came from
// there. Without Redis it is computed for each call.
func (s *Server) termSuggestions(ctx context.Context, kind, prefix string) (out []suggestion, hit bool, err error) {
	key := autocompleteCacheKey(s.store.Pool().Config().ConnConfig.Database, kind, prefix)
	if body, err := s.rdb.Get(ctx, key).Bytes(); err == nil && json.Unmarshal(body, &out) == nil {
		return out, true, nil
	}
	out = []suggestion{}
	tags, err := s.findHashtags(ctx, prefix, 4)
	if err != nil {
		return nil, false, err
	}
	for _, t := range tags {
		n := int64(t.UseCount)
		out = append(out, suggestion{Type: "hashtag", Text: "#" + t.Name, Value: t.Name, Count: &n})
	}
	if kind == "" {
		rows, err := s.store.AutocompleteKeywords(ctx, db.AutocompleteKeywordsParams{Prefix: normalizeQuery(prefix),
			SinceDay: lokiz.KeywordSince(time.Now()), MinSearchers: int64(s.cfg.AutocompleteMinSearchers), Lim: autocompleteMax})
		if err != nil {
			return nil, false, err
		}
		for _, r := range rows {
			n := r.Uses
			out = append(out, suggestion{Type: "keyword", Text: r.Normalized, Value: r.Normalized, Count: &n})
		}
	}
	if body, err := json.Marshal(out); err == nil {
		// A failed write costs the next caller the queries, nothing more.
		if err := s.rdb.Set(ctx, key, body, autocompleteCacheTTL).Err(); err != nil {
			s.log.WarnContext(ctx, "cache autocomplete terms", "err", err)
		}
	}
	return out, false, nil
}

type historyEntry struct {
	ID        uuid.UUID `json:"id"`
	Query     string    `json:"query"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listSearchHistory(c *gin.Context) {
	rows, err := s.store.SearchHistoryList(c.Request.Context(), db.SearchHistoryListParams{UserID: mustUser(c).ID, Lim: searchHistoryKeep})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]historyEntry, len(rows))
	for i, r := range rows {
		out[i] = historyEntry{ID: r.ID, Query: r.Query, CreatedAt: r.CreatedAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"history": out})
}

type historyRequest struct {
	Query string `json:"query"`
}

func (r *historyRequest) validate() []lokiz.FieldError {
	r.Query = strings.TrimSpace(r.Query)
	if n := utf8.RuneCountInString(r.Query); n == 0 || n > maxQueryRunes {
		return []lokiz.FieldError{fieldErr("must be 1 to 100 characters", "body", "query")}
	}
	return nil
}

func (s *Server) addSearchHistory(c *gin.Context) {
	var req historyRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.recordSearch(c.Request.Context(), mustUser(c).ID, req.Query); err != nil {
		s.writeError(c, err)
		return
	}
	s.listSearchHistory(c)
}

func (s *Server) deleteSearchHistory(c *gin.Context) {
	id, err := pathUUID(c, "history_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	n, err := s.store.SearchHistoryDelete(c.Request.Context(), db.SearchHistoryDeleteParams{ID: id, UserID: mustUser(c).ID})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if n == 0 {
		s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Search history entry not found"))
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) clearSearchHistory(c *gin.Context) {
	if _, err := s.store.SearchHistoryClear(c.Request.Context(), mustUser(c).ID); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
