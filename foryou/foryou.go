// Package foryou ranks one user's personalized ("for you") feed. A ranking
// is the PersonalizedCandidates query (db/queries/video.sql: candidates and
// score) with creators spread out, stored as a trending.Ranking snapshot of
// its own so cursors page over a fixed order.
//
// Rankings are computed ahead of the read: the api serves the first page
// from the user's latest ranking while a foryou:refresh task computes the
// next one on the worker, so a first page costs a Redis read instead of the
// candidates query. Only a user without a recent ranking (the first open,
// or after Fresh of inactivity) waits for one to be computed.
package foryou

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/trending"
)

// Ranking sizes.
const (
	// Candidates is the longest ranking.
	Candidates = 500
	// TrendingCandidates are the trending videos offered as candidates.
	TrendingCandidates = 200
	// Fresh is how long a ranking is served as a user's first page: the
	// pointer to it lives this long (the snapshot itself an hour, so its
	// cursors outlive the pointer).
	Fresh = 15 * time.Minute
)

// SnapshotPrefix starts the snapshot name of every personalized ranking;
// a user's are SnapshotPrefix + "<user id>." + a timestamp.
const SnapshotPrefix = "foryou."

const latestKey = "lokiz:foryou:latest:"

// Ranker computes and finds users' rankings.
type Ranker struct {
	store   *db.Store
	rdb     redis.UniversalClient
	ranking *trending.Ranking
}

// New returns a Ranker.
func New(store *db.Store, rdb redis.UniversalClient, ranking *trending.Ranking) *Ranker {
	return &Ranker{store: store, rdb: rdb, ranking: ranking}
}

// UserPrefix is the prefix of viewer's snapshot names.
func UserPrefix(viewer uuid.UUID) string { return SnapshotPrefix + viewer.String() + "." }

// Latest returns the name of viewer's most recent ranking while it is
// fresh, or "" when there is none.
func (r *Ranker) Latest(ctx context.Context, viewer uuid.UUID) (string, error) {
	snap, err := r.rdb.Get(ctx, latestKey+viewer.String()).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("foryou: latest ranking: %w", err)
	}
	return snap, nil
}

// Refresh computes a new ranking for viewer, stores it and makes it the
// latest. It returns "" (and stores nothing) when viewer has nothing to
// rank.
func (r *Ranker) Refresh(ctx context.Context, viewer uuid.UUID) (string, error) {
	ids, err := r.Compute(ctx, viewer)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	snap := UserPrefix(viewer) + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := r.ranking.Keep(ctx, snap, ids); err != nil {
		return "", err
	}
	if err := r.rdb.Set(ctx, latestKey+viewer.String(), snap, Fresh).Err(); err != nil {
		return "", fmt.Errorf("foryou: remember ranking: %w", err)
	}
	return snap, nil
}

// Compute scores viewer's candidates (trending's current ranking among
// them) and spreads creators out.
func (r *Ranker) Compute(ctx context.Context, viewer uuid.UUID) ([]uuid.UUID, error) {
	trendingIDs := []uuid.UUID{}
	if snap, err := r.ranking.Current(ctx); err != nil {
		return nil, err
	} else if snap != "" {
		ids, _, err := r.ranking.Page(ctx, snap, 0, TrendingCandidates)
		if err != nil && !errors.Is(err, trending.ErrSnapshotGone) {
			return nil, err
		}
		if ids != nil {
			trendingIDs = ids
		}
	}
	rows, err := r.store.PersonalizedCandidates(ctx, db.PersonalizedCandidatesParams{ViewerID: viewer, TrendingIds: trendingIDs, Lim: Candidates})
	if err != nil {
		return nil, fmt.Errorf("foryou: candidates: %w", err)
	}
	return SpreadCreators(rows), nil
}

// SpreadCreators keeps the score order except that the next video is the
// best one whose creator differs from the previous video's, when there is
// one. It is deterministic: the rows come ordered by score, then id.
func SpreadCreators(rows []db.PersonalizedCandidatesRow) []uuid.UUID {
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
