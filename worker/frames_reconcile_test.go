package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db/dbtest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

func TestFramesReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type bundle struct {
		*finalizeBundle
		h     *FramesReconcileHandler
		queue string
		insp  *asynq.Inspector
		video uuid.UUID
	}
	setup := func(t *testing.T) *bundle {
		b := newFinalizeBundle(t, MediaConfig{})
		rdb := newRedis(t)
		qc := asynq.NewClientFromRedisClient(rdb)
		t.Cleanup(func() { _ = qc.Close() })
		logger, _ := newLogger()
		h := NewFramesReconcileHandler(b.store, b.storage, tasks.NewClient(qc), 0, logger)
		h.queue = uniqueQueue(t, rdb)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.user.ID, DurationSeconds: 2})
		video, key := v.ID, *v.ObjectKey
		data := readFile(t, mediatest.Video(t, mediatest.VideoOptions{Duration: 2, Width: 160, Height: 120}))
		require.NoError(t, b.storage.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "video/mp4"))
		return &bundle{finalizeBundle: b, h: h, queue: h.queue, insp: asynq.NewInspectorFromRedisClient(rdb), video: video}
	}
	// capture inserts a capture of age (created, and ended when not pending).
	capture := func(t *testing.T, b *bundle, status string, age time.Duration, frames int) uuid.UUID {
		t.Helper()
		id := db.NewID()
		ts := make([]float64, frames)
		keys := []string{}
		for i := range ts {
			ts[i] = float64(i) * 0.5
			if status == "completed" {
				k := storage.FrameKey(id, i)
				keys = append(keys, k)
				require.NoError(t, b.storage.Put(ctx, k, strings.NewReader("jpeg"), 4, "image/jpeg"))
			}
		}
		dbtest.FrameCapture(t, b.store, dbtest.FrameCaptureOpts{ID: id, User: b.user.ID, Video: b.video, Timestamps: ts,
			Status: status, FrameKeys: keys, CreatedAt: time.Now().Add(-age)})
		return id
	}
	get := func(t *testing.T, b *bundle, id uuid.UUID) (db.FrameCapture, bool) {
		t.Helper()
		fc, err := b.store.FrameCaptureGet(ctx, id)
		if db.IsNotFound(err) {
			return fc, false
		}
		require.NoError(t, err)
		return fc, true
	}

	// A capture whose task never reached the queue is enqueued again by the
	// reconciler and completed by a real worker.
	t.Run("LostCaptureIsResumed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lost := capture(t, b, "pending", time.Hour, 2)
		fresh := capture(t, b, "pending", time.Minute, 1)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))

		info, err := b.insp.GetTaskInfo(b.queue, "frames:capture:"+lost.String()+":r1")
		require.NoError(t, err, "the lost capture is enqueued again")
		require.Equal(t, tasks.TypeFramesCapture, info.Type)
		_, err = b.insp.GetTaskInfo(b.queue, "frames:capture:"+fresh.String()+":r1")
		require.Error(t, err, "a capture within its time is left alone")
		fc, _ := get(t, b, lost)
		require.EqualValues(t, 1, fc.Requeues)

		// Run again at once: the capture got its full wait again, nothing new.
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))
		fc, _ = get(t, b, lost)
		require.EqualValues(t, 1, fc.Requeues)
		size, err := b.insp.GetQueueInfo(b.queue)
		require.NoError(t, err)
		require.Equal(t, 1, size.Size)

		// The real worker takes it from the queue and captures the frames.
		rdb := newRedis(t)
		logger, _ := newLogger()
		runWorker(t, New(Deps{Redis: rdb, Store: b.store, Storage: b.storage, Logger: logger, Media: MediaConfig{TempDir: b.tmp}},
			Config{Concurrency: 1, ShutdownTimeout: 2 * time.Second, Queues: map[string]int{b.queue: 1}}))
		require.Eventually(t, func() bool {
			fc, _ := get(t, b, lost)
			return fc.Status == "completed"
		}, 30*time.Second, 100*time.Millisecond)
		fc, _ = get(t, b, lost)
		require.Len(t, fc.FrameKeys, 2)
		_, err = b.storage.Stat(ctx, fc.FrameKeys[1])
		require.NoError(t, err)
	})

	// FRAMES_STUCK_AFTER shortens the wait: a capture pending 1 minute is
	// enqueued again with a 30 s patience, not with the default.
	t.Run("WithStuckAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := capture(t, b, "pending", time.Minute, 1)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))
		_, err := b.insp.GetTaskInfo(b.queue, "frames:capture:"+id.String()+":r1")
		require.Error(t, err, "within the default 15 minutes")
		b.h.WithStuckAfter(30 * time.Second)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))
		_, err = b.insp.GetTaskInfo(b.queue, "frames:capture:"+id.String()+":r1")
		require.NoError(t, err, "past the shorter patience")
	})

	// Past the bound, a capture that still does not finish is failed with a
	// readable reason instead of staying pending for ever.
	t.Run("GivesUpAfterTheBound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := capture(t, b, "pending", 5*time.Hour, 1)
		for n := 1; n <= FramesMaxRequeues; n++ {
			require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))
			fc, _ := get(t, b, id)
			require.Equal(t, "pending", fc.Status)
			require.EqualValues(t, n, fc.Requeues)
			_, err := b.insp.GetTaskInfo(b.queue, fmt.Sprintf("frames:capture:%s:r%d", id, n))
			require.NoError(t, err, "attempt %d is queued under its own id", n)
			// Nothing runs the task; time passes.
			dbtest.BackdateFrameRequeue(t, b.store, id, time.Hour)
		}
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))
		fc, _ := get(t, b, id)
		require.Equal(t, "failed", fc.Status)
		require.Equal(t, framesGaveUp, *fc.Error)
		require.EqualValues(t, FramesMaxRequeues, fc.Requeues)
		size, err := b.insp.GetQueueInfo(b.queue)
		require.NoError(t, err)
		require.Equal(t, FramesMaxRequeues, size.Size, "no attempt after the bound")
	})

	// Frames past FRAME_MAX_AGE go, objects and row, unless an open AI job
	// or a draft still uses them.
	t.Run("OldFramesAreDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := capture(t, b, "completed", 8*24*time.Hour, 3)
		oldFailed := capture(t, b, "failed", 8*24*time.Hour, 2)
		// A failed capture may have stored a frame before it failed.
		require.NoError(t, b.storage.Put(ctx, storage.FrameKey(oldFailed, 0), strings.NewReader("jpeg"), 4, "image/jpeg"))
		recent := capture(t, b, "completed", 6*24*time.Hour, 1)
		usedByJob := capture(t, b, "completed", 8*24*time.Hour, 1)
		doneJob := capture(t, b, "completed", 8*24*time.Hour, 1)
		inDraft := capture(t, b, "completed", 8*24*time.Hour, 1)
		imageInput := func(key string) json.RawMessage {
			in, err := json.Marshal(map[string]string{"image_key": key})
			require.NoError(t, err)
			return in
		}
		running := dbtest.AIJob(t, b.store, dbtest.AIJobOpts{User: b.user.ID, Type: lokiz.JobI2VTemplate, Status: lokiz.JobProcessing,
			Input: imageInput(storage.FrameKey(usedByJob, 0))})
		dbtest.AIJob(t, b.store, dbtest.AIJobOpts{User: b.user.ID, Type: lokiz.JobI2VTemplate, Status: lokiz.JobCompleted,
			Input: imageInput(storage.FrameKey(doneJob, 0))})
		_, err := b.store.DraftCreate(ctx, db.DraftCreateParams{ID: db.NewID(), UserID: b.user.ID, State: json.RawMessage(`{}`), JobIDs: []uuid.UUID{},
			Assets: []string{"http://localhost:8000/storage/" + storage.FrameKey(inDraft, 0) + "?sig=x"}})
		require.NoError(t, err)

		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))

		for _, id := range []uuid.UUID{old, oldFailed, doneJob} {
			_, ok := get(t, b, id)
			require.False(t, ok, "capture %s is deleted", id)
		}
		for i := range 3 {
			_, err := b.storage.Stat(ctx, storage.FrameKey(old, i))
			require.ErrorIs(t, err, storage.ErrNotFound, "with its frames")
		}
		_, err = b.storage.Stat(ctx, storage.FrameKey(oldFailed, 0))
		require.ErrorIs(t, err, storage.ErrNotFound)
		_, err = b.storage.Stat(ctx, storage.FrameKey(doneJob, 0))
		require.ErrorIs(t, err, storage.ErrNotFound, "a job that ended no longer needs its input")
		for _, id := range []uuid.UUID{recent, usedByJob, inDraft} {
			fc, ok := get(t, b, id)
			require.True(t, ok, "capture %s is kept", id)
			_, err := b.storage.Stat(ctx, fc.FrameKeys[0])
			require.NoError(t, err)
		}

		// Once the job ends, the next run takes its frames too.
		_, ended, err := b.store.EndAIJob(ctx, db.AIJobEnding{ID: running.ID, Status: lokiz.JobFailed, Reason: "test"})
		require.NoError(t, err)
		require.True(t, ended)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewFramesReconcileTask()))
		_, ok := get(t, b, usedByJob)
		require.False(t, ok)
	})
}
