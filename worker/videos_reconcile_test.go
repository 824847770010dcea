package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

func TestVideosReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, _ := newLogger()
	h := NewVideosReconcileHandler(store, st, tasks.NewClient(qc), logger)
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	pool := store.Pool()

	insert := func(status string, age time.Duration, uploadKey string) string {
		o := dbtest.VideoOpts{Owner: user.ID, Status: status, NoMedia: true, UploadKey: uploadKey, CreatedAt: time.Now().Add(-age)}
		if status == "processing" {
			o.ProcessingAt = o.CreatedAt
		}
		return dbtest.Video(t, store, o).ID.String()
	}
	stuck := insert("processing", time.Hour, "uploads/stuck.mp4")
	fresh := insert("processing", time.Minute, "uploads/fresh.mp4")
	abandoned := insert("uploading", 25*time.Hour, "uploads/abandoned.mp4")
	recent := insert("uploading", time.Hour, "uploads/recent.mp4")
	require.NoError(t, st.Put(ctx, "uploads/abandoned.mp4", strings.NewReader("x"), 1, "video/mp4"))

	twoDaysAgo := time.Now().Add(-48 * time.Hour)
	imgMissing := dbtest.Image(t, store, dbtest.ImageOpts{User: user.ID, ObjectKey: "images/missing.png", CreatedAt: twoDaysAgo}).ID
	imgPresent := dbtest.Image(t, store, dbtest.ImageOpts{User: user.ID, ObjectKey: "images/present.png", CreatedAt: twoDaysAgo}).ID
	require.NoError(t, st.Put(ctx, "images/present.png", strings.NewReader("p"), 1, "image/png"))

	require.NoError(t, h.ProcessTask(ctx, tasks.NewVideosReconcileTask()))

	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() {
		_ = insp.DeleteTask(tasks.QueueMedia, "video:finalize:"+stuck)
	})
	info, err := insp.GetTaskInfo(tasks.QueueMedia, "video:finalize:"+stuck)
	require.NoError(t, err, "a stuck finalize is enqueued again")
	require.Equal(t, tasks.TypeVideoFinalize, info.Type)
	_, err = insp.GetTaskInfo(tasks.QueueMedia, "video:finalize:"+fresh)
	require.Error(t, err, "a finalize still within its time is left alone")

	exists := func(id string) bool {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM videos WHERE id = $1", id).Scan(&n))
		return n == 1
	}
	require.False(t, exists(abandoned), "an upload that never completed is removed after a day")
	_, err = st.Stat(ctx, "uploads/abandoned.mp4")
	require.ErrorIs(t, err, storage.ErrNotFound, "with its object")
	require.True(t, exists(recent))

	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM images WHERE id = $1", imgMissing).Scan(&n))
	require.Zero(t, n, "an image that never arrived is forgotten")
	var uploaded *time.Time
	require.NoError(t, pool.QueryRow(ctx, "SELECT uploaded_at FROM images WHERE id = $1", imgPresent).Scan(&uploaded))
	require.NotNil(t, uploaded, "an image that did arrive is kept")

	// A second run finds nothing new to do and fails on nothing.
	require.NoError(t, h.ProcessTask(ctx, tasks.NewVideosReconcileTask()))
}

// TestVideosReconcileStuckAfter: VIDEO_STUCK_AFTER shortens the patience;
// a finalize younger than it is left alone.
func TestVideosReconcileStuckAfter(t *testing.T) {
	t.Parallel()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, _ := newLogger()
	h := NewVideosReconcileHandler(store, st, tasks.NewClient(qc), logger).WithStuckAfter(30 * time.Second)
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	insert := func(age time.Duration) string {
		at := time.Now().Add(-age)
		return dbtest.Video(t, store, dbtest.VideoOpts{Owner: user.ID, Status: "processing", NoMedia: true,
			UploadKey: "uploads/" + age.String() + ".mp4", CreatedAt: at, ProcessingAt: at}).ID.String()
	}
	stuck, fresh := insert(time.Minute), insert(10*time.Second)
	require.NoError(t, h.ProcessTask(context.Background(), tasks.NewVideosReconcileTask()))
	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = insp.DeleteTask(tasks.QueueMedia, "video:finalize:"+stuck) })
	_, err = insp.GetTaskInfo(tasks.QueueMedia, "video:finalize:"+stuck)
	require.NoError(t, err, "processing for a minute, past 30s: enqueued again")
	_, err = insp.GetTaskInfo(tasks.QueueMedia, "video:finalize:"+fresh)
	require.Error(t, err, "processing for 10s: left alone")
}
