package studio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// AIJobRequest is a new AI job as the caller asked for it, its shape
// already checked (required fields present, times and lengths in range).
type AIJobRequest struct {
	UserID   uuid.UUID
	JobType  string
	Prompt   *string
	PresetID *string
	// Template, Duration and Resolution: template videos; Duration also
	// music. An empty Resolution is the lowest (lokiz.Resolutions).
	Template   string
	Duration   *float64
	Resolution string
	// ImageRef is the image the job starts from (every type but music): an
	// uploaded image's key or URL, or a captured frame's.
	ImageRef string
	// SourceVideoID is the video a job of a type that needs one works on
	// (lokiz.JobNeedsSource).
	SourceVideoID uuid.UUID
	// StartTime, EndTime and IsGlitch: sticker to reality.
	StartTime, EndTime *float64
	IsGlitch           bool
}

// AcceptAIJob checks an AI job's references (preset, image, source video)
// against what the caller may use, prices it for the caller's tier, takes
// the credits and stores the job in one transaction (db.Store.CreateAIJob),
// then enqueues its run. A balance too small is insufficient_credits
// saying the credits required and available. The job is returned once
// committed: were the enqueue lost, the AI reconciler enqueues it again
// (principle 4).
func (s *Studio) AcceptAIJob(ctx context.Context, r AIJobRequest) (db.AIJob, error) {
	p, err := s.aiJobParams(ctx, r)
	if err != nil {
		return db.AIJob{}, err
	}
	job, err := s.cfg.Store.CreateAIJobPriced(ctx, p.params, p.pricing)
	if err != nil {
		return db.AIJob{}, err
	}
	if err := s.cfg.Tasks.Enqueue(ctx, tasks.NewAIRunTask(job.ID, job.Queue)); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "enqueue ai run", "job_id", job.ID, "error", err)
	}
	return job, nil
}

// pricedJob is a job's row and what prices it.
type pricedJob struct {
	params  db.AIJobCreateParams
	pricing db.JobPricing
}

// aiJobParams resolves r into the row CreateAIJobPriced stores.
func (s *Studio) aiJobParams(ctx context.Context, r AIJobRequest) (pricedJob, error) {
	me := r.UserID
	user, err := s.cfg.Store.UserGetByID(ctx, me)
	if err != nil {
		return pricedJob{}, err
	}
	model, ok := s.cfg.Models[r.JobType]
	if !ok {
		return pricedJob{}, lokiz.Errorf(lokiz.EUNAVAILABLE, "AI generation is not configured on this server")
	}
	in := lokiz.AIJobInput{Template: strings.TrimSpace(r.Template), IsGlitch: r.IsGlitch, StartTime: r.StartTime, EndTime: r.EndTime}
	if r.Prompt != nil {
		in.Prompt = strings.TrimSpace(*r.Prompt)
	}
	if r.Duration != nil {
		in.Duration = *r.Duration
	}
	if r.JobType == lokiz.JobI2VTemplate {
		in.Resolution = cmp.Or(r.Resolution, lokiz.Resolutions[0])
	}
	base := lokiz.JobBaseCost(r.JobType)
	modelName := model.Name
	in.ModelPrompt = in.Prompt
	var presetID *string
	if r.PresetID != nil && *r.PresetID != "" {
		p, err := s.cfg.Store.PresetGet(ctx, *r.PresetID)
		if db.IsNotFound(err) || (err == nil && !p.Active) {
			return pricedJob{}, lokiz.ValidationError(fieldErr("is not an available preset", "body", "preset_id"))
		} else if err != nil {
			return pricedJob{}, err
		}
		if p.JobType != r.JobType {
			return pricedJob{}, lokiz.ValidationError(fieldErr("is a preset for "+lokiz.JobTypeLabel(p.JobType)+", not for this route", "body", "preset_id"))
		}
		base, modelName, presetID = p.Cost, p.Model, &p.ID
		in.PresetID = p.ID
		in.ModelPrompt = FillPrompt(p.PromptTemplate, in.Prompt)
	}

	if r.JobType != lokiz.JobMusic {
		field := "user_image_url"
		if r.JobType == lokiz.JobI2VTemplate {
			field = "image_url"
		}
		in.ImageURL = r.ImageRef
		if in.ImageKey, err = s.aiImageKey(ctx, me, r.ImageRef, field); err != nil {
			return pricedJob{}, err
		}
	}
	var source *db.Video
	var glitchType *string
	switch r.JobType {
	case lokiz.JobGlitchAnimate, lokiz.JobGlitchReplace:
		if source, err = s.aiSourceVideo(ctx, me, r.SourceVideoID, "Template video not found"); err != nil {
			return pricedJob{}, err
		}
		glitchType = ptr(map[string]string{lokiz.JobGlitchAnimate: "animate", lokiz.JobGlitchReplace: "replace"}[r.JobType])
	case lokiz.JobStickerToReality:
		if source, err = s.aiSourceVideo(ctx, me, r.SourceVideoID, "Video not found"); err != nil {
			return pricedJob{}, err
		}
		if !r.IsGlitch && source.UserID != me {
			return pricedJob{}, lokiz.Errorf(lokiz.EFORBIDDEN, "You can only edit your own videos. Set is_glitch=true to glitch others' videos.")
		}
		if *r.StartTime >= source.DurationSeconds {
			return pricedJob{}, lokiz.ValidationError(fieldErr("must be within the video's duration", "body", "start_time"))
		}
		if *r.EndTime > source.DurationSeconds+0.05 {
			return pricedJob{}, lokiz.ValidationError(fieldErr("must be within the video's duration", "body", "end_time"))
		}
		if r.IsGlitch {
			glitchType = ptr("sticker_to_reality")
		}
	}
	var sourceID *uuid.UUID
	if source != nil {
		sourceID = &source.ID
		in.VideoID = source.ID.String()
	}
	now := time.Now()
	tier := lokiz.ActiveTier(user.SubscriptionTier, user.SubscriptionExpiresAt, now)
	if err := checkStudioLimits(r, lokiz.TierPlan(tier), s.cfg.Limits.For(tier)); err != nil {
		return pricedJob{}, err
	}
	in.ListPrice = base
	inputData, err := json.Marshal(in)
	if err != nil {
		return pricedJob{}, err
	}
	queue := tasks.QueueAI
	if lokiz.PriorityTier(tier) {
		queue = tasks.QueueAIPriority
	}
	// The deadline allows for the queue ahead of the job: the model's own
	// limit starts only when the prediction is created.
	deadline := now.Add(model.Deadline + 30*time.Minute)
	utc := now.UTC()
	return pricedJob{
		params: db.AIJobCreateParams{
			ID: db.NewID(), UserID: me, JobType: r.JobType, InputData: inputData, CreditsUsed: lokiz.JobCost(base, tier),
			PresetID: presetID, Model: &modelName, Queue: queue, SourceVideoID: sourceID, GlitchType: glitchType,
			DeadlineAt: &deadline,
		},
		pricing: db.JobPricing{Base: base, Tier: tier, DayStart: time.Date(utc.Year(), utc.Month(), utc.Day(), 0, 0, 0, 0, time.UTC)},
	}, nil
}

// checkStudioLimits refuses a job longer or sharper than the caller's tier
// allows (lim, the AI catalog's limits of plan's tier: pro and enterprise
// get the advanced options). The api has already bounded the request's
// shape by the widest a tier may be given (lokiz.StudioCeiling).
func checkStudioLimits(r AIJobRequest, plan lokiz.Plan, lim lokiz.StudioLimits) error {
	upgrade := func(what string, limit int) error {
		return &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "plan_limit",
			Message: fmt.Sprintf("The %s plan allows %s of at most %d seconds: upgrade your plan for longer ones.", plan.Name, what, limit)}
	}
	switch r.JobType {
	case lokiz.JobMusic:
		if r.Duration != nil && *r.Duration > float64(lim.MusicMaxSeconds) {
			return upgrade("music", lim.MusicMaxSeconds)
		}
	case lokiz.JobI2VTemplate:
		if r.Duration != nil && *r.Duration > float64(lim.TemplateMaxSeconds) {
			return upgrade("template videos", lim.TemplateMaxSeconds)
		}
		if r.Resolution != "" && !lokiz.ResolutionAllowed(r.Resolution, lim.MaxResolution) {
			return &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "plan_limit",
				Message: fmt.Sprintf("The %s plan makes template videos at up to %s: upgrade your plan for %s.", plan.Name, lim.MaxResolution, r.Resolution)}
		}
	case lokiz.JobStickerToReality:
		if r.StartTime != nil && r.EndTime != nil && *r.EndTime-*r.StartTime > float64(lim.StickerMaxSeconds) {
			return upgrade("remade segments", lim.StickerMaxSeconds)
		}
	}
	return nil
}

// FillPrompt puts the caller's prompt into a preset's template at
// "{prompt}"; with no prompt the placeholder and the separator before it go.
func FillPrompt(template, prompt string) string {
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
// or public and not blocked either way) and ready.
func (s *Studio) aiSourceVideo(ctx context.Context, me, id uuid.UUID, notFound string) (*db.Video, error) {
	row, err := s.cfg.Store.VideoGetVisible(ctx, db.VideoGetVisibleParams{ID: id, ViewerID: &me})
	if db.IsNotFound(err) {
		return nil, lokiz.Errorf(lokiz.ENOTFOUND, "%s", notFound)
	} else if err != nil {
		return nil, err
	}
	if !lokiz.VideoReady(row.Video.Status, row.Video.ObjectKey != nil) {
		return nil, lokiz.ErrVideoNotReady
	}
	return &row.Video, nil
}

// aiImageKey resolves an image reference (the key, or a URL we issued) to
// an object the caller owns: an image they uploaded, or a frame they
// captured. Nothing else is ever fetched by the worker (principle 7).
func (s *Studio) aiImageKey(ctx context.Context, me uuid.UUID, ref, field string) (string, error) {
	errNotOurs := lokiz.ValidationError(fieldErr("must be an image you uploaded (POST /v1/images/upload-url) or a frame you captured (POST /v1/ai/capture-frames)", "body", field))
	if storage.IsFrameReference(ref) {
		key, captureID, ok := storage.FrameKeyFrom(ref)
		if !ok {
			return "", errNotOurs
		}
		fc, err := s.cfg.Store.FrameCaptureGet(ctx, captureID)
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
	img, err := s.cfg.Store.ImageGetByKey(ctx, key)
	if db.IsNotFound(err) || (err == nil && img.UserID != me) {
		return "", errNotOurs
	} else if err != nil {
		return "", err
	}
	if err := s.CheckImage(ctx, img, field); err != nil {
		return "", err
	}
	return key, nil
}

// CheckImage makes sure an uploaded image is what it claims before its first
// use (as a picture or an AI input): the stored bytes start with the
// signature of the declared type and their header decodes to dimensions
// within media.MaxImageSide and media.MaxImagePixels. Anything else is a 422
// naming field. The result is kept, and upload URLs write once (the storage
// refuses a PUT over a stored object), so the bytes checked are the bytes
// used for as long as the image exists.
func (s *Studio) CheckImage(ctx context.Context, img db.Image, field string) error {
	if img.CheckedAt != nil {
		return nil
	}
	info, err := s.cfg.Storage.Stat(ctx, img.ObjectKey)
	if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
		return lokiz.Errorf(lokiz.ECONFLICT, "the image has not been uploaded yet")
	} else if err != nil {
		return err
	}
	r, err := s.cfg.Storage.Open(ctx, img.ObjectKey)
	if err != nil {
		return err
	}
	defer r.Close()
	dim, err := media.CheckImage(r, img.ContentType)
	var bad *media.NotImageError
	if errors.As(err, &bad) {
		return lokiz.ValidationError(fieldErr("must be a valid image: "+bad.Reason, "body", field))
	} else if err != nil {
		return fmt.Errorf("check image %s: %w", img.ID, err)
	}
	return s.cfg.Store.ImageMarkChecked(ctx, db.ImageMarkCheckedParams{
		ID: img.ID, Width: ptr(int32(dim.Width)), Height: ptr(int32(dim.Height)), SizeBytes: &info.Size})
}

// ErrAIJobNotFound answers for a job that does not exist or is not the caller's.
var ErrAIJobNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "AI job not found")

// CancelAIJob cancels the user's open job: it ends canceled with its
// refund at once, in one transaction (db.Store.EndAIJob); its queued run is
// deleted and the worker is asked to cancel the prediction. Of a cancel and
// a completion racing, exactly one ends the job (the other's conditional
// update finds it ended): a job already ended is a conflict, anyone else's
// job is not found.
func (s *Studio) CancelAIJob(ctx context.Context, user, jobID uuid.UUID) (db.AIJob, error) {
	job, err := s.cfg.Store.AIJobGet(ctx, jobID)
	if db.IsNotFound(err) || (err == nil && job.UserID != user) {
		return db.AIJob{}, ErrAIJobNotFound
	} else if err != nil {
		return db.AIJob{}, err
	}
	if lokiz.JobTerminal(job.Status) {
		return db.AIJob{}, lokiz.Errorf(lokiz.ECONFLICT, "The job has already ended (%s)", job.Status)
	}
	ended, ok, err := s.cfg.Store.EndAIJob(ctx, db.AIJobEnding{
		ID: job.ID, Status: lokiz.JobCanceled, ErrorMessage: "Canceled; your credits were refunded",
		Reason: "canceled by the user", CanceledByUser: true,
	})
	if err != nil {
		return db.AIJob{}, err
	}
	if !ok {
		return db.AIJob{}, lokiz.Errorf(lokiz.ECONFLICT, "The job has already ended (%s)", ended.Status)
	}
	if ended.PredictionID == nil {
		// Still queued: take the run off the queue. Were it already running,
		// it finds the job canceled and creates nothing (or cancels what it
		// just created).
		if err := s.cfg.Tasks.DeleteAIRun(ended.ID, ended.Queue); err != nil {
			s.cfg.Logger.WarnContext(ctx, "delete queued ai run", "job_id", ended.ID, "error", err)
		}
	}
	if err := s.cfg.Tasks.Enqueue(ctx, tasks.NewAICancelTask(ended.ID)); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "enqueue ai cancel", "job_id", ended.ID, "error", err)
	}
	return ended, nil
}
