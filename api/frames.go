package api

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// Frame capture limits (CONTRACT.md §3).
const (
	maxFrameTimestamps = 20
	// frameWait is how long a request waits for the worker before it
	// answers 202 with the capture id to poll.
	frameWait = 4 * time.Second
	framePoll = 50 * time.Millisecond
)

type captureFramesRequest struct {
	VideoID    string    `json:"video_id"`
	Timestamps []float64 `json:"timestamps"`
	// Timestamp is the single-frame route's field.
	Timestamp *float64 `json:"timestamp"`
	videoID   uuid.UUID
}

func (r *captureFramesRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	id, err := uuid.Parse(r.VideoID)
	if err != nil {
		errs = append(errs, fieldErr("must be a UUID", "body", "video_id"))
	}
	r.videoID = id
	single := r.Timestamp != nil && r.Timestamps == nil
	if single {
		r.Timestamps = []float64{*r.Timestamp}
	}
	switch n := len(r.Timestamps); {
	case n == 0:
		errs = append(errs, fieldErr("must hold 1 to 20 times in seconds", "body", "timestamps"))
	case n > maxFrameTimestamps:
		errs = append(errs, fieldErr("must hold at most 20 times", "body", "timestamps"))
	}
	for i, ts := range r.Timestamps {
		if ts < 0 || math.IsNaN(ts) || math.IsInf(ts, 0) {
			if single { // the single-frame route's field
				errs = append(errs, fieldErr("must be a time in seconds, 0 or more", "body", "timestamp"))
			} else {
				errs = append(errs, fieldErr("must be a time in seconds, 0 or more", "body", "timestamps", i))
			}
		}
	}
	return errs
}

type frameResponse struct {
	Timestamp float64 `json:"timestamp"`
	ImageURL  *string `json:"image_url"`
	FileKey   string  `json:"file_key"`
}

type captureResponse struct {
	JobID     uuid.UUID       `json:"job_id"`
	VideoID   uuid.UUID       `json:"video_id"`
	Status    string          `json:"status"`
	Frames    []frameResponse `json:"frames"`
	Error     *string         `json:"error"`
	CreatedAt time.Time       `json:"created_at"`
}

func (s *Server) captureResponse(ctx context.Context, fc db.FrameCapture) captureResponse {
	out := captureResponse{JobID: fc.ID, VideoID: fc.VideoID, Status: fc.Status, Frames: []frameResponse{}, Error: fc.Error, CreatedAt: fc.CreatedAt.UTC()}
	for i, key := range fc.FrameKeys {
		k := key
		out.Frames = append(out.Frames, frameResponse{Timestamp: fc.Timestamps[i], ImageURL: s.privateMediaURL(ctx, &k), FileKey: k})
	}
	return out
}

// captureFailure is the error a failed capture answers: 503 when the
// worker gave up for reasons of its own (try again later), else 422 with
// the reason the video's frames cannot be captured.
func captureFailure(fc db.FrameCapture) error {
	reason := "the video could not be decoded"
	if fc.Error != nil && *fc.Error != "" {
		reason = *fc.Error
	}
	if reason == lokiz.FramesGaveUp {
		return &lokiz.Error{Code: lokiz.EUNAVAILABLE, Reason: "capture_failed", RetryAfter: 60,
			Message: "The frames could not be captured: the worker failed; please try again in a minute"}
	}
	return &lokiz.Error{Code: lokiz.EVALIDATION, Reason: "capture_failed",
		Message: "The frames could not be captured: " + reason}
}

// startCapture captures the request's frames (studio.CaptureFrames: own
// or visible and ready video, times inside its duration), waiting briefly
// for the worker.
func (s *Server) startCapture(c *gin.Context) (db.FrameCapture, bool, error) {
	var req captureFramesRequest
	if err := bindJSON(c, &req); err != nil {
		return db.FrameCapture{}, false, err
	}
	return s.studio.CaptureFrames(c.Request.Context(), mustUser(c).ID, req.videoID, req.Timestamps)
}

// captureFrames is POST /v1/ai/capture-frames: 200 with the frames when the
// worker is done within a few seconds, else 202 with the job id; a capture
// that failed meanwhile answers its error.
func (s *Server) captureFrames(c *gin.Context) {
	fc, done, err := s.startCapture(c)
	if err == nil && fc.Status == lokiz.CaptureFailed {
		err = captureFailure(fc)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusAccepted
	if done {
		status = http.StatusOK
	}
	c.JSON(status, s.captureResponse(c.Request.Context(), fc))
}

// captureFrame is the original single-frame route; its 200 keeps the
// original shape {image_url, timestamp, video_id} plus the job fields.
func (s *Server) captureFrame(c *gin.Context) {
	ctx := c.Request.Context()
	fc, done, err := s.startCapture(c)
	if err == nil && fc.Status == lokiz.CaptureFailed {
		err = captureFailure(fc)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp := s.captureResponse(ctx, fc)
	if !done || fc.Status != lokiz.CaptureCompleted {
		c.JSON(http.StatusAccepted, resp)
		return
	}
	c.JSON(http.StatusOK, gin.H{"image_url": resp.Frames[0].ImageURL, "timestamp": resp.Frames[0].Timestamp,
		"video_id": fc.VideoID, "job_id": fc.ID, "status": fc.Status, "frames": resp.Frames})
}

func (s *Server) getCapture(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "job_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	fc, err := s.store.FrameCaptureGet(ctx, id)
	if db.IsNotFound(err) || (err == nil && fc.UserID != mustUser(c).ID) {
		s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Frame capture not found"))
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	if fc.Status == lokiz.CaptureFailed {
		s.writeError(c, captureFailure(fc))
		return
	}
	c.JSON(http.StatusOK, s.captureResponse(ctx, fc))
}
