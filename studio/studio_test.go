package studio_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/studio"
	"github.com/lokiz/lokiz/tasks"
)

// redisDB is the api tests' index: studio's operations were the api's, and
// every task they enqueue has an id of its own.
const redisDB = 1

type testBundle struct {
	studio  *studio.Studio
	store   *db.Store
	storage storage.Store
	insp    *asynq.Inspector
	me      db.User
	other   db.User
	settled []int64 // sizes UploadSettledFunc was told
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	store := dbtest.NewStore(t)
	rdb := testkit.Redis(t, redisDB)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "studio-test-secret-key-0123456789abcdef"})
	require.NoError(t, err)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	log, _ := testkit.NewLogger()
	b := &testBundle{store: store, storage: st, insp: insp,
		me: dbtest.CreateUser(t, store, dbtest.UserOpts{}), other: dbtest.CreateUser(t, store, dbtest.UserOpts{})}
	limits, err := replicate.DefaultTierLimits()
	require.NoError(t, err)
	b.studio = studio.New(studio.Config{
		Store: store, Storage: st, Logger: log,
		Tasks: tasks.NewClient(asynq.NewClientFromRedisClient(rdb)).WithDeleter(insp),
		Models: studio.Models{
			lokiz.JobMusic:         {Name: "music-model", Deadline: time.Minute},
			lokiz.JobGlitchAnimate: {Name: "glitch-model", Deadline: time.Minute},
			lokiz.JobI2VTemplate:   {Name: "template-model", Deadline: time.Minute},
		},
		Limits:            limits,
		UploadSettledFunc: func(_ context.Context, _ db.Video, size int64) { b.settled = append(b.settled, size) },
		CaptureWait:       time.Millisecond,
	})
	return b
}

func credits(t *testing.T, b *testBundle, user uuid.UUID) int32 {
	t.Helper()
	u, err := b.store.UserGetByID(context.Background(), user)
	require.NoError(t, err)
	return u.Credits
}

func requireQueued(t *testing.T, b *testBundle, queue, id string) {
	t.Helper()
	info, err := b.insp.GetTaskInfo(queue, id)
	require.NoError(t, err, "task %s on %s", id, queue)
	require.Equal(t, id, info.ID)
}

// frame gives b.me a finished capture of video and returns its frame's key.
func frame(t *testing.T, b *testBundle, video uuid.UUID) string {
	t.Helper()
	ctx := context.Background()
	fc, err := b.store.FrameCaptureCreate(ctx, db.FrameCaptureCreateParams{ID: db.NewID(), UserID: b.me.ID, VideoID: video, Timestamps: []float64{1}})
	require.NoError(t, err)
	key := storage.FrameKey(fc.ID, 0)
	_, err = b.store.FrameCaptureComplete(ctx, db.FrameCaptureCompleteParams{ID: fc.ID, FrameKeys: []string{key}})
	require.NoError(t, err)
	return key
}

func TestStudio_AcceptAIJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	music := func(b *testBundle) studio.AIJobRequest {
		return studio.AIJobRequest{UserID: b.me.ID, JobType: lokiz.JobMusic, Prompt: new(string), Duration: new(float64)}
	}
	cost := lokiz.JobCost(lokiz.JobBaseCost(lokiz.JobMusic), lokiz.TierFree)

	t.Run("ChargesStoresAndEnqueues", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := credits(t, b, b.me.ID)
		job, err := b.studio.AcceptAIJob(ctx, music(b))
		require.NoError(t, err)
		require.Equal(t, lokiz.JobPending, job.Status)
		require.Equal(t, cost, job.CreditsUsed)
		require.Equal(t, "music-model", *job.Model)
		require.Equal(t, tasks.QueueAI, job.Queue)
		require.Equal(t, before-cost, credits(t, b, b.me.ID))
		requireQueued(t, b, job.Queue, tasks.TypeAIRun+":"+job.ID.String())
	})

	t.Run("InsufficientCreditsReportsBalance", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, _, err := b.store.CreditsApply(ctx, db.CreditChange{UserID: b.me.ID, Type: lokiz.CreditAdjustment,
			Delta: -(credits(t, b, b.me.ID) - 3), Description: "spend down", IdempotencyKey: "test:" + b.me.ID.String()})
		require.NoError(t, err)
		_, err = b.studio.AcceptAIJob(ctx, music(b))
		require.Equal(t, lokiz.EINSUFFICIENTCREDITS, lokiz.ErrorCode(err))
		require.Equal(t, "Insufficient credits. Required: 5, Available: 3", lokiz.ErrorMessage(err))
		require.EqualValues(t, 5, cost, "the message above is the music price")
		require.EqualValues(t, 3, credits(t, b, b.me.ID))
	})

	t.Run("PresetForAnotherJobType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := music(b)
		r.PresetID = ptr("glitch_dance_swap")
		_, err := b.studio.AcceptAIJob(ctx, r)
		require.Equal(t, lokiz.EVALIDATION, lokiz.ErrorCode(err))
		require.Equal(t, "preset_id: is a preset for glitch (animate), not for this route", lokiz.ErrorMessage(err))
	})

	t.Run("UnconfiguredJobType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.studio.AcceptAIJob(ctx, studio.AIJobRequest{UserID: b.me.ID, JobType: lokiz.JobGlitchReplace})
		require.Equal(t, lokiz.EUNAVAILABLE, lokiz.ErrorCode(err))
	})

	glitch := func(b *testBundle, source uuid.UUID) studio.AIJobRequest {
		own := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID})
		return studio.AIJobRequest{UserID: b.me.ID, JobType: lokiz.JobGlitchAnimate, ImageRef: frame(t, b, own.ID), SourceVideoID: source}
	}

	t.Run("GlitchOfVisibleVideo", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		source := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID})
		job, err := b.studio.AcceptAIJob(ctx, glitch(b, source.ID))
		require.NoError(t, err)
		require.Equal(t, source.ID, *job.SourceVideoID)
		require.Equal(t, "animate", *job.GlitchType)
	})

	t.Run("SourceNotVisible", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := credits(t, b, b.me.ID)
		private := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID, Private: true})
		_, err := b.studio.AcceptAIJob(ctx, glitch(b, private.ID))
		require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
		require.Equal(t, "Template video not found", lokiz.ErrorMessage(err))
		require.Equal(t, before, credits(t, b, b.me.ID), "nothing charged")
	})

	t.Run("SourceNotReady", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		processing := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID, Status: lokiz.VideoProcessing})
		_, err := b.studio.AcceptAIJob(ctx, glitch(b, processing.ID))
		require.ErrorIs(t, err, lokiz.ErrVideoNotReady)
		require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
	})

	t.Run("ImageNotOurs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		source := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID})
		r := glitch(b, source.ID)
		r.UserID = b.other.ID // b.me's frame
		_, err := b.studio.AcceptAIJob(ctx, r)
		require.Equal(t, lokiz.EVALIDATION, lokiz.ErrorCode(err))
	})
}

func TestStudio_CancelAIJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("EndsWithRefundDeletesRunEnqueuesCancel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := credits(t, b, b.me.ID)
		job, err := b.studio.AcceptAIJob(ctx, studio.AIJobRequest{UserID: b.me.ID, JobType: lokiz.JobMusic})
		require.NoError(t, err)
		ended, err := b.studio.CancelAIJob(ctx, b.me.ID, job.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.JobCanceled, ended.Status)
		require.Equal(t, before, credits(t, b, b.me.ID), "refunded")
		_, err = b.insp.GetTaskInfo(job.Queue, tasks.TypeAIRun+":"+job.ID.String())
		require.True(t, errors.Is(err, asynq.ErrTaskNotFound), "the queued run is gone: %v", err)
		requireQueued(t, b, tasks.QueueCritical, tasks.TypeAICancel+":"+job.ID.String())

		_, err = b.studio.CancelAIJob(ctx, b.me.ID, job.ID)
		require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
		require.Equal(t, "The job has already ended (canceled)", lokiz.ErrorMessage(err))
		require.Equal(t, before, credits(t, b, b.me.ID), "refunded once")
	})

	t.Run("OthersJobNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := dbtest.AIJob(t, b.store, dbtest.AIJobOpts{User: b.other.ID, Credits: 5})
		_, err := b.studio.CancelAIJob(ctx, b.me.ID, job.ID)
		require.ErrorIs(t, err, studio.ErrAIJobNotFound)
		got, err := b.store.AIJobGet(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.JobPending, got.Status)
	})
}

func TestStudio_CompleteVideo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("StartsProcessingAndSettlesUpload", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID, Status: lokiz.VideoUploading, NoMedia: true})
		key := "uploads/" + v.ID.String() + ".mp4"
		_, err := b.store.Pool().Exec(ctx, "UPDATE videos SET upload_key = $2, upload_max_bytes = 1000 WHERE id = $1", v.ID, key)
		require.NoError(t, err)
		v, err = b.store.VideoGetByID(ctx, v.ID)
		require.NoError(t, err)

		_, _, err = b.studio.CompleteVideo(ctx, v, studio.VideoCompletion{})
		require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "no file yet")
		require.Equal(t, "The video file has not been uploaded: PUT it to the upload URL first", lokiz.ErrorMessage(err))

		err = b.storage.Put(ctx, key, strings.NewReader("0123456789"), 10, "video/mp4")
		require.NoError(t, err)
		got, started, err := b.studio.CompleteVideo(ctx, v, studio.VideoCompletion{IsPublic: ptr(false)})
		require.NoError(t, err)
		require.True(t, started)
		require.Equal(t, lokiz.VideoProcessing, got.Status)
		require.False(t, got.IsPublic)
		require.Equal(t, []int64{10}, b.settled)
		requireQueued(t, b, tasks.QueueMedia, tasks.TypeVideoFinalize+":"+v.ID.String())
	})

	t.Run("CompletedAsIs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID})
		got, started, err := b.studio.CompleteVideo(ctx, v, studio.VideoCompletion{})
		require.NoError(t, err)
		require.False(t, started)
		require.Equal(t, v.ID, got.ID)
	})

	t.Run("FailedAndRemovedConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		failed := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID, Status: lokiz.VideoFailed})
		_, _, err := b.studio.CompleteVideo(ctx, failed, studio.VideoCompletion{})
		require.Equal(t, "This video could not be processed: processing failed", lokiz.ErrorMessage(err))
		removed := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID, Status: lokiz.VideoRemoved})
		_, _, err = b.studio.CompleteVideo(ctx, removed, studio.VideoCompletion{})
		require.Equal(t, "This video was removed by moderation", lokiz.ErrorMessage(err))
		uploading := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID, Status: lokiz.VideoUploading, NoMedia: true})
		_, _, err = b.studio.CompleteVideo(ctx, uploading, studio.VideoCompletion{})
		require.Equal(t, "The video file has not been uploaded", lokiz.ErrorMessage(err))
		require.Empty(t, b.settled)
	})
}

func TestStudio_CaptureFrames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RecordsAndEnqueues", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID})
		fc, done, err := b.studio.CaptureFrames(ctx, b.me.ID, v.ID, []float64{0.5, 3.5})
		require.NoError(t, err)
		require.False(t, done, "no worker runs here")
		require.Equal(t, lokiz.CapturePending, fc.Status)
		require.Equal(t, b.me.ID, fc.UserID)
		requireQueued(t, b, tasks.QueueMedia, tasks.TypeFramesCapture+":"+fc.ID.String())
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		private := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID, Private: true})
		_, _, err := b.studio.CaptureFrames(ctx, b.me.ID, private.ID, []float64{1})
		require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
		processing := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID, Status: lokiz.VideoProcessing})
		_, _, err = b.studio.CaptureFrames(ctx, b.me.ID, processing.ID, []float64{1})
		require.ErrorIs(t, err, lokiz.ErrVideoNotReady)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID})
		_, _, err = b.studio.CaptureFrames(ctx, b.me.ID, v.ID, []float64{1, 3.6})
		require.Equal(t, lokiz.EVALIDATION, lokiz.ErrorCode(err))
		require.Equal(t, "timestamps[1]: must be within the video's duration", lokiz.ErrorMessage(err))
	})
}

func ptr[T any](v T) *T { return &v }
