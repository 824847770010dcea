package api

import (
	"context"
	"time"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
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
	if u, ok := s.mediaURLs.get(*key, expiry); ok {
		return &u
	}
	u, err := s.storage.URL(ctx, *key, expiry.Sub(now))
	if err != nil {
		// A key we stored ourselves always renders; log and show no media
		// rather than fail the whole response.
		s.log.ErrorContext(ctx, "render media url", "key", *key, "error", err)
		return nil
	}
	s.mediaURLs.put(*key, expiry, u)
	return &u
}

// privateMediaURL renders a URL for an object only its owner may see: always
// signed (never S3_PUBLIC_URL, which would expose it for as long as it is
// stored) and valid for PrivateMediaURLTTL only, so a URL that leaks, or
// outlives the owner's change of mind, soon stops working.
func (s *Server) privateMediaURL(ctx context.Context, key *string) *string {
	if key == nil || *key == "" {
		return nil
	}
	ttl := s.cfg.PrivateMediaURLTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	u, err := s.storage.SignedURL(ctx, *key, ttl)
	if err != nil {
		s.log.ErrorContext(ctx, "render private media url", "key", *key, "error", err)
		return nil
	}
	return &u
}

// videoMediaURL renders a video's file or thumbnail: public URLs only for a
// video everyone may see (completed, public, not deleted); private ones for
// the rest, which only the owner is shown; none for a removed video, whose
// media storage withholds (a URL that could only answer 404 helps nobody).
func (s *Server) videoMediaURL(ctx context.Context, v db.Video, key *string) *string {
	if v.Status == lokiz.VideoRemoved {
		return nil
	}
	if v.Status == lokiz.VideoCompleted && v.IsPublic && v.DeletedAt == nil {
		return s.mediaURL(ctx, key)
	}
	return s.privateMediaURL(ctx, key)
}
