package api

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/db"
)

// Studio preview frames: the stills around a requested time, captured by
// the worker's frames:capture task (one ffmpeg pass) and shared by every
// caller who previews the same video at the same time.
const (
	// previewStep is the grid a preview's time snaps to and the spacing
	// of its frames, in seconds: a video has at most 2·duration+1
	// different previews, whoever asks.
	previewStep = 0.5
	// previewSide is how many frames come before (and after) the time.
	previewSide = 2
	// previewCacheTTL is how long a preview's capture is reused. The
	// capture itself lives FRAME_MAX_AGE; one deleted earlier is made again.
	previewCacheTTL = 24 * time.Hour
)

// previewTimes snaps ts to the preview grid and lists the frame times
// around it inside [0, duration], in order and without repeats.
func previewTimes(ts, duration float64) (float64, []float64) {
	center := math.Round(ts/previewStep) * previewStep
	center = math.Min(math.Max(center, 0), duration)
	var times []float64
	for i := -previewSide; i <= previewSide; i++ {
		t := math.Min(math.Max(center+float64(i)*previewStep, 0), duration)
		if len(times) == 0 || times[len(times)-1] != t {
			times = append(times, t)
		}
	}
	return center, times
}

func previewKey(video uuid.UUID, center float64) string {
	return "lokiz:studio:preview:" + video.String() + ":" + strconv.FormatFloat(center, 'f', -1, 64)
}

// previewCapture returns the capture of a preview: the cached one while it
// exists, else a new one recorded under the caller (charged to the
// caller's frame capture quota) and enqueued on the media queue. found is
// false when another request is creating it at this moment.
func (s *Server) previewCapture(ctx context.Context, user, video uuid.UUID, center float64, times []float64) (db.FrameCapture, bool, error) {
	key := previewKey(video, center)
	for range 2 {
		raw, err := s.rdb.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return db.FrameCapture{}, false, err
		}
		if id, perr := uuid.Parse(raw); err == nil && perr == nil {
			fc, err := s.store.FrameCaptureGet(ctx, id)
			if err == nil && fc.VideoID == video {
				return fc, true, nil
			} else if err != nil && !db.IsNotFound(err) {
				return db.FrameCapture{}, false, err
			}
			// Deleted (expired, or its requester's account erased): forget it.
			if err := s.rdb.Del(ctx, key).Err(); err != nil {
				return db.FrameCapture{}, false, err
			}
		}
		id := db.NewID()
		won, err := s.rdb.SetNX(ctx, key, id.String(), previewCacheTTL).Result()
		if err != nil {
			return db.FrameCapture{}, false, err
		}
		if !won {
			continue // another request made it meanwhile: read it
		}
		var fc db.FrameCapture
		q := s.cfg.Quotas
		ok, retry, err := s.charge(ctx, user, []quota{perMinute("frames", q.CapturesPerMinute), perDay("frames", int64(q.CapturesPerDay))}, []int64{1, 1})
		if err != nil {
			// As limitByUser: Redis trouble fails open.
			s.log.WarnContext(ctx, "quota unavailable", "error", err)
			err = nil
		} else if !ok {
			err = quotaExceeded("frame captures", retry)
		}
		if err == nil {
			fc, err = s.studio.RecordCapture(ctx, id, user, video, times)
		}
		if err != nil {
			if derr := s.rdb.Del(context.WithoutCancel(ctx), key).Err(); derr != nil {
				s.log.WarnContext(ctx, "forget preview", "error", derr)
			}
			return db.FrameCapture{}, false, err
		}
		return fc, true, nil
	}
	return db.FrameCapture{}, false, nil
}

// forgetPreview drops a failed preview so that the next request tries again.
func (s *Server) forgetPreview(ctx context.Context, video uuid.UUID, center float64) {
	if err := s.rdb.Del(context.WithoutCancel(ctx), previewKey(video, center)).Err(); err != nil {
		s.log.WarnContext(ctx, "forget preview", "error", err)
	}
}
