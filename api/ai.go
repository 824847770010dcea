package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/studio"
	"github.com/lokiz/lokiz/tasks"
)

// AI job input limits (reference §1.3, CONTRACT.md §4).
const (
	maxPromptRunes   = 1000
	maxTemplateRunes = 100
	templateMinSecs  = 5
	templateMaxSecs  = 10
	musicMinSecs     = 1
	// musicMaxSecs bounds the shape; the caller's plan may allow less
	// (the AI catalog's tier_limits, checked by the studio package).
	musicMaxSecs     = 180
	musicDefaultSecs = 30
	maxBatchJobs     = 50
)

// AIModels is what the api needs to know of the AI catalog: the model each
// job type runs on (recorded on the job) and its deadline.
type AIModels = studio.Models

// AIModel is one job type's model.
type AIModel = studio.Model

// aiRequest is the body of the five job routes; each route reads its own
// fields (the names are the reference's).
type aiRequest struct {
	// template
	ImageURL string   `json:"image_url"`
	Template string   `json:"template"`
	Duration *float64 `json:"duration"`
	// Resolution is the template video's (720p by default; 1080p on pro
	// and enterprise).
	Resolution *string `json:"resolution"`
	// glitch
	TemplateVideoID string `json:"template_video_id"`
	UserImageURL    string `json:"user_image_url"`
	// sticker-to-reality
	VideoID   string   `json:"video_id"`
	StartTime *float64 `json:"start_time"`
	EndTime   *float64 `json:"end_time"`
	IsGlitch  bool     `json:"is_glitch"`
	// all
	Prompt   *string `json:"prompt" text:"multiline"`
	PresetID *string `json:"preset_id"`
}

// aiRoute describes one job-creating route.
type aiRoute struct {
	jobType string
	// validate checks the body's shape (no lookups) and fills defaults.
	validate func(r *aiRequest) []lokiz.FieldError
}

func promptErr(p *string, required bool) []lokiz.FieldError {
	switch {
	case p == nil || strings.TrimSpace(*p) == "":
		if required {
			return []lokiz.FieldError{fieldErr("is required", "body", "prompt")}
		}
	case utf8.RuneCountInString(*p) > maxPromptRunes:
		return []lokiz.FieldError{fieldErr("must be at most 1000 characters long", "body", "prompt")}
	case !utf8.ValidString(*p) || strings.ContainsFunc(*p, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' }):
		return []lokiz.FieldError{fieldErr("must not contain control characters", "body", "prompt")}
	}
	return nil
}

func requireField(v, name string) []lokiz.FieldError {
	if strings.TrimSpace(v) == "" {
		return []lokiz.FieldError{fieldErr("is required", "body", name)}
	}
	return nil
}

func uuidField(v, name string) []lokiz.FieldError {
	if _, err := uuid.Parse(v); err != nil {
		return []lokiz.FieldError{fieldErr("must be a UUID", "body", name)}
	}
	return nil
}

func finiteNum(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

var aiRoutes = map[string]aiRoute{
	lokiz.JobI2VTemplate: {lokiz.JobI2VTemplate, func(r *aiRequest) []lokiz.FieldError {
		errs := requireField(r.ImageURL, "image_url")
		errs = append(errs, requireField(r.Template, "template")...)
		if utf8.RuneCountInString(r.Template) > maxTemplateRunes {
			errs = append(errs, fieldErr("must be at most 100 characters long", "body", "template"))
		}
		errs = append(errs, promptErr(r.Prompt, true)...)
		if r.Duration == nil {
			r.Duration = ptr(float64(templateMinSecs))
		}
		if d := *r.Duration; !finiteNum(d) || d != math.Trunc(d) || d < templateMinSecs || d > templateMaxSecs {
			errs = append(errs, fieldErr("Duration must be between 5 and 10 seconds", "body", "duration"))
		}
		if r.Resolution != nil && !slices.Contains(lokiz.Resolutions, *r.Resolution) {
			errs = append(errs, fieldErr(oneOf(lokiz.Resolutions), "body", "resolution"))
		}
		return errs
	}},
	lokiz.JobGlitchAnimate: {lokiz.JobGlitchAnimate, validateGlitch},
	lokiz.JobGlitchReplace: {lokiz.JobGlitchReplace, validateGlitch},
	lokiz.JobStickerToReality: {lokiz.JobStickerToReality, func(r *aiRequest) []lokiz.FieldError {
		errs := uuidField(r.VideoID, "video_id")
		errs = append(errs, requireField(r.UserImageURL, "user_image_url")...)
		errs = append(errs, promptErr(r.Prompt, true)...)
		switch {
		case r.StartTime == nil:
			errs = append(errs, fieldErr("is required", "body", "start_time"))
		case !finiteNum(*r.StartTime) || *r.StartTime < 0:
			errs = append(errs, fieldErr("must be a time in seconds, 0 or more", "body", "start_time"))
		}
		switch {
		case r.EndTime == nil:
			errs = append(errs, fieldErr("is required", "body", "end_time"))
		case !finiteNum(*r.EndTime):
			errs = append(errs, fieldErr("must be a time in seconds", "body", "end_time"))
		case r.StartTime != nil && *r.EndTime <= *r.StartTime:
			errs = append(errs, fieldErr("End time must be after start time", "body", "end_time"))
		case r.StartTime != nil && *r.EndTime-*r.StartTime > maxAIRange:
			errs = append(errs, fieldErr("Duration cannot exceed 10 seconds", "body", "end_time"))
		}
		return errs
	}},
	lokiz.JobMusic: {lokiz.JobMusic, func(r *aiRequest) []lokiz.FieldError {
		errs := promptErr(r.Prompt, true)
		if r.Duration == nil {
			r.Duration = ptr(float64(musicDefaultSecs))
		}
		if d := *r.Duration; !finiteNum(d) || d != math.Trunc(d) || d < musicMinSecs || d > musicMaxSecs {
			errs = append(errs, fieldErr("must be a whole number of seconds from 1 to 180", "body", "duration"))
		}
		return errs
	}},
}

func validateGlitch(r *aiRequest) []lokiz.FieldError {
	errs := uuidField(r.TemplateVideoID, "template_video_id")
	errs = append(errs, requireField(r.UserImageURL, "user_image_url")...)
	return append(errs, promptErr(r.Prompt, false)...)
}

// createAIJob serves the five job routes: check the body's shape, then
// accept the job (studio.AcceptAIJob: references, price, credits, queue)
// and answer 202.
func (s *Server) createAIJob(jobType string) gin.HandlerFunc {
	route := aiRoutes[jobType]
	return func(c *gin.Context) {
		var req aiRequest
		if err := bindJSON(c, &req); err != nil {
			s.writeError(c, err)
			return
		}
		if errs := route.validate(&req); len(errs) > 0 {
			s.writeError(c, lokiz.ValidationError(errs...))
			return
		}
		job, err := s.studio.AcceptAIJob(c.Request.Context(), req.studio(mustUser(c).ID, jobType))
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.JSON(http.StatusAccepted, s.aiJobResponse(c.Request.Context(), job))
	}
}

// studio is the request as studio.AcceptAIJob takes it; the route's
// validate has checked the ids parse.
func (r aiRequest) studio(me uuid.UUID, jobType string) studio.AIJobRequest {
	out := studio.AIJobRequest{
		UserID: me, JobType: jobType, Prompt: r.Prompt, PresetID: r.PresetID, Template: r.Template,
		Duration: r.Duration, ImageRef: r.UserImageURL, StartTime: r.StartTime, EndTime: r.EndTime, IsGlitch: r.IsGlitch,
	}
	switch jobType {
	case lokiz.JobI2VTemplate:
		out.ImageRef = r.ImageURL
		if r.Resolution != nil {
			out.Resolution = *r.Resolution
		}
	case lokiz.JobGlitchAnimate, lokiz.JobGlitchReplace:
		out.SourceVideoID, _ = uuid.Parse(r.TemplateVideoID)
	case lokiz.JobStickerToReality:
		out.SourceVideoID, _ = uuid.Parse(r.VideoID)
	}
	return out
}

// aiJobResponse is an AI job as both the original backend and the frontend
// name its fields (CONTRACT.md §5: id/job_id, output_url/result_url,
// error_message/error).
type aiJobResponse struct {
	ID         uuid.UUID       `json:"id"`
	JobID      uuid.UUID       `json:"job_id"`
	UserID     uuid.UUID       `json:"user_id"`
	JobType    string          `json:"job_type"`
	Status     string          `json:"status"`
	Progress   int             `json:"progress"`
	InputData  json.RawMessage `json:"input_data"`
	OutputData json.RawMessage `json:"output_data"`
	OutputURL  *string         `json:"output_url"`
	ResultURL  *string         `json:"result_url"`
	// OutputURLs are every file the model made, the output first.
	OutputURLs   []string   `json:"output_urls"`
	ThumbnailURL *string    `json:"thumbnail_url"`
	VideoID      *uuid.UUID `json:"video_id"`
	ErrorMessage *string    `json:"error_message"`
	Error        *string    `json:"error"`
	CreditsUsed  int32      `json:"credits_used"`
	PresetID     *string    `json:"preset_id"`
	Model        *string    `json:"model"`
	Priority     bool       `json:"priority"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	StartedAt    *time.Time `json:"started_at"`
	CompletedAt  *time.Time `json:"completed_at"`
}

func (s *Server) aiJobResponse(ctx context.Context, j db.AIJob) aiJobResponse {
	var out json.RawMessage
	if len(j.OutputData) > 0 {
		out = j.OutputData
	}
	// A job's outputs are its owner's: private URLs (the result video is
	// private until published, and may be deleted).
	url := s.privateMediaURL(ctx, j.OutputKey)
	var thumb *string
	if j.VideoID != nil && j.Status == lokiz.JobCompleted {
		thumb = s.privateMediaURL(ctx, ptr(storage.ThumbnailKey(*j.VideoID)))
	}
	urls := []string{}
	if url != nil {
		urls = append(urls, *url)
	}
	var extra struct {
		Files []string `json:"files"`
	}
	if len(out) > 0 && json.Unmarshal(out, &extra) == nil {
		for _, k := range extra.Files {
			if u := s.privateMediaURL(ctx, &k); u != nil {
				urls = append(urls, *u)
			}
		}
	}
	return aiJobResponse{
		OutputURLs: urls,
		ID:         j.ID, JobID: j.ID, UserID: j.UserID, JobType: j.JobType, Status: j.Status, Progress: int(j.Progress),
		InputData: j.InputData, OutputData: out, OutputURL: url, ResultURL: url, ThumbnailURL: thumb, VideoID: j.VideoID,
		ErrorMessage: j.ErrorMessage, Error: j.ErrorMessage, CreditsUsed: j.CreditsUsed, PresetID: j.PresetID,
		Model: j.Model, Priority: j.Queue == tasks.QueueAIPriority,
		CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(), StartedAt: utc(j.StartedAt), CompletedAt: utc(j.CompletedAt),
	}
}

var errJobNotFound = studio.ErrAIJobNotFound

// ownJob loads the path's job when the caller owns it; anyone else's is 404.
func (s *Server) ownJob(c *gin.Context) (db.AIJob, error) {
	id, err := pathUUID(c, "job_id")
	if err != nil {
		return db.AIJob{}, err
	}
	job, err := s.store.AIJobGet(c.Request.Context(), id)
	if db.IsNotFound(err) || (err == nil && job.UserID != mustUser(c).ID) {
		return db.AIJob{}, errJobNotFound
	}
	return job, err
}

func (s *Server) getAIJob(c *gin.Context) {
	job, err := s.ownJob(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.aiJobResponse(c.Request.Context(), job))
}

// listAIJobs pages the caller's jobs, newest first, optionally of one type
// or status.
func (s *Server) listAIJobs(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	jobType, status, err := aiJobFilter(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.AIJobsOfUser(ctx, db.AIJobsOfUserParams{
		UserID: mustUser(c).ID, JobType: jobType, Status: status,
		CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1),
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, p.Size, func(j db.AIJob) cursor { return cursor{At: j.CreatedAt, ID: j.ID} })
	out := make([]aiJobResponse, len(rows))
	for i, j := range rows {
		out[i] = s.aiJobResponse(ctx, j)
	}
	c.JSON(http.StatusOK, gin.H{"jobs": out, "next_cursor": next, "has_more": more, "page_size": p.Size})
}

type batchStatusRequest struct {
	JobIDs []string `json:"job_ids"`
	ids    []uuid.UUID
}

func (r *batchStatusRequest) validate() []lokiz.FieldError {
	ids, errs := parseIDBatch(r.JobIDs, "job_ids", maxBatchJobs)
	r.ids = ids
	return errs
}

type jobStatus struct {
	Status       string     `json:"status"`
	Progress     int        `json:"progress"`
	ResultURL    *string    `json:"result_url"`
	OutputURL    *string    `json:"output_url"`
	VideoID      *uuid.UUID `json:"video_id"`
	Error        *string    `json:"error"`
	ErrorMessage *string    `json:"error_message"`
	UpdatedAt    *time.Time `json:"updated_at"`
}

// batchJobStatus answers the status of up to 50 of the caller's jobs in one
// query; unknown ids and other users' jobs read "not_found".
func (s *Server) batchJobStatus(c *gin.Context) {
	ctx := c.Request.Context()
	var req batchStatusRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out := make(map[string]jobStatus, len(req.JobIDs))
	if len(req.ids) > 0 {
		rows, err := s.store.AIJobsByIDs(ctx, db.AIJobsByIDsParams{IDs: req.ids, UserID: mustUser(c).ID})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, j := range rows {
			url := s.privateMediaURL(ctx, j.OutputKey)
			out[j.ID.String()] = jobStatus{
				Status: j.Status, Progress: int(j.Progress), ResultURL: url, OutputURL: url, VideoID: j.VideoID,
				Error: j.ErrorMessage, ErrorMessage: j.ErrorMessage, UpdatedAt: utc(&j.UpdatedAt),
			}
		}
	}
	notFound := "Job not found"
	for _, id := range req.ids {
		if _, ok := out[id.String()]; !ok {
			out[id.String()] = jobStatus{Status: "not_found", Error: &notFound, ErrorMessage: &notFound}
		}
	}
	c.JSON(http.StatusOK, gin.H{"jobs": out})
}

// cancelAIJob is DELETE /v1/ai/jobs/{id}: studio.CancelAIJob ends the
// job canceled with its refund, takes its run off the queue and has the
// worker cancel the prediction.
func (s *Server) cancelAIJob(c *gin.Context) {
	id, err := pathUUID(c, "job_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	job, err := s.studio.CancelAIJob(c.Request.Context(), mustUser(c).ID, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.aiJobResponse(c.Request.Context(), job))
}

func ptr[T any](v T) *T { return &v }
