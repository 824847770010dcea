// Package trending keeps the trending ranking in Redis. The worker's
// trending:recompute task scores recent videos in Postgres (the formula is
// the TrendingScores query in db/queries/video.sql) and publishes the
// ranking as a new snapshot; readers page over one snapshot, so a cursor
// keeps its order while newer snapshots are published. A snapshot stays
// readable for an hour after it stops being current.
package trending

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

const (
	currentKey   = "lokiz:trending:current"
	snapshotKey  = "lokiz:trending:snapshot:"
	snapshotLife = time.Hour
)

// Ranking reads and publishes trending snapshots.
type Ranking struct {
	rdb redis.UniversalClient
}

// New returns a Ranking over rdb.
func New(rdb redis.UniversalClient) *Ranking { return &Ranking{rdb: rdb} }

// Publish stores ids (best first) as snapshot and then makes it current,
// so readers see either the old ranking or the whole new one. The pointer
// is set after the snapshot's transaction rather than inside it: the two
// keys hash to different slots of a Redis Cluster, where one MULTI cannot
// hold both.
func (r *Ranking) Publish(ctx context.Context, snapshot string, ids []uuid.UUID) error {
	return r.store(ctx, snapshot, ids, true)
}

// Keep stores ids (best first) as snapshot without making it current: a
// list of its own that cursors page over, such as one caller's "for you"
// feed.
func (r *Ranking) Keep(ctx context.Context, snapshot string, ids []uuid.UUID) error {
	return r.store(ctx, snapshot, ids, false)
}

func (r *Ranking) store(ctx context.Context, snapshot string, ids []uuid.UUID, current bool) error {
	key := snapshotKey + snapshot
	pipe := r.rdb.TxPipeline()
	pipe.Del(ctx, key)
	if len(ids) > 0 {
		members := make([]redis.Z, len(ids))
		for i, id := range ids {
			members[i] = redis.Z{Score: float64(i), Member: id.String()}
		}
		pipe.ZAdd(ctx, key, members...)
	}
	pipe.Expire(ctx, key, snapshotLife)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store ranking snapshot: %w", err)
	}
	if current {
		if err := r.rdb.Set(ctx, currentKey, snapshot, 0).Err(); err != nil {
			return fmt.Errorf("make ranking snapshot current: %w", err)
		}
	}
	return nil
}

// Current returns the current snapshot, or "" before the first one.
func (r *Ranking) Current(ctx context.Context) (string, error) {
	s, err := r.rdb.Get(ctx, currentKey).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("current trending snapshot: %w", err)
	}
	return s, nil
}

// ErrSnapshotGone means a cursor names a snapshot that expired.
var ErrSnapshotGone = errors.New("trending snapshot expired")

// Page returns the ids at ranks [offset, offset+count) of snapshot and
// whether ranks follow.
func (r *Ranking) Page(ctx context.Context, snapshot string, offset, count int) ([]uuid.UUID, bool, error) {
	key := snapshotKey + snapshot
	pipe := r.rdb.Pipeline()
	rng := pipe.ZRange(ctx, key, int64(offset), int64(offset+count-1))
	total := pipe.ZCard(ctx, key)
	exists := pipe.Exists(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, fmt.Errorf("read trending snapshot: %w", err)
	}
	if exists.Val() == 0 {
		return nil, false, ErrSnapshotGone
	}
	ids := make([]uuid.UUID, 0, len(rng.Val()))
	for _, m := range rng.Val() {
		id, err := uuid.Parse(m)
		if err != nil {
			return nil, false, fmt.Errorf("trending snapshot member %q: %w", m, err)
		}
		ids = append(ids, id)
	}
	return ids, int64(offset+count) < total.Val(), nil
}
