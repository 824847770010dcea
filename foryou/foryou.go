// Package foryou ranks one user's personalized ("for you") feed. A ranking
// is the PersonalizedCandidates query (db/queries/video.sql: candidates and
// score) with creators spread out, stored as a trending.Ranking snapshot of
// its own so cursors page over a fixed order.
//
// Rankings are computed ahead of the read: the api serves the first page
// from the user's latest ranking, so a first page costs a Redis read instead
// of the candidates query. Only a user without a recent ranking (the first
// open, or after Fresh of inactivity) waits for one to be computed.
//
// A new ranking follows what changed, not how often the page is read: the
// api records when a user's signals change (SignalsChanged: a like, a
// follow, a block, a comment), and a first page asks the worker for a new
// ranking (a foryou:refresh task) only when the signals changed after the
// latest ranking was started, or that ranking is older than RefreshAfter
// (new videos of followed creators, a new trending ranking). A claim in
// Redis per user and reason makes that one request however many first
// pages are read meanwhile.
package foryou

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// RefreshAfter is the age after which a ranking is recomputed on the
	// next first page even when the user's signals did not change.
	RefreshAfter = 5 * time.Minute
	// claimTTL is how long one reason to refresh (a signal change, or one
	// ranking's age) is claimed: the first page that claims it enqueues the
	// refresh, the others within claimTTL do not.
	claimTTL = time.Minute
)

// SnapshotPrefix starts the snapshot name of every personalized ranking;
// a user's are SnapshotPrefix + "<user id>." + a timestamp.
const SnapshotPrefix = "foryou."

// A user's keys share the hash tag {<user id>}, so FirstPage's MGET of the
// pointer and the marker is one command on one node of a Redis Cluster
// (before the tag they were lokiz:foryou:latest:<id> and so on; a deploy
// that renames them leaves each user one synchronous ranking, as when the
// pointer expires).
func userKey(user, name string) string { return "lokiz:foryou:{" + user + "}:" + name }

// latestKey names the user's latest ranking; changedKey holds the unix
// nanoseconds of the last signal change; claimKey, one per refresh reason,
// is the claim on that refresh.
func latestKey(user string) string        { return userKey(user, "latest") }
func changedKey(user string) string       { return userKey(user, "changed") }
func claimKey(user, reason string) string { return userKey(user, "claim:"+reason) }

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
	snap, err := r.rdb.Get(ctx, latestKey(viewer.String())).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("foryou: latest ranking: %w", err)
	}
	return snap, nil
}

// FirstPage returns what a first page needs in one Redis round trip:
// viewer's latest ranking while it is fresh ("" when there is none), and
// whether this read should ask for a new one. refresh is true at most once
// per reason: signals that changed after the latest ranking was started, or
// a latest ranking older than RefreshAfter.
func (r *Ranker) FirstPage(ctx context.Context, viewer uuid.UUID) (snap string, refresh bool, err error) {
	user := viewer.String()
	vals, err := r.rdb.MGet(ctx, latestKey(user), changedKey(user)).Result()
	if err != nil {
		return "", false, fmt.Errorf("foryou: latest ranking: %w", err)
	}
	snap, _ = vals[0].(string)
	if snap == "" {
		return "", false, nil
	}
	changed, _ := vals[1].(string)
	reason := refreshReason(snap, changed, time.Now())
	if reason == "" {
		return snap, false, nil
	}
	ok, err := r.rdb.SetNX(ctx, claimKey(user, reason), 1, claimTTL).Result()
	if err != nil {
		return "", false, fmt.Errorf("foryou: claim refresh: %w", err)
	}
	return snap, ok, nil
}

// refreshReason says why the ranking snap should be recomputed at now, or
// "" when it should not: "signals.<changed>" when the signals changed (at
// changed, unix nanoseconds, "" when unknown) after snap was started,
// "age.<snap's stamp>" when snap is older than RefreshAfter. A snapshot
// name without a readable stamp counts as old.
func refreshReason(snap, changed string, now time.Time) string {
	stamp := snap[strings.LastIndexByte(snap, '.')+1:]
	ranked, err := strconv.ParseInt(stamp, 36, 64)
	if err != nil {
		return "age." + stamp
	}
	if c, err := strconv.ParseInt(changed, 10, 64); err == nil && c > ranked {
		return "signals." + changed
	}
	if now.Sub(time.Unix(0, ranked)) > RefreshAfter {
		return "age." + stamp
	}
	return ""
}

// SignalsChanged records that viewer's ranking signals (likes, follows,
// blocks, comments) changed now: the next first page asks for a new
// ranking. The record lives as long as a latest ranking (Fresh).
func (r *Ranker) SignalsChanged(ctx context.Context, viewer uuid.UUID) error {
	err := r.rdb.Set(ctx, changedKey(viewer.String()), strconv.FormatInt(time.Now().UnixNano(), 10), Fresh).Err()
	if err != nil {
		return fmt.Errorf("foryou: record signal change: %w", err)
	}
	return nil
}

// Refresh computes a new ranking for viewer, stores it and makes it the
// latest. It returns "" (and stores nothing) when viewer has nothing to
// rank. The ranking's name carries the time its computation started, so a
// signal that changes during the computation asks for the next one.
func (r *Ranker) Refresh(ctx context.Context, viewer uuid.UUID) (string, error) {
	started := time.Now()
	ids, err := r.Compute(ctx, viewer)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	snap := UserPrefix(viewer) + strconv.FormatInt(started.UnixNano(), 36)
	if err := r.ranking.Keep(ctx, snap, ids); err != nil {
		return "", err
	}
	if err := r.rdb.Set(ctx, latestKey(viewer.String()), snap, Fresh).Err(); err != nil {
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
