package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/trending"
)

// The personalized ("for you") feed is computed for the caller when a
// first page is asked for, stored as a ranking of its own for an hour, and
// paged like trending: a cursor holds its order and no video repeats. The
// candidates and the score are the PersonalizedCandidates query
// (db/queries/video.sql); this file orders them so that no creator appears
// twice in a row when another can come between.
const (
	forYouPrefix     = "foryou."
	forYouCandidates = 500
	forYouTrending   = 200 // trending videos offered as candidates
)

// personalizedFeed serves the caller's "for you" ranking. ok is false when
// there is nothing to personalize (no candidates) or the cursor is not a
// personalized one: the caller falls back to trending.
func (s *Server) personalizedFeed(c *gin.Context, viewer uuid.UUID, size int) (loadedFeed, bool, error) {
	ctx := c.Request.Context()
	pageSize, cur, ok, err := parseSnapshotPage(c, size)
	if !ok || err != nil {
		return loadedFeed{}, false, err
	}
	mine := forYouPrefix + viewer.String() + "."
	if cur.Snapshot != "" {
		if !strings.HasPrefix(cur.Snapshot, forYouPrefix) {
			return loadedFeed{}, false, nil // a trending cursor from the fallback
		}
		if !strings.HasPrefix(cur.Snapshot, mine) {
			return loadedFeed{}, false, lokiz.ValidationError(fieldErr("belongs to another user's feed", "query", "cursor"))
		}
		f, err := s.snapshotPage(ctx, &viewer, "personalized", cur, pageSize)
		return f, err == nil, cursorExpired(err)
	}
	ids, err := s.forYouRanking(ctx, viewer)
	if err != nil || len(ids) == 0 {
		return loadedFeed{}, false, err
	}
	snap := mine + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := s.trending.Keep(ctx, snap, ids); err != nil {
		return loadedFeed{}, false, err
	}
	f, err := s.snapshotPage(ctx, &viewer, "personalized", trendCursor{Snapshot: snap}, pageSize)
	return f, err == nil, err
}

// forYouRanking scores the caller's candidates and spreads creators out.
func (s *Server) forYouRanking(ctx context.Context, viewer uuid.UUID) ([]uuid.UUID, error) {
	var trendingIDs []uuid.UUID
	if snap, err := s.trending.Current(ctx); err != nil {
		return nil, err
	} else if snap != "" {
		ids, _, err := s.trending.Page(ctx, snap, 0, forYouTrending)
		if err != nil && !errors.Is(err, trending.ErrSnapshotGone) {
			return nil, err
		}
		trendingIDs = ids
	}
	if trendingIDs == nil {
		trendingIDs = []uuid.UUID{}
	}
	rows, err := s.store.PersonalizedCandidates(ctx, db.PersonalizedCandidatesParams{ViewerID: viewer, TrendingIds: trendingIDs, Lim: forYouCandidates})
	if err != nil {
		return nil, err
	}
	return spreadCreators(rows), nil
}

// spreadCreators keeps the score order except that the next video is the
// best one whose creator differs from the previous video's, when there is
// one. It is deterministic: the rows come ordered by score, then id.
func spreadCreators(rows []db.PersonalizedCandidatesRow) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(rows))
	left := rows
	var prev uuid.UUID
	for len(left) > 0 {
		pick := 0
		for i, r := range left {
			if r.UserID != prev {
				pick = i
				break
			}
		}
		out = append(out, left[pick].ID)
		prev = left[pick].UserID
		left = append(left[:pick:pick], left[pick+1:]...)
	}
	return out
}
