// Package activity counts the platform's active users: DAU, WAU and MAU
// (issue 15, point 4).
//
// Every authenticated request calls Tracker.Touch with its user. A user is
// added with PFADD to the HyperLogLog of the current UTC day
// ("<prefix>{dau}:2006-01-02"), at most once per user per Dedup window per
// process: a small in-process set remembers who was added recently, so
// the hot path is a map lookup under a mutex, and the PFADD itself runs
// in the background with a short timeout, never in the request.
//
// Counts: DAU is PFCOUNT of the day's key; WAU and MAU are PFCOUNT over the
// 7 or 30 day keys ending today, which Redis computes as the count of their
// union (a user active on several days counts once). HyperLogLog's
// standard error is 0.81%; below a few hundred users Redis's sparse
// encoding is close to exact.
//
// Flush (the worker's stats:flush task) writes each day's count, its 7- and
// 30-day unions and the sketch itself (Redis's serialization of the key) to
// platform_daily_stats. When Redis loses its keys, Counts merges the stored
// sketches back (PFMERGE is idempotent: merging a sketch twice changes
// nothing), so the history survives a Redis restart with the precision it
// had; only the users added since the last flush are lost.
package activity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/db"
)

// Defaults of Config.
const (
	DefaultDedup   = 5 * time.Minute
	DefaultTimeout = 250 * time.Millisecond
	DefaultPrefix  = "lokiz:"
	// KeyTTL keeps a day's key for the MAU window and some slack; older
	// days live in platform_daily_stats.
	KeyTTL = 35 * 24 * time.Hour
	// maxSeen bounds the in-process set; it is cleared when full (a user
	// is then added again, which PFADD ignores).
	maxSeen = 200_000
)

// Config configures a Tracker.
type Config struct {
	Redis redis.UniversalClient
	Store *db.Store
	// Prefix starts every key (default "lokiz:"); tests use a unique one.
	Prefix string
	// Dedup is how long a user added by this process is not added again
	// (default 5 minutes); a new UTC day always adds again.
	Dedup time.Duration
	// Timeout bounds one background PFADD (default 250 ms).
	Timeout time.Duration
	// Now is the clock (default time.Now); tests move it.
	Now    func() time.Time
	Logger *slog.Logger
}

// Tracker counts active users.
type Tracker struct {
	rdb     redis.UniversalClient
	store   *db.Store
	prefix  string
	dedup   time.Duration
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex
	day  string
	seen map[uuid.UUID]time.Time
	wg   sync.WaitGroup
}

// New returns a Tracker.
func New(cfg Config) *Tracker {
	t := &Tracker{rdb: cfg.Redis, store: cfg.Store, prefix: cfg.Prefix, dedup: cfg.Dedup,
		timeout: cfg.Timeout, now: cfg.Now, log: cfg.Logger, seen: map[uuid.UUID]time.Time{}}
	if t.prefix == "" {
		t.prefix = DefaultPrefix
	}
	if t.dedup <= 0 {
		t.dedup = DefaultDedup
	}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t
}

// Day is the UTC date of t, as the keys and platform_daily_stats name it.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Key is the Redis key of a day's sketch. The {dau} hash tag keeps all days
// in one cluster slot, so PFCOUNT and PFMERGE over several days work.
func (t *Tracker) Key(day time.Time) string {
	return t.prefix + "{dau}:" + day.UTC().Format(time.DateOnly)
}

// Touch records that user was active now. It never blocks on Redis.
func (t *Tracker) Touch(user uuid.UUID) {
	now := t.now()
	key := t.Key(Day(now))
	t.mu.Lock()
	if key != t.day || len(t.seen) >= maxSeen {
		t.day = key
		clear(t.seen)
	}
	if last, ok := t.seen[user]; ok && now.Sub(last) < t.dedup {
		t.mu.Unlock()
		return
	}
	t.seen[user] = now
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
		defer cancel()
		pipe := t.rdb.Pipeline()
		pipe.PFAdd(ctx, key, user.String())
		pipe.Expire(ctx, key, KeyTTL)
		if _, err := pipe.Exec(ctx); err != nil {
			t.mu.Lock()
			if t.day == key {
				delete(t.seen, user) // try again on the next request
			}
			t.mu.Unlock()
			t.log.Warn("count active user", "error", err)
		}
	}()
}

// Wait waits for the background adds started so far (tests, shutdown).
func (t *Tracker) Wait() { t.wg.Wait() }

// Counts are the active users of the day ending at At and of the 7 and 30
// days ending there.
type Counts struct {
	Day time.Time `json:"day"`
	DAU int64     `json:"dau"`
	WAU int64     `json:"wau"`
	MAU int64     `json:"mau"`
}

func (t *Tracker) window(day time.Time, n int) []string {
	keys := make([]string, n)
	for i := range n {
		keys[i] = t.Key(day.AddDate(0, 0, -i))
	}
	return keys
}

// Counts counts the active users of the UTC day of at, and of the 7 and 30
// days ending with it, after merging back any stored day whose key is
// missing.
func (t *Tracker) Counts(ctx context.Context, at time.Time) (Counts, error) {
	day := Day(at)
	if err := t.restore(ctx, day, false); err != nil {
		return Counts{}, err
	}
	pipe := t.rdb.Pipeline()
	dau := pipe.PFCount(ctx, t.Key(day))
	wau := pipe.PFCount(ctx, t.window(day, 7)...)
	mau := pipe.PFCount(ctx, t.window(day, 30)...)
	if _, err := pipe.Exec(ctx); err != nil {
		return Counts{}, fmt.Errorf("count active users: %w", err)
	}
	return Counts{Day: day, DAU: dau.Val(), WAU: wau.Val(), MAU: mau.Val()}, nil
}

// restore merges the stored sketches of the 30 days ending at day into
// Redis: those whose key is missing, or all of them when all is set (the
// flush, which must not overwrite a day that Redis lost and refilled since
// with less than it had).
func (t *Tracker) restore(ctx context.Context, day time.Time, all bool) error {
	keys := t.window(day, 30)
	missing := map[string]bool{}
	if !all {
		pipe := t.rdb.Pipeline()
		exists := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			exists[i] = pipe.Exists(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("check active-user keys: %w", err)
		}
		for i, e := range exists {
			if e.Val() == 0 {
				missing[keys[i]] = true
			}
		}
		if len(missing) == 0 {
			return nil
		}
	}
	rows, err := t.store.PlatformDays(ctx, db.PlatformDaysParams{First: day.AddDate(0, 0, -29), Last: day})
	if err != nil {
		return fmt.Errorf("load stored active-user days: %w", err)
	}
	pipe := t.rdb.Pipeline()
	n := 0
	for _, r := range rows {
		key := t.Key(r.Day)
		if !all && !missing[key] {
			continue
		}
		tmp := key + ":restore:" + uuid.NewString()
		pipe.Set(ctx, tmp, r.Hll, time.Minute)
		pipe.PFMerge(ctx, key, key, tmp)
		pipe.Expire(ctx, key, KeyTTL)
		pipe.Del(ctx, tmp)
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("restore active-user days: %w", err)
	}
	return nil
}

// Flush stores the day of at: its count, its 7- and 30-day unions, the
// users and videos created that day, and its sketch. Running it again
// rewrites the same row with what Redis holds then (never less: stored
// sketches are merged back first), so it is idempotent.
func (t *Tracker) Flush(ctx context.Context, at time.Time) (Counts, error) {
	day := Day(at)
	if err := t.restore(ctx, day, true); err != nil {
		return Counts{}, err
	}
	counts, err := t.Counts(ctx, day)
	if err != nil {
		return Counts{}, err
	}
	key := t.Key(day)
	raw, err := t.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		// Nobody active that day: store an empty sketch (PFADD without
		// elements creates one) so the row still says so.
		tmp := key + ":empty:" + uuid.NewString()
		pipe := t.rdb.Pipeline()
		pipe.PFAdd(ctx, tmp)
		get := pipe.Get(ctx, tmp)
		pipe.Del(ctx, tmp)
		if _, err := pipe.Exec(ctx); err != nil {
			return Counts{}, fmt.Errorf("make an empty sketch: %w", err)
		}
		raw, err = get.Bytes()
	}
	if err != nil {
		return Counts{}, fmt.Errorf("read active-user sketch: %w", err)
	}
	news, err := t.store.PlatformNewOnDay(ctx, db.PlatformNewOnDayParams{DayStart: day, DayEnd: day.AddDate(0, 0, 1)})
	if err != nil {
		return Counts{}, fmt.Errorf("count the day's new users and videos: %w", err)
	}
	if err := t.store.UpsertPlatformDay(ctx, db.UpsertPlatformDayParams{
		Day: day, Dau: counts.DAU, Wau: counts.WAU, Mau: counts.MAU,
		NewUsers: news.NewUsers, NewVideos: news.NewVideos, Hll: raw,
	}); err != nil {
		return Counts{}, fmt.Errorf("store platform day: %w", err)
	}
	return counts, nil
}
