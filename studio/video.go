package studio

import (
	"context"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// VideoCompletion is what the uploader says of the file when completing
// its video; every field is optional.
type VideoCompletion struct {
	ClientWidth, ClientHeight *int32
	ClientDuration            *float64
	Caption                   *string
	IsPublic                  *bool
}

// CompleteVideo hands v's uploaded file to the worker. started is true
// when v moved to processing now or was processing already (the finalize
// task's id dedupes); a completed video is returned as it is, with started
// false. A failed or removed video, or one whose file is not uploaded, is a
// conflict. v is the caller's own video.
func (s *Studio) CompleteVideo(ctx context.Context, v db.Video, c VideoCompletion) (_ db.Video, started bool, _ error) {
	switch v.Status {
	case lokiz.VideoCompleted:
		return v, false, nil
	case lokiz.VideoFailed:
		reason := "processing failed"
		if v.FailureReason != nil {
			reason = *v.FailureReason
		}
		return v, false, lokiz.Errorf(lokiz.ECONFLICT, "This video could not be processed: %s", reason)
	case lokiz.VideoRemoved:
		return v, false, lokiz.Errorf(lokiz.ECONFLICT, "This video was removed by moderation")
	case lokiz.VideoUploading:
		if v.UploadKey == nil {
			return v, false, lokiz.Errorf(lokiz.ECONFLICT, "The video file has not been uploaded")
		}
		info, err := s.cfg.Storage.Stat(ctx, *v.UploadKey)
		if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
			return v, false, lokiz.Errorf(lokiz.ECONFLICT, "The video file has not been uploaded: PUT it to the upload URL first")
		} else if err != nil {
			return v, false, err
		}
		if s.cfg.UploadSettledFunc != nil {
			s.cfg.UploadSettledFunc(ctx, v, info.Size)
		}
	}
	v, err := s.cfg.Store.VideoStartProcessing(ctx, db.VideoStartProcessingParams{
		ID: v.ID, UserID: v.UserID, ClientWidth: c.ClientWidth, ClientHeight: c.ClientHeight,
		ClientDuration: c.ClientDuration, Caption: c.Caption, IsPublic: c.IsPublic,
	})
	if db.IsNotFound(err) {
		return db.Video{}, false, lokiz.Errorf(lokiz.ECONFLICT, "The video is no longer waiting for its upload")
	} else if err != nil {
		return db.Video{}, false, err
	}
	// Committed first, then enqueued: if Redis fails here the reconciler
	// picks the video up, so the request still succeeds.
	if err := s.cfg.Tasks.Enqueue(ctx, tasks.NewVideoFinalizeTask(v.ID)); err != nil {
		s.cfg.Logger.WarnContext(ctx, "enqueue deferred to the reconciler", "video_id", v.ID, "error", err)
	}
	return v, true, nil
}
