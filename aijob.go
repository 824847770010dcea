package lokiz

import "time"

// AI job statuses (DESIGN.md §4). completed, failed and canceled are terminal.
const (
	JobPending    = "pending"
	JobProcessing = "processing"
	JobCompleted  = "completed"
	JobFailed     = "failed"
	JobCanceled   = "canceled"
)

// JobStatuses are the AI job statuses, in their order of life.
var JobStatuses = []string{JobPending, JobProcessing, JobCompleted, JobFailed, JobCanceled}

// AI job types, as stored in ai_jobs.job_type.
const (
	JobI2VTemplate      = "i2v_template"
	JobGlitchAnimate    = "glitch_animate"
	JobGlitchReplace    = "glitch_replace"
	JobStickerToReality = "sticker_to_reality"
	JobMusic            = "music"
)

// JobTypes are the AI job types.
var JobTypes = []string{JobI2VTemplate, JobGlitchAnimate, JobGlitchReplace, JobStickerToReality, JobMusic}

// Frame capture statuses (frame_captures.status): pending → completed | failed.
const (
	CapturePending   = "pending"
	CaptureCompleted = "completed"
	CaptureFailed    = "failed"
)

// Base costs of the AI job types, in credits (reference §1.3).
var jobCosts = map[string]int32{
	JobI2VTemplate:      20,
	JobGlitchAnimate:    30,
	JobGlitchReplace:    30,
	JobStickerToReality: 45,
	JobMusic:            5,
}

// JobBaseCost is the cost of jobType before any discount; 0 for an unknown
// type.
func JobBaseCost(jobType string) int32 { return jobCosts[jobType] }

// JobTypeLabel is how a job type reads in the ledger and in messages.
func JobTypeLabel(jobType string) string {
	switch jobType {
	case JobI2VTemplate:
		return "template video"
	case JobGlitchAnimate:
		return "glitch (animate)"
	case JobGlitchReplace:
		return "glitch (replace)"
	case JobStickerToReality:
		return "sticker to reality"
	case JobMusic:
		return "music"
	}
	return jobType
}

// ValidJobType reports whether t is a known AI job type.
func ValidJobType(t string) bool { _, ok := jobCosts[t]; return ok }

// JobTerminal reports whether an AI job in status will not change again.
func JobTerminal(status string) bool {
	return status == JobCompleted || status == JobFailed || status == JobCanceled
}

// ActiveTier is the tier a user's subscription gives at now: a paid tier
// counts until it expires (no expiry means it does not expire).
func ActiveTier(tier string, expiresAt *time.Time, now time.Time) string {
	if !ValidTier(tier) || (tier != TierFree && expiresAt != nil && !now.Before(*expiresAt)) {
		return TierFree
	}
	return tier
}

// JobCost is what a job of base cost costs a user of tier: the discount
// rounded in the user's favour, but never free when the base is not.
func JobCost(base int32, tier string) int32 {
	if base <= 0 {
		return 0
	}
	return max(1, base*(100-TierDiscountPercent(tier))/100)
}

// AIJobInput is a job's ai_jobs.input_data: what the caller asked for, with
// references already resolved to our own storage. The worker builds the
// model's input from it; the API shows it back.
type AIJobInput struct {
	// ImageKey is the storage key of the caller's image (an upload or a
	// captured frame); ImageURL is the reference the caller sent.
	ImageKey string `json:"image_key,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	// VideoID is the source video (glitch and sticker jobs).
	VideoID string `json:"video_id,omitempty"`
	// Template is the template name of a template job.
	Template string `json:"template,omitempty"`
	// Prompt is the caller's prompt; ModelPrompt what the model gets (the
	// preset's template filled in with Prompt).
	Prompt      string `json:"prompt,omitempty"`
	ModelPrompt string `json:"model_prompt,omitempty"`
	// Duration is the requested length in seconds (template and music).
	Duration float64 `json:"duration,omitempty"`
	// Resolution is a template video's output resolution (Resolutions).
	Resolution string `json:"resolution,omitempty"`
	// StartTime and EndTime are the segment a sticker job remakes.
	StartTime *float64 `json:"start_time,omitempty"`
	EndTime   *float64 `json:"end_time,omitempty"`
	IsGlitch  bool     `json:"is_glitch,omitempty"`
	PresetID  string   `json:"preset_id,omitempty"`
	// ListPrice is the job's base cost before any discount or plan, kept
	// for analytics; a job an unlimited plan ran free of charge has
	// credits_used 0 and its list price here (it counts against the plan's
	// fair-use cap).
	ListPrice int32 `json:"list_price,omitempty"`
}

// JobNeedsSource reports whether a job of jobType works on a source video
// (the glitch types and sticker to reality): the api refuses such a job
// without a ready, visible source, and the worker ends it when the source
// has been erased since.
func JobNeedsSource(jobType string) bool {
	return jobType == JobGlitchAnimate || jobType == JobGlitchReplace || jobType == JobStickerToReality
}
