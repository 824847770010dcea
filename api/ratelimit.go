package api

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz"
)

// rateLimiter counts requests per key in Redis, so limits hold across api
// replicas. A key's window opens at its first request and lasts the window
// length (a burst cannot straddle two aligned windows). One round trip.
type rateLimiter struct {
	rdb redis.UniversalClient
}

// allow counts one hit on key and reports whether it is within limit per
// window; when it is not, retryAfter says how long until the window resets.
func (rl rateLimiter) allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	full := "lokiz:rl:" + key
	pipe := rl.rdb.Pipeline()
	incr := pipe.Incr(ctx, full)
	pipe.ExpireNX(ctx, full, window) // Redis 7: only the first request opens the window
	ttl := pipe.PTTL(ctx, full)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if incr.Val() <= int64(limit) {
		return true, 0, nil
	}
	return false, max(ttl.Val(), time.Millisecond), nil
}

// limitByIP is middleware allowing limit requests per window per client IP
// for one named bucket.
func (s *Server) limitByIP(bucket string, limit int, window time.Duration) gin.HandlerFunc {
	return s.limitBy(bucket, limit, window, func(c *gin.Context) string { return c.ClientIP() })
}

// limitByCaller is limitByIP keyed by the signed-in caller when there is
// one (it runs after requireAuth or optionalAuth), so that users behind
// one address do not share a bucket; anonymous callers are keyed by IP.
func (s *Server) limitByCaller(bucket string, limit int, window time.Duration) gin.HandlerFunc {
	return s.limitBy(bucket, limit, window, func(c *gin.Context) string {
		if id := optionalUserID(c); id != nil {
			return "u:" + id.String()
		}
		return "ip:" + c.ClientIP()
	})
}

// limitBy is the rate-limit middleware over the key that key names.
func (s *Server) limitBy(bucket string, limit int, window time.Duration, key func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, retry, err := s.limiter.allow(c.Request.Context(), bucket+":"+key(c), limit, window)
		if err != nil {
			// Redis is down: failing closed would lock everyone out of login,
			// failing open keeps the product usable; readiness reports Redis.
			s.log.WarnContext(c.Request.Context(), "rate limiter unavailable", "error", err)
			c.Next()
			return
		}
		if !ok {
			secs := retryAfterSecs(retry)
			s.writeError(c, &lokiz.Error{Code: lokiz.ERATELIMITED, RetryAfter: secs,
				Message: fmt.Sprintf("Too many attempts; try again in %d seconds", secs)})
			return
		}
		c.Next()
	}
}

// retryAfterSecs is a wait as the whole seconds of a Retry-After header,
// rounded up and at least one.
func retryAfterSecs(wait time.Duration) int { return max(int(math.Ceil(wait.Seconds())), 1) }
