package api

import (
	"context"
	"strings"
	"time"
)

// mediaURL renders a GET URL for an object key, or nil for no key. URLs
// expire at the next hour boundary plus MediaURLTTL, so the same object
// renders the same URL for an hour (browsers and CDNs can cache it) and a
// URL handed out is valid for at least MediaURLTTL.
func (s *Server) mediaURL(ctx context.Context, key *string) *string {
	if key == nil || *key == "" {
		return nil
	}
	now := time.Now()
	expiry := now.Truncate(time.Hour).Add(time.Hour + s.cfg.MediaURLTTL)
	u, err := s.storage.URL(ctx, *key, expiry.Sub(now))
	if err != nil {
		// A key we stored ourselves always renders; log and show no media
		// rather than fail the whole response.
		s.log.ErrorContext(ctx, "render media url", "key", *key, "error", err)
		return nil
	}
	return &u
}

// keyFromReference extracts an object key under prefix ("images/") from what
// a client sends back: the key itself, or any URL we issued for it (upload,
// download or CDN URL: the key is the tail of the path).
func keyFromReference(ref, prefix string) string {
	if i := strings.Index(ref, "?"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, "/"+prefix)
	switch {
	case strings.HasPrefix(ref, prefix):
		return ref
	case i >= 0:
		return ref[i+1:]
	}
	return ""
}
