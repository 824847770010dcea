package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// Media task types.
const (
	// TypeVideoFinalize verifies an uploaded video with ffprobe, makes its
	// thumbnail (and a web transcode when needed) and completes it.
	TypeVideoFinalize = "video:finalize"
	// TypeVideosReconcile re-enqueues finalizes that were lost and removes
	// uploads that never arrived.
	TypeVideosReconcile = "videos:reconcile"
	// TypeViewsFlush moves counted views from Redis to Postgres.
	TypeViewsFlush = "views:flush"
)

// VideoFinalizeTimeout bounds one finalize attempt (download, probe,
// thumbnail, transcode, upload of the results).
const VideoFinalizeTimeout = 15 * time.Minute

// VideoPayload names one video.
type VideoPayload struct {
	VideoID uuid.UUID `json:"video_id"`
}

// NewVideoFinalizeTask finalizes one video. The TaskID makes enqueueing it
// again (a second complete, the reconciler) a no-op while it is queued.
func NewVideoFinalizeTask(videoID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(VideoPayload{VideoID: videoID}) // cannot fail
	return newTask(TypeVideoFinalize, payload,
		asynq.Queue(QueueMedia),
		asynq.TaskID(TypeVideoFinalize+":"+videoID.String()),
		asynq.MaxRetry(5),
		asynq.Timeout(VideoFinalizeTimeout),
	)
}

// ParseVideoPayload decodes a task that names one video.
func ParseVideoPayload(t *asynq.Task) (VideoPayload, error) {
	var p VideoPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.VideoID == uuid.Nil {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}

// NewVideosReconcileTask is the periodic media reconciler.
func NewVideosReconcileTask() *asynq.Task {
	return newTask(TypeVideosReconcile, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(5*time.Minute))
}

// NewViewsFlushTask is the periodic view flush.
func NewViewsFlushTask() *asynq.Task {
	return newTask(TypeViewsFlush, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(2*time.Minute))
}

// TypeFramesCapture takes the stills of one frame capture in one ffmpeg pass.
const TypeFramesCapture = "frames:capture"

// FramesPayload names one frame capture.
type FramesPayload struct {
	CaptureID uuid.UUID `json:"capture_id"`
}

// NewFramesCaptureTask captures the frames of one capture request.
func NewFramesCaptureTask(captureID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(FramesPayload{CaptureID: captureID}) // cannot fail
	return newTask(TypeFramesCapture, payload,
		asynq.Queue(QueueMedia),
		asynq.TaskID(TypeFramesCapture+":"+captureID.String()),
		asynq.MaxRetry(3),
		asynq.Timeout(2*time.Minute),
	)
}

// ParseFramesPayload decodes a frames:capture task.
func ParseFramesPayload(t *asynq.Task) (FramesPayload, error) {
	var p FramesPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.CaptureID == uuid.Nil {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}

// TypeTrendingRecompute scores recent videos and publishes a new ranking.
const TypeTrendingRecompute = "trending:recompute"

// NewTrendingRecomputeTask is the periodic trending computation.
func NewTrendingRecomputeTask() *asynq.Task {
	return newTask(TypeTrendingRecompute, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(2*time.Minute))
}

// NewTrendingBootstrapTask asks for a first ranking when there is none yet.
// Its fixed id keeps a burst of requests to one task for a minute.
func NewTrendingBootstrapTask() *asynq.Task {
	return newTask(TypeTrendingRecompute, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(2*time.Minute),
		asynq.TaskID("trending:bootstrap"), asynq.Retention(time.Minute))
}

// Purge task types.
const (
	// TypeVideoPurge deletes the objects of one deleted video (its file,
	// original, upload, thumbnail and the frames captured from it). The
	// delete request enqueues it.
	TypeVideoPurge = "video:purge"
	// TypeVideosPurge is the periodic sweep that purges deleted videos whose
	// video:purge was lost or failed.
	TypeVideosPurge = "videos:purge"
)

// NewVideoPurgeTask purges one deleted video's objects. It goes to the
// default queue, not low: a deleted video must stop being served within a
// minute. The TaskID dedupes a repeated delete while it is queued.
func NewVideoPurgeTask(videoID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(VideoPayload{VideoID: videoID}) // cannot fail
	return newTask(TypeVideoPurge, payload,
		asynq.Queue(QueueDefault),
		asynq.TaskID(TypeVideoPurge+":"+videoID.String()),
		asynq.MaxRetry(5),
		asynq.Timeout(2*time.Minute),
	)
}

// NewVideosPurgeTask is the periodic purge sweep.
func NewVideosPurgeTask() *asynq.Task {
	return newTask(TypeVideosPurge, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(5*time.Minute))
}

// Withholding task types (a removed video's media, a banned author's).
const (
	// TypeVideoMediaSync moves one video's objects to where the video's
	// current state says: under storage.WithheldKey while it is removed or
	// its author banned, so every URL issued for them answers 404 at the
	// bucket, and back under their own keys otherwise. A removal, a
	// restore, a ban and its lift enqueue it; it reads the state when it
	// runs, whatever the change that enqueued it.
	TypeVideoMediaSync = "video:media_sync"
	// TypeUserMediaSync enqueues a video:media_sync for every video of one
	// user, page by page: a ban or its lift.
	TypeUserMediaSync = "user:media_sync"
)

// MediaSyncPayload names one video (video:media_sync) or one user
// (user:media_sync), and the change that asks for the sync: the time of
// the removal, restore, ban or lift, in Unix nanoseconds.
type MediaSyncPayload struct {
	VideoID uuid.UUID `json:"video_id,omitzero"`
	UserID  uuid.UUID `json:"user_id,omitzero"`
	Change  int64     `json:"change"`
}

// The TaskIDs are per target and per change: a second enqueue of the same
// change (a retried fan-out, a repeated call) is a no-op, but the restore
// that follows a removal is not mistaken for it. With an id per target
// alone, the restore's enqueue would be dropped while the removal's task
// is still running, after it read the state, and the media would stay
// withheld. Two tasks of one video are serialized by the worker
// (db.Store.WithVideoMediaLock).

// NewVideoMediaSyncTask syncs one video's objects with its state after the
// change at changedAt. It goes to the default queue, like a purge: media
// must stop being served within seconds.
func NewVideoMediaSyncTask(videoID uuid.UUID, changedAt time.Time) *asynq.Task {
	change := changedAt.UnixNano()
	payload, _ := json.Marshal(MediaSyncPayload{VideoID: videoID, Change: change}) // cannot fail
	return newTask(TypeVideoMediaSync, payload,
		asynq.Queue(QueueDefault),
		asynq.TaskID(fmt.Sprintf("%s:%s:%d", TypeVideoMediaSync, videoID, change)),
		asynq.MaxRetry(10),
		asynq.Timeout(5*time.Minute),
	)
}

// NewUserMediaSyncTask syncs the objects of every video of one user after
// the ban or lift at changedAt.
func NewUserMediaSyncTask(userID uuid.UUID, changedAt time.Time) *asynq.Task {
	change := changedAt.UnixNano()
	payload, _ := json.Marshal(MediaSyncPayload{UserID: userID, Change: change}) // cannot fail
	return newTask(TypeUserMediaSync, payload,
		asynq.Queue(QueueDefault),
		asynq.TaskID(fmt.Sprintf("%s:%s:%d", TypeUserMediaSync, userID, change)),
		asynq.MaxRetry(10),
		asynq.Timeout(5*time.Minute),
	)
}

// ParseMediaSyncPayload decodes a video:media_sync or user:media_sync task.
func ParseMediaSyncPayload(t *asynq.Task) (MediaSyncPayload, error) {
	var p MediaSyncPayload
	err := json.Unmarshal(t.Payload(), &p)
	if err != nil || (t.Type() == TypeVideoMediaSync && p.VideoID == uuid.Nil) ||
		(t.Type() == TypeUserMediaSync && p.UserID == uuid.Nil) {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}
