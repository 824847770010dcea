// Package views counts video views in Redis and moves the counts to
// Postgres in batches (DESIGN.md §3.8). The api records a view with one Redis
// round trip; the worker's views:flush task applies what accumulated.
//
// The hand-off is exactly once. Flush renames the pending hash to a batch key
// named by a fresh batch id and lists that key in an in-flight set, in one
// atomic script. A batch is applied in one Postgres transaction that also
// inserts its id into view_flush_batches, so a batch applied twice (a crash
// after the commit but before the Redis clean-up, or two flushers at once)
// changes nothing the second time. Only after the commit is the batch key
// deleted. A crash anywhere leaves the batch in the in-flight set, and the
// next flush replays it.
package views

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/internal/keyedmac"
)

// Redis keys. They share the {views} hash tag so the scripts stay valid on a
// Redis Cluster (every key of one script in one slot).
const (
	pendingKey  = "lokiz:{views}:pending"
	inflightKey = "lokiz:{views}:inflight"
	batchPrefix = "lokiz:{views}:batch:"
	seenPrefix  = "lokiz:{views}:seen:"
	// anonIPPrefix + video + ":" + hashed IP counts the anonymous views of
	// a video counted from one client IP in the dedupe window.
	anonIPPrefix = "lokiz:{views}:anonip:"
	// rateLimitPrefix + client counts a client's view requests per minute.
	rateLimitPrefix = "lokiz:{views}:rl:"
)

// DedupeWindow is how long one viewer counts once per video (CONTRACT.md §3).
const DedupeWindow = 24 * time.Hour

// Sources a view may come from (CONTRACT.md §3); anything else is "other".
var Sources = []string{"feed", "search", "profile", "share", "external"}

// ValidSource reports whether s is a known source ("" is allowed: other).
func ValidSource(s string) bool {
	if s == "" {
		return true
	}
	for _, known := range Sources {
		if s == known {
			return true
		}
	}
	return false
}

// Counter records views. DedupeWindow is how long one viewer counts once
// per video (24 h by the contract).
type Counter struct {
	rdb          redis.UniversalClient
	mac          *keyedmac.MAC // over key, for keyedHash
	dedupeWindow time.Duration
	now          func() time.Time
}

// NewCounter returns a Counter; secret keys the hash that turns an
// anonymous viewer's IP and User-Agent into an opaque id.
func NewCounter(rdb redis.UniversalClient, secret string, dedupeWindow time.Duration) *Counter {
	return &Counter{rdb: rdb, mac: keyedmac.New(counterKey(secret)), dedupeWindow: dedupeWindow, now: time.Now}
}

// counterKey is the key of the viewer hashes, derived from the app secret.
func counterKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("lokiz-views"))
	return mac.Sum(nil)
}

// ViewerID identifies a viewer for deduplication: the user id when signed
// in, else a keyed hash of IP and User-Agent (never stored in clear).
func (c *Counter) ViewerID(userID *uuid.UUID, ip, userAgent string) string {
	if userID != nil {
		return "u:" + userID.String()
	}
	return "a:" + c.keyedHash(ip, userAgent)
}

// clientHash is a keyed hash of a client IP alone, for the per-IP cap on
// anonymous viewers.
func (c *Counter) clientHash(ip string) string {
	return c.keyedHash("ip", ip)
}

// keyedHash is the hex of the first 16 bytes of HMAC-SHA256(key, a "\x00"
// b): ViewerID hashes (ip, user agent), clientHash ("ip", ip).
func (c *Counter) keyedHash(a, b string) string {
	var out string
	c.mac.Sum(func(msg []byte) []byte { return append(append(append(msg, a...), 0), b...) },
		func(sum []byte) { out = hex.EncodeToString(sum[:16]) })
	return out
}

// recordScript counts a view unless this viewer was counted for this video
// within the window, and returns {counted, pending views of the video, rate
// limit ms left}; the pending figure includes batches taken by a flush but not
// yet applied. The per-client rate limit (KEYS[4], ARGV[6] hits per ARGV[7]
// ms) is part of the same call, so a view costs one round trip. When
// ARGV[8] > 0, KEYS[5] counts the views of this video counted from the
// viewer's IP in the window, and a view past ARGV[8] of them does not
// count (nor mark the viewer as seen, so it may count once the IP's window
// ends). A counted view with a watch time also counts as a view that
// reported one (n:), and one with a country (ARGV[9], "" when unknown)
// counts for that country (c:).
var recordScript = redis.NewScript(`
if tonumber(ARGV[6]) > 0 then
	local hits = redis.call('INCR', KEYS[4])
	if hits == 1 then
		redis.call('PEXPIRE', KEYS[4], ARGV[7])
	end
	if hits > tonumber(ARGV[6]) then
		local ttl = redis.call('PTTL', KEYS[4])
		if ttl < 1 then ttl = 1 end
		return {0, 0, ttl}
	end
end
local counted = 0
local cap = tonumber(ARGV[8])
if redis.call('EXISTS', KEYS[1]) == 0 and (cap == 0 or tonumber(redis.call('GET', KEYS[5]) or '0') < cap) then
	redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
	if cap > 0 and redis.call('INCR', KEYS[5]) == 1 then
		redis.call('PEXPIRE', KEYS[5], ARGV[1])
	end
	redis.call('HINCRBY', KEYS[2], 't:' .. ARGV[2], 1)
	redis.call('HINCRBY', KEYS[2], 'd:' .. ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[4], 1)
	local watch = tonumber(ARGV[5])
	if watch > 0 then
		redis.call('HINCRBY', KEYS[2], 'w:' .. ARGV[2] .. ':' .. ARGV[3], watch)
		redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[2] .. ':' .. ARGV[3], 1)
	end
	if ARGV[9] ~= '' then
		redis.call('HINCRBY', KEYS[2], 'c:' .. ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[9], 1)
	end
	counted = 1
end
local total = tonumber(redis.call('HGET', KEYS[2], 't:' .. ARGV[2]) or '0')
for _, batch in ipairs(redis.call('SMEMBERS', KEYS[3])) do
	total = total + tonumber(redis.call('HGET', batch, 't:' .. ARGV[2]) or '0')
end
return {counted, total, 0}
`)

// NormalizeCountry returns the upper-case two-letter country code in h, or
// "" when h is not one or names no country: XX and the T1 (Tor) of common
// proxies, and anything else than two ASCII letters.
func NormalizeCountry(h string) string {
	h = strings.ToUpper(strings.TrimSpace(h))
	if len(h) != 2 || h[0] < 'A' || h[0] > 'Z' || h[1] < 'A' || h[1] > 'Z' || h == "XX" {
		return ""
	}
	return h
}

// View is one view event.
type View struct {
	VideoID     uuid.UUID
	Viewer      string // from ViewerID
	Source      string // one of Sources, or "" (other)
	WatchTimeMS int64
	// Country is the viewer's ISO 3166-1 alpha-2 code from a trusted proxy
	// header, or "" when unknown (see NormalizeCountry).
	Country string
	// Client and Limit rate-limit view requests: at most Limit per minute
	// per Client (an IP). Limit 0 disables the limit.
	Client string
	Limit  int
	// AnonPerIP caps anonymous viewers (a Viewer from ViewerID without a
	// user): at most AnonPerIP of them count for this video per Client in
	// the dedupe window, whatever their User-Agent. 0 disables the cap.
	AnonPerIP int
}

// RateLimitedError says a client sent more views than its limit allows.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("view rate limit exceeded; retry after %s", e.RetryAfter)
}

// Record counts v at most once per viewer and window, in one round trip.
// It returns whether it counted and the video's views not yet in Postgres,
// or a *RateLimitedError.
func (c *Counter) Record(ctx context.Context, v View) (counted bool, pending int64, err error) {
	source := v.Source
	if source == "" {
		source = "other"
	}
	day := c.now().UTC().Format(time.DateOnly)
	// The window starts at a client's first request (the script sets the
	// expiry then), so a burst cannot straddle two windows.
	rateKey := rateLimitPrefix + v.Client
	// Every key is declared (Redis Cluster routes on them); the per-IP one
	// is only touched when capN > 0.
	capN, anonKey := 0, anonIPPrefix+"none"
	if v.AnonPerIP > 0 && strings.HasPrefix(v.Viewer, "a:") {
		capN, anonKey = v.AnonPerIP, anonIPPrefix+v.VideoID.String()+":"+c.clientHash(v.Client)
	}
	res, err := recordScript.Run(ctx, c.rdb,
		[]string{seenPrefix + v.VideoID.String() + ":" + v.Viewer, pendingKey, inflightKey, rateKey, anonKey},
		c.dedupeWindow.Milliseconds(), v.VideoID.String(), day, source, max(v.WatchTimeMS, 0),
		v.Limit, int64(60_000), capN, NormalizeCountry(v.Country),
	).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("record view: %w", err)
	}
	if res[2] > 0 {
		return false, 0, &RateLimitedError{RetryAfter: time.Duration(res[2]) * time.Millisecond}
	}
	return res[0] == 1, res[1], nil
}

// pendingScript sums the pending views of several videos, in-flight batches included.
var pendingScript = redis.NewScript(`
local out = {}
local batches = redis.call('SMEMBERS', KEYS[2])
for i, video in ipairs(ARGV) do
	local total = tonumber(redis.call('HGET', KEYS[1], 't:' .. video) or '0')
	for _, batch in ipairs(batches) do
		total = total + tonumber(redis.call('HGET', batch, 't:' .. video) or '0')
	end
	out[i] = total
end
return out
`)

// Pending returns, per video, the views counted but not yet flushed, so
// responses can add them to the stored view_count.
func (c *Counter) Pending(ctx context.Context, ids ...uuid.UUID) (map[uuid.UUID]int64, error) {
	out := make(map[uuid.UUID]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id.String()
	}
	res, err := pendingScript.Run(ctx, c.rdb, []string{pendingKey, inflightKey}, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("pending views: %w", err)
	}
	for i, id := range ids {
		out[id] = res[i]
	}
	return out, nil
}

// takeScript moves the pending hash to a new batch key and lists it as in
// flight, atomically; it returns 1 when there was anything to take.
var takeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], KEYS[2])
return 1
`)

// Flusher applies counted views to Postgres.
type Flusher struct {
	rdb   redis.UniversalClient
	store *db.Store
}

// NewFlusher returns a Flusher.
func NewFlusher(rdb redis.UniversalClient, store *db.Store) *Flusher {
	return &Flusher{rdb: rdb, store: store}
}

// FlushResult says what one flush did.
type FlushResult struct {
	Batches  int   // batches applied (replays of applied batches not counted)
	Replayed int   // batches found already applied and only cleaned up
	Views    int64 // views added to videos.view_count
}

// Flush takes what is pending into a new batch, then applies every batch in
// flight, including those a crashed flush left behind.
func (f *Flusher) Flush(ctx context.Context) (FlushResult, error) {
	var res FlushResult
	batchKey := batchPrefix + db.NewID().String()
	if err := takeScript.Run(ctx, f.rdb, []string{pendingKey, batchKey, inflightKey}).Err(); err != nil {
		return res, fmt.Errorf("take pending views: %w", err)
	}
	keys, err := f.rdb.SMembers(ctx, inflightKey).Result()
	if err != nil {
		return res, fmt.Errorf("list view batches: %w", err)
	}
	sort.Strings(keys) // oldest first: batch ids are UUIDv7
	for _, key := range keys {
		applied, views, err := f.apply(ctx, key)
		if err != nil {
			return res, err
		}
		if applied {
			res.Batches++
			res.Views += views
		} else {
			res.Replayed++
		}
	}
	return res, nil
}

// apply writes one batch to Postgres (once) and then removes it from Redis.
func (f *Flusher) apply(ctx context.Context, key string) (applied bool, views int64, err error) {
	fields, err := f.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return false, 0, fmt.Errorf("read view batch %s: %w", key, err)
	}
	if len(fields) > 0 {
		b, err := parseBatch(fields)
		if err != nil {
			return false, 0, fmt.Errorf("view batch %s: %w", key, err)
		}
		batchID := strings.TrimPrefix(key, batchPrefix)
		err = f.store.InTx(ctx, func(q *db.Queries) error {
			n, err := q.ViewBatchClaim(ctx, batchID)
			if err != nil || n == 0 {
				return err // n == 0: applied before; nothing to do
			}
			applied = true
			if err := q.VideoAddViews(ctx, db.VideoAddViewsParams{IDs: b.ids, Deltas: b.deltas}); err != nil {
				return err
			}
			if err := q.ViewDailyAdd(ctx, b.daily); err != nil {
				return err
			}
			if len(b.countries.VideoIDs) == 0 {
				return nil
			}
			return q.ViewCountriesAdd(ctx, b.countries)
		})
		if err != nil {
			return false, 0, fmt.Errorf("apply view batch %s: %w", key, err)
		}
		if applied {
			for _, d := range b.deltas {
				views += d
			}
		}
	}
	pipe := f.rdb.TxPipeline()
	pipe.Del(ctx, key)
	pipe.SRem(ctx, inflightKey, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return applied, views, fmt.Errorf("clean up view batch %s: %w", key, err)
	}
	return applied, views, nil
}

// Prune forgets applied batch ids older than before; a batch is cleaned out
// of Redis moments after it is applied, so a week is far more than enough.
func (f *Flusher) Prune(ctx context.Context, before time.Time) (int64, error) {
	return f.store.ViewBatchesPrune(ctx, before)
}

type batch struct {
	ids       []uuid.UUID
	deltas    []int64
	daily     db.ViewDailyAddParams
	countries db.ViewCountriesAddParams
}

type dayKey struct {
	video uuid.UUID
	day   string
}

// parseBatch turns the hash fields (t:<video>, d:<video>:<day>:<source>,
// w:<video>:<day>, n:<video>:<day>, c:<video>:<day>:<country>) into sorted
// parameter arrays.
func parseBatch(fields map[string]string) (batch, error) {
	totals := map[uuid.UUID]int64{}
	type dayCounts struct {
		views, watch, watchViews int64
		bySource                 map[string]int64
		byCountry                map[string]int64
	}
	days := map[dayKey]*dayCounts{}
	getDay := func(k dayKey) *dayCounts {
		d := days[k]
		if d == nil {
			d = &dayCounts{bySource: map[string]int64{}, byCountry: map[string]int64{}}
			days[k] = d
		}
		return d
	}
	for field, raw := range fields {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return batch{}, fmt.Errorf("field %s: %w", field, err)
		}
		parts := strings.Split(field, ":")
		if len(parts) < 2 {
			return batch{}, errors.New("malformed field " + field)
		}
		id, err := uuid.Parse(parts[1])
		if err != nil {
			return batch{}, fmt.Errorf("field %s: %w", field, err)
		}
		switch {
		case parts[0] == "t" && len(parts) == 2:
			totals[id] += n
		case parts[0] == "d" && len(parts) == 4:
			d := getDay(dayKey{id, parts[2]})
			d.views += n
			d.bySource[parts[3]] += n
		case parts[0] == "w" && len(parts) == 3:
			getDay(dayKey{id, parts[2]}).watch += n
		case parts[0] == "n" && len(parts) == 3:
			getDay(dayKey{id, parts[2]}).watchViews += n
		case parts[0] == "c" && len(parts) == 4 && NormalizeCountry(parts[3]) == parts[3]:
			getDay(dayKey{id, parts[2]}).byCountry[parts[3]] += n
		default:
			return batch{}, errors.New("malformed field " + field)
		}
	}
	var b batch
	for id := range totals {
		b.ids = append(b.ids, id)
	}
	sort.Slice(b.ids, func(i, j int) bool { return b.ids[i].String() < b.ids[j].String() })
	for _, id := range b.ids {
		b.deltas = append(b.deltas, totals[id])
	}
	keys := make([]dayKey, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].video != keys[j].video {
			return keys[i].video.String() < keys[j].video.String()
		}
		return keys[i].day < keys[j].day
	})
	for _, k := range keys {
		day, err := time.Parse(time.DateOnly, k.day)
		if err != nil {
			return batch{}, fmt.Errorf("day %q: %w", k.day, err)
		}
		d := days[k]
		p := &b.daily
		p.VideoIDs = append(p.VideoIDs, k.video)
		p.Days = append(p.Days, day)
		p.Views = append(p.Views, d.views)
		p.Feed = append(p.Feed, d.bySource["feed"])
		p.Search = append(p.Search, d.bySource["search"])
		p.Profile = append(p.Profile, d.bySource["profile"])
		p.Share = append(p.Share, d.bySource["share"])
		p.External = append(p.External, d.bySource["external"])
		p.Other = append(p.Other, d.bySource["other"])
		p.Watch = append(p.Watch, d.watch)
		p.WatchViews = append(p.WatchViews, d.watchViews)
		countries := make([]string, 0, len(d.byCountry))
		for cc := range d.byCountry {
			countries = append(countries, cc)
		}
		sort.Strings(countries)
		for _, cc := range countries {
			cp := &b.countries
			cp.VideoIDs = append(cp.VideoIDs, k.video)
			cp.Days = append(cp.Days, day)
			cp.Countries = append(cp.Countries, cc)
			cp.Views = append(cp.Views, d.byCountry[cc])
		}
	}
	return b, nil
}
