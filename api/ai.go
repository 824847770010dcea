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
	"github.com/lokiz/lokiz/tasks"
)

// AI job input limits (reference §1.3, CONTRACT.md §4).
const (
	maxPromptRunes   = 1000
	maxTemplateRunes = 100
	templateMinSecs  = 5
	templateMaxSecs  = 10
	musicMinSecs     = 1
	musicMaxSecs     = 60
	musicDefaultSecs = 30
	maxBatchJobs     = 50
)

// AIModels is what the api needs to know of the AI catalog: the model each
// job type runs on (recorded on the job) and its deadline.
type AIModels map[string]AIModel

// AIModel is one job type's model.
type AIModel struct {
	Name     string
	Deadline time.Duration
}

// aiRequest is the body of the five job routes; each route reads its own
// fields (the names are the reference's).
type aiRequest struct {
	// template
	ImageURL string   `json:"image_url"`
	Template string   `json:"template"`
	Duration *float64 `json:"duration"`
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
			errs = append(errs, fieldErr("must be a whole number of seconds from 1 to 60", "body", "duration"))
		}
		return errs
	}},
}

func validateGlitch(r *aiRequest) []lokiz.FieldError {
	errs := uuidField(r.TemplateVideoID, "template_video_id")
	errs = append(errs, requireField(r.UserImageURL, "user_image_url")...)
	return append(errs, promptErr(r.Prompt, false)...)
}

// createAIJob serves the five job routes: validate, resolve references to
// our own objects and visible videos, then take the credits and store the
// job in one transaction, enqueue its run and answer 202.
func (s *Server) createAIJob(jobType string) gin.HandlerFunc {
	route := aiRoutes[jobType]
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		var req aiRequest
		if err := bindJSON(c, &req); err != nil {
			s.writeError(c, err)
			return
		}
		if errs := route.validate(&req); len(errs) > 0 {
			s.writeError(c, lokiz.ValidationError(errs...))
			return
		}
		me := mustUser(c).ID
		job, err := s.newAIJob(ctx, me, jobType, req)
		if err != nil {
			s.writeError(c, err)
			return
		}
		// The job is committed; were this enqueue lost, the AI reconciler
		// enqueues it again (principle 4).
		if err := s.tasks.Enqueue(ctx, tasks.NewAIRunTask(job.ID, job.Queue)); err != nil {
			s.log.ErrorContext(ctx, "enqueue ai run", "job_id", job.ID, "error", err)
		}
		c.JSON(http.StatusAccepted, s.aiJobResponse(ctx, job))
	}
}

func (s *Server) newAIJob(ctx context.Context, me uuid.UUID, jobType string, req aiRequest) (db.AIJob, error) {
	user, err := s.store.UserGetByID(ctx, me)
	if err != nil {
		return db.AIJob{}, err
	}
	model, ok := s.aiModels[jobType]
	if !ok {
		return db.AIJob{}, lokiz.Errorf(lokiz.EUNAVAILABLE, "AI generation is not configured on this server")
	}
	in := lokiz.AIJobInput{Template: strings.TrimSpace(req.Template), IsGlitch: req.IsGlitch, StartTime: req.StartTime, EndTime: req.EndTime}
	if req.Prompt != nil {
		in.Prompt = strings.TrimSpace(*req.Prompt)
	}
	if req.Duration != nil {
		in.Duration = *req.Duration
	}
	base := lokiz.JobBaseCost(jobType)
	modelName := model.Name
	in.ModelPrompt = in.Prompt
	var presetID *string
	if req.PresetID != nil && *req.PresetID != "" {
		p, err := s.store.PresetGet(ctx, *req.PresetID)
		if db.IsNotFound(err) || (err == nil && !p.Active) {
			return db.AIJob{}, lokiz.ValidationError(fieldErr("is not an available preset", "body", "preset_id"))
		} else if err != nil {
			return db.AIJob{}, err
		}
		if p.JobType != jobType {
			return db.AIJob{}, lokiz.ValidationError(fieldErr("is a preset for "+lokiz.JobTypeLabel(p.JobType)+", not for this route", "body", "preset_id"))
		}
		base, modelName, presetID = p.Cost, p.Model, &p.ID
		in.PresetID = p.ID
		in.ModelPrompt = fillPrompt(p.PromptTemplate, in.Prompt)
	}

	var source *db.Video
	var glitchType *string
	switch jobType {
	case lokiz.JobI2VTemplate:
		in.ImageURL = req.ImageURL
		if in.ImageKey, err = s.aiImageKey(ctx, me, req.ImageURL, "image_url"); err != nil {
			return db.AIJob{}, err
		}
	case lokiz.JobGlitchAnimate, lokiz.JobGlitchReplace:
		in.ImageURL = req.UserImageURL
		if in.ImageKey, err = s.aiImageKey(ctx, me, req.UserImageURL, "user_image_url"); err != nil {
			return db.AIJob{}, err
		}
		id, _ := uuid.Parse(req.TemplateVideoID)
		if source, err = s.aiSourceVideo(ctx, me, id, "Template video not found"); err != nil {
			return db.AIJob{}, err
		}
		glitchType = ptr(map[string]string{lokiz.JobGlitchAnimate: "animate", lokiz.JobGlitchReplace: "replace"}[jobType])
	case lokiz.JobStickerToReality:
		in.ImageURL = req.UserImageURL
		if in.ImageKey, err = s.aiImageKey(ctx, me, req.UserImageURL, "user_image_url"); err != nil {
			return db.AIJob{}, err
		}
		id, _ := uuid.Parse(req.VideoID)
		if source, err = s.aiSourceVideo(ctx, me, id, "Video not found"); err != nil {
			return db.AIJob{}, err
		}
		if !req.IsGlitch && source.UserID != me {
			return db.AIJob{}, lokiz.Errorf(lokiz.EFORBIDDEN, "You can only edit your own videos. Set is_glitch=true to glitch others' videos.")
		}
		if *req.StartTime >= source.DurationSeconds {
			return db.AIJob{}, lokiz.ValidationError(fieldErr("must be within the video's duration", "body", "start_time"))
		}
		if *req.EndTime > source.DurationSeconds+0.05 {
			return db.AIJob{}, lokiz.ValidationError(fieldErr("must be within the video's duration", "body", "end_time"))
		}
		if req.IsGlitch {
			glitchType = ptr("sticker_to_reality")
		}
	}
	var sourceID *uuid.UUID
	if source != nil {
		sourceID = &source.ID
		in.VideoID = source.ID.String()
	}
	inputData, err := json.Marshal(in)
	if err != nil {
		return db.AIJob{}, err
	}
	now := time.Now()
	tier := lokiz.ActiveTier(user.SubscriptionTier, user.SubscriptionExpiresAt, now)
	queue := tasks.QueueAI
	if lokiz.PriorityTier(tier) {
		queue = tasks.QueueAIPriority
	}
	cost := lokiz.JobCost(base, tier)
	// The deadline allows for the queue ahead of the job: the model's own
	// limit starts only when the prediction is created.
	deadline := now.Add(model.Deadline + 30*time.Minute)
	job, err := s.store.CreateAIJob(ctx, db.AIJobCreateParams{
		ID: db.NewID(), UserID: me, JobType: jobType, InputData: inputData, CreditsUsed: cost,
		PresetID: presetID, Model: &modelName, Queue: queue, SourceVideoID: sourceID, GlitchType: glitchType,
		DeadlineAt: &deadline,
	})
	if lokiz.ErrorCode(err) == lokiz.EINSUFFICIENTCREDITS {
		balance := int32(0)
		if u, err := s.store.UserGetByID(ctx, me); err == nil {
			balance = u.Credits
		}
		return db.AIJob{}, lokiz.Errorf(lokiz.EINSUFFICIENTCREDITS, "Insufficient credits. Required: %d, Available: %d", cost, balance)
	}
	return job, err
}

// fillPrompt puts the caller's prompt into a preset's template at
// "{prompt}"; with no prompt the placeholder and the separator before it go.
func fillPrompt(template, prompt string) string {
	if !strings.Contains(template, "{prompt}") {
		return strings.TrimSpace(strings.TrimSpace(template) + " " + prompt)
	}
	if prompt == "" {
		out := strings.ReplaceAll(template, "{prompt}", "")
		return strings.TrimRight(strings.TrimSpace(out), ", ")
	}
	return strings.ReplaceAll(template, "{prompt}", prompt)
}

// aiSourceVideo is a video the caller may remix: visible to them (their own,
// or public and not blocked either way) and finished.
func (s *Server) aiSourceVideo(ctx context.Context, me, id uuid.UUID, notFound string) (*db.Video, error) {
	row, err := s.store.VideoGetVisible(ctx, db.VideoGetVisibleParams{ID: id, ViewerID: &me})
	if db.IsNotFound(err) {
		return nil, lokiz.Errorf(lokiz.ENOTFOUND, "%s", notFound)
	} else if err != nil {
		return nil, err
	}
	if row.Video.Status != lokiz.VideoCompleted || row.Video.ObjectKey == nil {
		return nil, lokiz.Errorf(lokiz.ECONFLICT, "The video is not ready yet")
	}
	return &row.Video, nil
}

// aiImageKey resolves an image reference (the key, or a URL we issued) to
// an object the caller owns: an image they uploaded, or a frame they
// captured. Nothing else is ever fetched by the worker (principle 7).
func (s *Server) aiImageKey(ctx context.Context, me uuid.UUID, ref, field string) (string, error) {
	errNotOurs := lokiz.ValidationError(fieldErr("must be an image you uploaded (POST /v1/images/upload-url) or a frame you captured (POST /v1/ai/capture-frames)", "body", field))
	if storage.IsFrameReference(ref) {
		key, captureID, ok := storage.FrameKeyFrom(ref)
		if !ok {
			return "", errNotOurs
		}
		fc, err := s.store.FrameCaptureGet(ctx, captureID)
		if db.IsNotFound(err) || (err == nil && fc.UserID != me) {
			return "", errNotOurs
		} else if err != nil {
			return "", err
		}
		for _, k := range fc.FrameKeys {
			if k == key {
				return key, nil
			}
		}
		return "", errNotOurs
	}
	key := storage.ImageKeyFrom(ref)
	if key == "" {
		return "", errNotOurs
	}
	img, err := s.store.ImageGetByKey(ctx, key)
	if db.IsNotFound(err) || (err == nil && img.UserID != me) {
		return "", errNotOurs
	} else if err != nil {
		return "", err
	}
	if err := s.checkImage(ctx, img, field); err != nil {
		return "", err
	}
	return key, nil
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

var errJobNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "AI job not found")

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
	var jobType, status *string
	var errs []lokiz.FieldError
	if v := c.Query("job_type"); v != "" {
		if !lokiz.ValidJobType(v) {
			errs = append(errs, fieldErr(oneOf(lokiz.JobTypes), "query", "job_type"))
		}
		jobType = &v
	}
	if v := c.Query("status"); v != "" {
		if !slices.Contains(lokiz.JobStatuses, v) {
			errs = append(errs, fieldErr(oneOf(lokiz.JobStatuses), "query", "status"))
		}
		status = &v
	}
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
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

// cancelAIJob is DELETE /v1/ai/jobs/{id}: the job ends canceled with its
// refund at once, in one transaction; its queued run is deleted and the
// worker cancels the prediction. Of a cancel and a completion racing,
// exactly one ends the job (the other's conditional update finds it ended).
func (s *Server) cancelAIJob(c *gin.Context) {
	ctx := c.Request.Context()
	job, err := s.ownJob(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if lokiz.JobTerminal(job.Status) {
		s.writeError(c, lokiz.Errorf(lokiz.ECONFLICT, "The job has already ended (%s)", job.Status))
		return
	}
	ended, ok, err := s.store.EndAIJob(ctx, db.AIJobEnding{
		ID: job.ID, Status: lokiz.JobCanceled, ErrorMessage: "Canceled; your credits were refunded",
		Reason: "canceled by the user", CanceledByUser: true,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !ok {
		s.writeError(c, lokiz.Errorf(lokiz.ECONFLICT, "The job has already ended (%s)", ended.Status))
		return
	}
	if ended.PredictionID == nil {
		// Still queued: take the run off the queue. Were it already running,
		// it finds the job canceled and creates nothing (or cancels what it
		// just created).
		if err := s.tasks.DeleteAIRun(ended.ID, ended.Queue); err != nil {
			s.log.WarnContext(ctx, "delete queued ai run", "job_id", ended.ID, "error", err)
		}
	}
	if err := s.tasks.Enqueue(ctx, tasks.NewAICancelTask(ended.ID)); err != nil {
		s.log.ErrorContext(ctx, "enqueue ai cancel", "job_id", ended.ID, "error", err)
	}
	c.JSON(http.StatusOK, s.aiJobResponse(ctx, ended))
}

func ptr[T any](v T) *T { return &v }
