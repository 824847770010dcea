package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz"
)

// Quotas are the per-user limits on costly work (QUOTA_* variables; README
// "Per-user quotas"). Each is a count per fixed window that opens at the
// user's first action, like the per-IP limits, and holds across replicas.
// A zero field takes its default (DefaultQuotas).
type Quotas struct {
	AIJobsPerMinute   int
	AIJobsPerDay      int
	CapturesPerMinute int
	CapturesPerDay    int
	UploadsPerMinute  int
	UploadsPerDay     int
	// UploadBytesPerDay caps the bytes a user may be signed to upload per
	// day: each upload URL charges the size it is signed for (the declared
	// size_bytes, else the type's maximum), and completing a video gives
	// back the part of that charge its file did not use.
	UploadBytesPerDay int64
	CommentsPerMinute int
	CommentsPerDay    int
	ReportsPerMinute  int
	ReportsPerDay     int
}

// DefaultQuotas leave a person using the app untouched and stop a script.
var DefaultQuotas = Quotas{
	AIJobsPerMinute: 20, AIJobsPerDay: 300,
	CapturesPerMinute: 30, CapturesPerDay: 1000,
	UploadsPerMinute: 20, UploadsPerDay: 300,
	UploadBytesPerDay: 5 << 30,
	CommentsPerMinute: 30, CommentsPerDay: 1000,
	ReportsPerMinute: 10, ReportsPerDay: 100,
}

func (q Quotas) withDefaults() Quotas {
	d := DefaultQuotas
	q.AIJobsPerMinute = cmp.Or(q.AIJobsPerMinute, d.AIJobsPerMinute)
	q.AIJobsPerDay = cmp.Or(q.AIJobsPerDay, d.AIJobsPerDay)
	q.CapturesPerMinute = cmp.Or(q.CapturesPerMinute, d.CapturesPerMinute)
	q.CapturesPerDay = cmp.Or(q.CapturesPerDay, d.CapturesPerDay)
	q.UploadsPerMinute = cmp.Or(q.UploadsPerMinute, d.UploadsPerMinute)
	q.UploadsPerDay = cmp.Or(q.UploadsPerDay, d.UploadsPerDay)
	q.UploadBytesPerDay = cmp.Or(q.UploadBytesPerDay, d.UploadBytesPerDay)
	q.CommentsPerMinute = cmp.Or(q.CommentsPerMinute, d.CommentsPerMinute)
	q.CommentsPerDay = cmp.Or(q.CommentsPerDay, d.CommentsPerDay)
	q.ReportsPerMinute = cmp.Or(q.ReportsPerMinute, d.ReportsPerMinute)
	q.ReportsPerDay = cmp.Or(q.ReportsPerDay, d.ReportsPerDay)
	return q
}

const day = 24 * time.Hour

// quota is one counter of a user: at most limit per window.
type quota struct {
	name   string // part of the Redis key: bucket and window
	limit  int64
	window time.Duration
}

func perMinute(bucket string, n int) quota { return quota{bucket + ":1m", int64(n), time.Minute} }
func perDay(bucket string, n int64) quota  { return quota{bucket + ":1d", n, day} }

// quotaKey is a user's counter. The hash tag keeps all of one user's
// counters in one Redis Cluster slot, so one script may touch them all.
func quotaKey(user uuid.UUID, name string) string {
	return "lokiz:quota:{" + user.String() + "}:" + name
}

// chargeScript adds ARGV[3i] to each counter KEYS[i] only if every counter
// stays within its limit ARGV[3i-2]; a counter's window (ARGV[3i-1] ms)
// opens at its first charge. It returns 0 when charged, else the
// milliseconds until the latest blocking window resets. Rejected actions
// are not counted, so hitting the per-minute burst costs no daily quota.
var chargeScript = redis.NewScript(`
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3*i-2])
  local cost = tonumber(ARGV[3*i])
  local cur = tonumber(redis.call('GET', key) or '0')
  if cur + cost > limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = tonumber(ARGV[3*i-1]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('INCRBY', key, ARGV[3*i])
  redis.call('PEXPIRE', key, ARGV[3*i-1], 'NX')
end
return 0
`)

// charge takes costs[i] from each quota of user, all or nothing; on refusal
// retryAfter is how long until the blocking window resets.
func (s *Server) charge(ctx context.Context, user uuid.UUID, qs []quota, costs []int64) (ok bool, retryAfter time.Duration, err error) {
	keys := make([]string, len(qs))
	args := make([]any, 0, 3*len(qs))
	for i, q := range qs {
		keys[i] = quotaKey(user, q.name)
		args = append(args, q.limit, q.window.Milliseconds(), costs[i])
	}
	wait, err := chargeScript.Run(ctx, s.rdb, keys, args...).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("quota %s: %w", qs[0].name, err)
	}
	if wait == 0 {
		return true, 0, nil
	}
	return false, time.Duration(wait) * time.Millisecond, nil
}

// quotaExceeded is the 429 of a spent quota, in the contract's error shape
// with Retry-After.
func quotaExceeded(what string, retry time.Duration) error {
	secs := retryAfterSecs(retry)
	return &lokiz.Error{Code: lokiz.ERATELIMITED, RetryAfter: secs, Reason: "quota_exceeded",
		Message: fmt.Sprintf("You have reached your limit of %s; try again in %s", what, humanWait(secs))}
}

func humanWait(secs int) string {
	switch {
	case secs < 120:
		return strconv.Itoa(secs) + " seconds"
	case secs < 7200:
		return strconv.Itoa((secs+59)/60) + " minutes"
	default:
		return strconv.Itoa((secs+3599)/3600) + " hours"
	}
}

// giveBackScript takes ARGV[i] back off each counter KEYS[i] that still
// holds at least that much (a counter whose window ended is left alone).
var giveBackScript = redis.NewScript(`
for i, key in ipairs(KEYS) do
  local cur = tonumber(redis.call('GET', key) or '0')
  local n = tonumber(ARGV[i])
  if cur >= n then redis.call('DECRBY', key, n) end
end
return 0
`)

// limitByUser is middleware charging one action to the authenticated
// caller's quotas (it runs after requireAuth): 429 with Retry-After once
// any of them is spent. The charge comes first, so concurrent requests
// cannot overshoot; an action the handler refused (a 4xx or 5xx: invalid,
// not found, no credits) is given back, so only work done is counted. what
// names the action in the message.
func (s *Server) limitByUser(what string, qs ...quota) gin.HandlerFunc {
	costs := make([]int64, len(qs))
	for i := range costs {
		costs[i] = 1
	}
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		user := mustUser(c).ID
		ok, retry, err := s.charge(ctx, user, qs, costs)
		if err != nil {
			// As limitByIP: Redis down fails open; readiness reports it.
			s.log.WarnContext(ctx, "quota unavailable", "error", err)
			c.Next()
			return
		}
		if !ok {
			s.writeError(c, quotaExceeded(what, retry))
			return
		}
		c.Next()
		if c.Writer.Status() >= http.StatusBadRequest {
			keys := make([]string, len(qs))
			args := make([]any, len(qs))
			for i, q := range qs {
				keys[i], args[i] = quotaKey(user, q.name), costs[i]
			}
			if err := giveBackScript.Run(context.WithoutCancel(ctx), s.rdb, keys, args...).Err(); err != nil {
				s.log.WarnContext(ctx, "quota give-back failed", "error", err)
			}
		}
	}
}

// Per-user quota middleware of the route table.
func (s *Server) aiJobQuota() gin.HandlerFunc {
	q := s.cfg.Quotas
	return s.limitByUser("AI jobs", perMinute("ai", q.AIJobsPerMinute), perDay("ai", int64(q.AIJobsPerDay)))
}

func (s *Server) captureQuota() gin.HandlerFunc {
	q := s.cfg.Quotas
	return s.limitByUser("frame captures", perMinute("frames", q.CapturesPerMinute), perDay("frames", int64(q.CapturesPerDay)))
}

func (s *Server) uploadQuota() gin.HandlerFunc {
	q := s.cfg.Quotas
	return s.limitByUser("uploads", perMinute("uploads", q.UploadsPerMinute), perDay("uploads", int64(q.UploadsPerDay)))
}

func (s *Server) commentQuota() gin.HandlerFunc {
	q := s.cfg.Quotas
	return s.limitByUser("comments", perMinute("comments", q.CommentsPerMinute), perDay("comments", int64(q.CommentsPerDay)))
}

func (s *Server) reportQuota() gin.HandlerFunc {
	q := s.cfg.Quotas
	return s.limitByUser("reports", perMinute("reports", q.ReportsPerMinute), perDay("reports", int64(q.ReportsPerDay)))
}

func (s *Server) uploadBytesQuota() quota {
	return perDay("upload_bytes", s.cfg.Quotas.UploadBytesPerDay)
}

// chargeUploadBytes charges the size an upload URL is about to be signed
// for to the caller's daily byte quota. The signature caps what the URL
// accepts, so the bytes a user can put in storage never exceed what was
// charged. Unlike the counters it fails closed when Redis is down: an
// upload URL can wait, an unmetered one cannot be taken back.
func (s *Server) chargeUploadBytes(c *gin.Context, size int64) error {
	ok, retry, err := s.charge(c.Request.Context(), mustUser(c).ID, []quota{s.uploadBytesQuota()}, []int64{size})
	if err != nil {
		return lokiz.Errorf(lokiz.EUNAVAILABLE, "Uploads are unavailable for a moment; try again")
	}
	if !ok {
		return quotaExceeded(fmt.Sprintf("%d MiB of uploads a day", s.cfg.Quotas.UploadBytesPerDay>>20), retry)
	}
	return nil
}

// refundScript gives back ARGV[1] bytes to the counter KEYS[1], once per
// upload (KEYS[2] remembers it), and only when the charge (ARGV[2], ms since
// the epoch) fell in the counter's current window of ARGV[3] ms: a charge
// from a window that has since reset is not taken off the new one.
var refundScript = redis.NewScript(`
local exp = redis.call('PEXPIRETIME', KEYS[1])
if exp < 0 or tonumber(ARGV[2]) < exp - tonumber(ARGV[3]) then return 0 end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return 0 end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(cur, tonumber(ARGV[1]))
redis.call('DECRBY', KEYS[1], back)
return back
`)

// refundUploadBytes settles a completed video upload: it was charged
// signed bytes when its URL was issued at chargedAt, its file is actual
// bytes; the difference goes back to the user's daily byte quota. Errors
// only cost the user quota, so they are logged, not returned.
func (s *Server) refundUploadBytes(ctx context.Context, user, upload uuid.UUID, chargedAt time.Time, signed, actual int64) {
	if signed <= actual {
		return
	}
	q := s.uploadBytesQuota()
	keys := []string{quotaKey(user, q.name), quotaKey(user, "upload_refunded:"+upload.String())}
	// chargedAt is the database's clock, the window Redis's: a minute of
	// slack keeps a small skew from losing the refund; at worst a charge from
	// a window's last minute is refunded into the next.
	at := chargedAt.Add(time.Minute).UnixMilli()
	if err := refundScript.Run(ctx, s.rdb, keys, signed-actual, at, q.window.Milliseconds()).Err(); err != nil {
		s.log.WarnContext(ctx, "upload quota refund failed", "error", err)
	}
}
