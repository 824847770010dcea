package studio

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// CaptureFrames captures frames of a video at timestamps for user: the
// video must be visible to them and ready (lokiz.VideoReady), each
// timestamp inside its duration. The capture is recorded and enqueued, then
// waited for up to Config.CaptureWait; done is true when it ended (completed
// or failed) within that time.
func (s *Studio) CaptureFrames(ctx context.Context, user, videoID uuid.UUID, timestamps []float64) (fc db.FrameCapture, done bool, err error) {
	row, err := s.cfg.Store.VideoGetVisible(ctx, db.VideoGetVisibleParams{ID: videoID, ViewerID: &user})
	if db.IsNotFound(err) {
		return db.FrameCapture{}, false, lokiz.Errorf(lokiz.ENOTFOUND, "Video not found")
	} else if err != nil {
		return db.FrameCapture{}, false, err
	}
	v := row.Video
	if !lokiz.VideoReady(v.Status, v.ObjectKey != nil) {
		return db.FrameCapture{}, false, lokiz.ErrVideoNotReady
	}
	for i, ts := range timestamps {
		if ts > v.DurationSeconds {
			return db.FrameCapture{}, false, lokiz.ValidationError(fieldErr("must be within the video's duration", "body", "timestamps", i))
		}
	}
	fc, err = s.RecordCapture(ctx, db.NewID(), user, v.ID, timestamps)
	if err != nil {
		return db.FrameCapture{}, false, err
	}
	return s.WaitCapture(ctx, fc)
}

// RecordCapture records a capture of video at times under user and
// enqueues it on the media queue. The caller has checked the video and the
// times (CaptureFrames; the studio preview, which also picks id).
func (s *Studio) RecordCapture(ctx context.Context, id, user, video uuid.UUID, times []float64) (db.FrameCapture, error) {
	fc, err := s.cfg.Store.FrameCaptureCreate(ctx, db.FrameCaptureCreateParams{ID: id, UserID: user, VideoID: video, Timestamps: times})
	if err != nil {
		return db.FrameCapture{}, err
	}
	if err := s.cfg.Tasks.Enqueue(ctx, tasks.NewFramesCaptureTask(fc.ID)); err != nil {
		return db.FrameCapture{}, err
	}
	return fc, nil
}

// WaitCapture reads a capture until it ends or Config.CaptureWait passes;
// done is true once it has ended (completed or failed).
func (s *Studio) WaitCapture(ctx context.Context, fc db.FrameCapture) (db.FrameCapture, bool, error) {
	deadline := time.NewTimer(s.cfg.CaptureWait)
	defer deadline.Stop()
	tick := time.NewTicker(s.cfg.CapturePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fc, false, nil
		case <-deadline.C:
			return fc, false, nil
		case <-tick.C:
			cur, err := s.cfg.Store.FrameCaptureGet(ctx, fc.ID)
			if err != nil {
				return fc, false, err
			}
			if cur.Status != lokiz.CapturePending {
				return cur, true, nil
			}
		}
	}
}
