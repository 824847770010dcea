package lokiz

// AI job statuses (DESIGN.md §4). completed, failed and canceled are terminal.
const (
	JobPending    = "pending"
	JobProcessing = "processing"
	JobCompleted  = "completed"
	JobFailed     = "failed"
	JobCanceled   = "canceled"
)

// AI job types, as stored in ai_jobs.job_type.
const (
	JobI2VTemplate      = "i2v_template"
	JobGlitchAnimate    = "glitch_animate"
	JobGlitchReplace    = "glitch_replace"
	JobStickerToReality = "sticker_to_reality"
	JobMusic            = "music"
)
