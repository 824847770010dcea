package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz"
)

// maxAIRange is the longest segment the AI models take, in seconds.
const maxAIRange = 10.0

// studioVideo loads the path's video for the studio: completed and visible
// to the caller (B-12: the original checked a status nothing wrote).
func (s *Server) studioVideo(c *gin.Context) (videoResponse, error) {
	id, err := pathUUID(c, "video_id")
	if err != nil {
		return videoResponse{}, err
	}
	v, err := s.visibleVideo(c.Request.Context(), id, optionalUserID(c))
	if err != nil {
		return v, err
	}
	if !lokiz.VideoReady(v.Status, v.VideoURL != nil) { // the URL is signed for the file's key
		return v, lokiz.ErrVideoNotReady
	}
	return v, nil
}

// studioFrameRate is the editor's frame grid; the probe's rate is kept on
// the video, the timeline snaps to this one.
const studioFrameRate = 30

func (s *Server) studioTimeline(c *gin.Context) {
	v, err := s.studioVideo(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"video_id": v.ID, "title": v.Title, "url": v.VideoURL, "duration": v.DurationSeconds, "status": v.Status,
		"created_at": v.CreatedAt, "duration_seconds": v.DurationSeconds, "fps": studioFrameRate,
		"frame_count": int(math.Floor(v.DurationSeconds * studioFrameRate)),
		"timeline": gin.H{"total_duration": v.DurationSeconds, "frame_rate": studioFrameRate,
			"total_frames": int(math.Floor(v.DurationSeconds * studioFrameRate))},
	})
}

func parseSeconds(c *gin.Context, name string, required bool) (float64, bool, error) {
	raw := c.Query(name)
	if raw == "" {
		if required {
			return 0, false, lokiz.ValidationError(fieldErr("is required", "query", name))
		}
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, lokiz.ValidationError(fieldErr("must be a number of seconds", "query", name))
	}
	return f, true, nil
}

// studioPreview answers the original's fields plus frames, the URLs of
// stills around the time (see previewTimes). They are made by the worker
// and cached; the request waits a few seconds for them, then answers 202
// with frames: [] and status pending, to be asked again.
func (s *Server) studioPreview(c *gin.Context) {
	ctx := c.Request.Context()
	v, err := s.studioVideo(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ts, _, err := parseSeconds(c, "timestamp", false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if ts < 0 || ts > v.DurationSeconds {
		s.writeError(c, lokiz.Errorf(lokiz.EINVALID, "Timestamp %gs is outside the video (0 to %gs)", ts, v.DurationSeconds))
		return
	}
	center, times := previewTimes(ts, v.DurationSeconds)
	fc, found, err := s.previewCapture(ctx, mustUser(c).ID, v.ID, center, times)
	if err == nil && found && fc.Status == lokiz.CapturePending {
		fc, _, err = s.studio.WaitCapture(ctx, fc)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	if fc.Status == lokiz.CaptureFailed {
		s.forgetPreview(ctx, v.ID, center)
		s.writeError(c, captureFailure(fc))
		return
	}
	status, code := lokiz.CapturePending, http.StatusAccepted
	frames := []string{}
	if found && fc.Status == lokiz.CaptureCompleted {
		status, code = lokiz.CaptureCompleted, http.StatusOK
		for _, f := range s.captureResponse(ctx, fc).Frames {
			if f.ImageURL != nil {
				frames = append(frames, *f.ImageURL)
			}
		}
	}
	c.JSON(code, gin.H{"video_id": v.ID, "url": v.VideoURL, "timestamp": ts, "duration": v.DurationSeconds,
		"preview_url": fmt.Sprintf("%s#t=%s", *v.VideoURL, strconv.FormatFloat(ts, 'f', -1, 64)),
		"frames":      frames, "frame_times": times, "status": status})
}

// selectRangeRequest is the JSON form of select-range's times; the checks
// need the video's duration, so they are in the handler.
type selectRangeRequest struct {
	StartTime *float64 `json:"start_time"`
	EndTime   *float64 `json:"end_time"`
}

// studioSelectRange validates a segment for the AI tools (at most 10 s).
// The times come as query parameters (the original) or a JSON body (the
// frontend).
func (s *Server) studioSelectRange(c *gin.Context) {
	v, err := s.studioVideo(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var body selectRangeRequest
	if c.Request.ContentLength > 0 {
		if err := bindJSON(c, &body); err != nil {
			s.writeError(c, err)
			return
		}
	}
	start, end := body.StartTime, body.EndTime
	if start == nil {
		f, _, err := parseSeconds(c, "start_time", true)
		if err != nil {
			s.writeError(c, err)
			return
		}
		start = &f
	}
	if end == nil {
		f, _, err := parseSeconds(c, "end_time", true)
		if err != nil {
			s.writeError(c, err)
			return
		}
		end = &f
	}
	switch {
	case *start < 0 || *end < 0:
		err = lokiz.Errorf(lokiz.EINVALID, "Time values must not be negative")
	case *start >= *end:
		err = lokiz.Errorf(lokiz.EINVALID, "Start time must be before end time")
	case *end > v.DurationSeconds:
		err = lokiz.Errorf(lokiz.EINVALID, "End time %gs is past the end of the video (%gs)", *end, v.DurationSeconds)
	case *end-*start > maxAIRange:
		err = lokiz.Errorf(lokiz.EINVALID, "AI processing takes at most 10 seconds; this selection is %.1f seconds", *end-*start)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	c.JSON(http.StatusOK, gin.H{"video_id": v.ID, "start_time": *start, "end_time": *end, "duration": *end - *start,
		"url": v.VideoURL, "range_url": fmt.Sprintf("%s#t=%s,%s", *v.VideoURL, f(*start), f(*end))})
}
