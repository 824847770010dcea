package lokiz

// Video statuses (DESIGN.md §4): uploading → processing → completed | failed;
// removed is set by moderation.
const (
	VideoUploading  = "uploading"
	VideoProcessing = "processing"
	VideoCompleted  = "completed"
	VideoFailed     = "failed"
	VideoRemoved    = "removed"
)
