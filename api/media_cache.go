package api

import (
	"sync"
	"time"
)

// mediaURLCacheMax bounds the URLs mediaCache holds for one expiry (about
// 200 bytes each): past it the cache starts over rather than grow.
const mediaURLCacheMax = 50_000

// mediaCache holds the public media URLs rendered for one expiry. mediaURL
// gives every URL of an hour the same expiry (the next hour boundary plus
// MediaURLTTL), so within the hour an object's URL is the same string, and
// rendering it again (an HMAC-SHA256 for local storage, a SigV4 presign for
// S3) is work thrown away: a feed page renders two or three per video. The
// cache returns exactly the URL the storage rendered for that expiry, so no
// URL lives longer than it would have; it empties when the expiry moves
// on. Private URLs (privateMediaURL) expire relative to now and are never
// cached. The zero value is ready to use.
type mediaCache struct {
	mu     sync.RWMutex
	expiry time.Time
	urls   map[string]string
}

// get returns the URL of key rendered for expiry, if there is one.
func (c *mediaCache) get(key string, expiry time.Time) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.expiry.Equal(expiry) {
		return "", false
	}
	u, ok := c.urls[key]
	return u, ok
}

// put remembers u as key's URL for expiry; a later expiry replaces the
// whole cache, an earlier one (a request that read the clock just before
// the hour turned) is not kept.
func (c *mediaCache) put(key string, expiry time.Time, u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case expiry.After(c.expiry) || c.urls == nil || len(c.urls) >= mediaURLCacheMax:
		if expiry.Before(c.expiry) {
			return
		}
		c.expiry, c.urls = expiry, make(map[string]string)
	case !expiry.Equal(c.expiry):
		return
	}
	c.urls[key] = u
}
