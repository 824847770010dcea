package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

type shareRequest struct {
	Platform *string `json:"platform"`
	// SharePlatform is the original's name for Platform; platform wins
	// when both are sent.
	SharePlatform *string `json:"share_platform"`
}

// validate settles the platform: a known one (in any case), "other" for
// any other text (the original took free text), none when absent or blank.
func (r *shareRequest) validate() []lokiz.FieldError {
	if r.Platform == nil || strings.TrimSpace(*r.Platform) == "" {
		r.Platform = r.SharePlatform
	}
	if r.Platform == nil {
		return nil
	}
	p := strings.ToLower(strings.TrimSpace(*r.Platform))
	switch {
	case p == "":
		r.Platform = nil
	case slices.Contains(lokiz.SharePlatforms, p):
		r.Platform = &p
	default:
		other := "other"
		r.Platform = &other
	}
	return nil
}

type shareResponse struct {
	// Success is the original's answer, always true.
	Success    bool      `json:"success"`
	VideoID    uuid.UUID `json:"video_id"`
	ShareURL   string    `json:"share_url"`
	ShareCount int32     `json:"share_count"`
	// Platform is the platform the share was recorded under;
	// SharePlatform repeats it under the original's name.
	Platform      *string `json:"platform"`
	SharePlatform *string `json:"share_platform"`
	// Counted says whether this share added to share_count.
	Counted bool `json:"counted"`
}

// anonShareWindow is how long an anonymous share from one client IP
// counts once per video.
const anonShareWindow = 24 * time.Hour

// anonShareKey names the Redis key that marks an anonymous share of video
// from ip as counted. The address is kept only as a keyed hash.
func anonShareKey(secret string, video uuid.UUID, ip string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("lokiz-shares\x00"))
	mac.Write([]byte(ip))
	return "lokiz:shares:anon:" + video.String() + ":" + hex.EncodeToString(mac.Sum(nil)[:16])
}

// shareVideo records a share of a visible video (anonymous allowed) and
// answers the link to share and the count. A signed-in user's share counts
// once per video and platform; an anonymous one once per client IP and
// video in anonShareWindow. A share that does not count answers the same,
// with counted false and the current count. Every share answers 201, as
// the original did.
func (s *Server) shareVideo(c *gin.Context) {
	ctx := c.Request.Context()
	var req shareRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.writeError(c, err)
			return
		}
	}
	id, _, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := shareResponse{Success: true, VideoID: id, ShareURL: s.cfg.PublicWebURL + "/v/" + id.String(),
		Platform: req.Platform, SharePlatform: req.Platform}
	viewer := optionalUserID(c)
	var anonKey string
	if viewer == nil {
		anonKey = anonShareKey(s.cfg.SecretKey, id, c.ClientIP())
		first, err := s.rdb.SetNX(ctx, anonKey, 1, anonShareWindow).Result()
		if err != nil {
			// Without Redis an anonymous share cannot be checked: the link
			// still works, the share does not count.
			s.log.WarnContext(ctx, "anonymous share not counted", "error", err)
		}
		if !first {
			if out.ShareCount, err = s.store.ShareCountOf(ctx, id); err != nil {
				s.writeError(c, err)
				return
			}
			c.JSON(http.StatusCreated, out)
			return
		}
	}
	res, err := s.store.ShareAdd(ctx, db.ShareAddParams{ID: db.NewID(), UserID: viewer, VideoID: id, Platform: req.Platform})
	if err != nil {
		if anonKey != "" {
			// Not recorded, so the next try may count.
			if err := s.rdb.Del(context.WithoutCancel(ctx), anonKey).Err(); err != nil {
				s.log.WarnContext(ctx, "forget anonymous share", "error", err)
			}
		}
		s.writeError(c, err)
		return
	}
	out.Counted, out.ShareCount = res.Counted, res.ShareCount
	c.JSON(http.StatusCreated, out)
}

type shareCountResponse struct {
	VideoID    uuid.UUID        `json:"video_id"`
	ShareCount int64            `json:"share_count"`
	ByPlatform map[string]int64 `json:"by_platform,omitempty"`
}

// shareCount answers a visible video's share count; its owner also gets
// the count by platform.
func (s *Server) shareCount(c *gin.Context) {
	ctx := c.Request.Context()
	id, target, err := s.visibleVideoForAction(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.ShareCountsByPlatform(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := shareCountResponse{VideoID: id}
	by := map[string]int64{}
	for _, r := range rows {
		out.ShareCount += r.Shares
		by[r.Platform] = r.Shares
	}
	if viewer := optionalUserID(c); viewer != nil && *viewer == target.UserID {
		out.ByPlatform = by
	}
	c.JSON(http.StatusOK, out)
}
