package worker

import (
	"context"
	"encoding/json"
	"github.com/lokiz/lokiz"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// TestVideoPurge: the sweep purges deleted videos whose own video:purge was
// lost (their objects, their frames, the keys in the row), leaves videos
// deleted moments ago to their task and videos not deleted alone; purging
// again is harmless.
func TestVideoPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logger, _ := newLogger()
	h := NewVideoPurgeHandler(store, st, logger)
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	pool := store.Pool()

	put := func(key string) {
		require.NoError(t, st.Put(ctx, key, strings.NewReader("x"), 1, storage.ContentTypeFor(key)))
	}
	// insert stores a video with every kind of object; deletedAgo < 0 means
	// not deleted.
	insert := func(deletedAgo time.Duration) (uuid.UUID, []string) {
		id := db.NewID()
		s := id.String()
		keys := []string{"videos/" + s + ".mp4", "thumbnails/" + s + ".jpg", "originals/" + s + ".mov", "uploads/" + s + ".mov"}
		o := dbtest.VideoOpts{ID: id, Owner: user.ID, Private: true, DurationSeconds: 3, OriginalKey: keys[2], UploadKey: keys[3]}
		if deletedAgo >= 0 {
			o.Deleted, o.CreatedAt = true, time.Now().Add(-deletedAgo) // deleted_at = CreatedAt
		}
		dbtest.Video(t, store, o)
		frame := "frames/" + db.NewID().String() + "/00.jpg"
		dbtest.FrameCapture(t, store, dbtest.FrameCaptureOpts{ID: uuid.MustParse(strings.Split(frame, "/")[1]), User: user.ID, Video: id,
			Status: "completed", FrameKeys: []string{frame}})
		keys = append(keys, frame)
		for _, k := range keys {
			put(k)
		}
		return id, keys
	}
	requireGone := func(keys []string, gone bool) {
		t.Helper()
		for _, k := range keys {
			_, err := st.Stat(ctx, k)
			if gone {
				require.ErrorIs(t, err, storage.ErrNotFound, k)
			} else {
				require.NoError(t, err, k)
			}
		}
	}
	keyCount := func(id uuid.UUID) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT num_nonnulls(object_key, thumbnail_key, original_key, upload_key) FROM videos WHERE id = $1`, id).Scan(&n))
		return n
	}

	lost, lostKeys := insert(10 * time.Minute) // its video:purge never ran
	// lost is also an AI job's result, with a further output file.
	extra := "images/extra-" + lost.String() + ".png"
	put(extra)
	lostKeys = append(lostKeys, extra)
	files, err := json.Marshal(map[string][]string{"files": {extra, "../not-a-key"}})
	require.NoError(t, err)
	dbtest.AIJob(t, store, dbtest.AIJobOpts{User: user.ID, Type: lokiz.JobMusic, VideoID: &lost, Output: files})
	dbtest.AIJob(t, store, dbtest.AIJobOpts{User: user.ID, Type: lokiz.JobMusic, VideoID: &lost, Output: json.RawMessage(`{"files": {"not": "an array"}}`)})
	fresh, freshKeys := insert(5 * time.Second) // its task is still on its way
	alive, aliveKeys := insert(-1)              // not deleted

	require.NoError(t, h.ProcessTask(ctx, tasks.NewVideosPurgeTask()))
	requireGone(lostKeys, true)
	require.Zero(t, keyCount(lost))
	requireGone(freshKeys, false)
	requireGone(aliveKeys, false)
	require.Equal(t, 4, keyCount(alive))

	// The task of the fresh one, twice (at-least-once delivery).
	for range 2 {
		require.NoError(t, h.ProcessTask(ctx, tasks.NewVideoPurgeTask(fresh)))
	}
	requireGone(freshKeys, true)
	require.Zero(t, keyCount(fresh))

	// A purge named for a video that is not deleted (or gone) does nothing.
	require.NoError(t, h.ProcessTask(ctx, tasks.NewVideoPurgeTask(alive)))
	require.NoError(t, h.ProcessTask(ctx, tasks.NewVideoPurgeTask(db.NewID())))
	requireGone(aliveKeys, false)

	// Nothing is left for the sweep.
	ids, err := store.VideoPurgeCandidates(ctx, db.VideoPurgeCandidatesParams{Before: ptr(time.Now()), Lim: 10})
	require.NoError(t, err)
	require.NotContains(t, ids, lost)
	require.NotContains(t, ids, fresh)
}
