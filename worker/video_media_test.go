package worker

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// TestVideoMediaSync runs video:media_sync and user:media_sync against the
// real S3 backend (the SDK against an in-process S3 server): a presigned
// URL issued before a removal or a ban answers 200 before, 404 at the
// bucket once the task ran, and 200 again after the restore or the lift.
func TestVideoMediaSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type bundle struct {
		store *db.Store
		st    *storage.S3
		log   *taskLog
		h     *VideoMediaHandler
		owner db.User
		actor db.Actor
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		mem := s3mem.New()
		require.NoError(t, mem.CreateBucket("lokiz-media"))
		srv := httptest.NewServer(gofakes3.New(mem).Server())
		t.Cleanup(srv.Close)
		st, err := storage.NewS3(ctx, storage.S3Config{Bucket: "lokiz-media", Endpoint: srv.URL, HTTPClient: srv.Client(),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDMEDIA", "media-secret", "")})
		require.NoError(t, err)
		store := dbtest.NewStore(t)
		rec := &taskLog{}
		admin := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
		return &bundle{store: store, st: st, log: rec, h: NewVideoMediaHandler(store, st, tasks.NewClient(rec)),
			owner: dbtest.CreateUser(t, store, dbtest.UserOpts{}), actor: db.Actor{AdminID: &admin.ID}}
	}
	// video stores a video with its file, thumbnail and original, and
	// returns it with a presigned URL of each object and its bytes.
	video := func(t *testing.T, b *bundle) (db.Video, map[string][]byte) {
		t.Helper()
		id := db.NewID()
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{ID: id, Owner: b.owner.ID, OriginalKey: storage.OriginalKey(id, ".mov")})
		urls := map[string][]byte{}
		for _, key := range []string{*v.ObjectKey, *v.ThumbnailKey, *v.OriginalKey} {
			data := []byte("bytes of " + key)
			require.NoError(t, b.st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.ContentTypeFor(key)))
			u, err := b.st.URL(ctx, key, time.Hour)
			require.NoError(t, err)
			urls[u] = data
		}
		return v, urls
	}
	requireServed := func(t *testing.T, urls map[string][]byte, served bool) {
		t.Helper()
		for u, data := range urls {
			resp, err := http.Get(u) //nolint:noctx // a test's client
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			if served {
				require.Equal(t, http.StatusOK, resp.StatusCode, u)
				require.Equal(t, data, body)
			} else {
				require.Equal(t, http.StatusNotFound, resp.StatusCode, u)
				require.NotContains(t, string(body), string(data))
			}
		}
	}

	t.Run("RemoveThenRestore", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v, urls := video(t, b)
		requireServed(t, urls, true)

		removed, _, err := b.store.AdminRemoveVideo(ctx, b.actor, v.ID, "copyright")
		require.NoError(t, err)
		task := tasks.NewVideoMediaSyncTask(v.ID, removed.UpdatedAt)
		require.NoError(t, b.h.ProcessTask(ctx, task))
		requireServed(t, urls, false)
		for _, key := range []string{*v.ObjectKey, *v.ThumbnailKey, *v.OriginalKey} {
			_, err := b.st.Stat(ctx, storage.WithheldKey(key))
			require.NoError(t, err, "kept under its withheld key: %s", key)
		}
		require.NoError(t, b.h.ProcessTask(ctx, task)) // a retry moves nothing more
		requireServed(t, urls, false)

		restored, err := b.store.AdminRestoreVideo(ctx, b.actor, v.ID, "counter-notice")
		require.NoError(t, err)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoMediaSyncTask(v.ID, restored.UpdatedAt)))
		requireServed(t, urls, true)
	})

	t.Run("LateTaskFollowsTheCurrentState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v, urls := video(t, b)
		removed, _, err := b.store.AdminRemoveVideo(ctx, b.actor, v.ID, "r")
		require.NoError(t, err)
		_, err = b.store.AdminRestoreVideo(ctx, b.actor, v.ID, "r")
		require.NoError(t, err)
		// The removal's task runs only now, after the restore: it must
		// not withhold a restored video.
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoMediaSyncTask(v.ID, removed.UpdatedAt)))
		requireServed(t, urls, true)
	})

	t.Run("BanThenLiftInPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.h.page = 2 // three videos: two pages
		all := map[string][]byte{}
		var ids []uuid.UUID
		for range 3 {
			v, urls := video(t, b)
			ids = append(ids, v.ID)
			for u, d := range urls {
				all[u] = d
			}
		}
		deleted := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.owner.ID, Deleted: true})
		requireServed(t, all, true)

		// runFanOut runs the user's task, then each video task it
		// enqueued, twice over (a retried fan-out enqueues the same ids).
		runFanOut := func(t *testing.T, changedAt time.Time) {
			t.Helper()
			userTask := tasks.NewUserMediaSyncTask(b.owner.ID, changedAt)
			require.NoError(t, b.h.ProcessTask(ctx, userTask))
			require.NoError(t, b.h.ProcessTask(ctx, userTask))
			videoTasks := b.log.take(tasks.TypeVideoMediaSync)
			require.Len(t, videoTasks, 2*len(ids), "every live video, the deleted one aside, once per run")
			seen := map[uuid.UUID]int{}
			for _, vt := range videoTasks {
				p, err := tasks.ParseMediaSyncPayload(vt)
				require.NoError(t, err)
				require.Equal(t, changedAt.UnixNano(), p.Change)
				seen[p.VideoID]++
				require.NoError(t, b.h.ProcessTask(ctx, vt))
			}
			require.NotContains(t, seen, deleted.ID)
			require.Len(t, seen, len(ids))
		}

		banned, _, err := b.store.AdminBanUser(ctx, b.actor, db.BanParams{UserID: b.owner.ID, Reason: "spam"})
		require.NoError(t, err)
		runFanOut(t, banned.UpdatedAt)
		requireServed(t, all, false)

		lifted, err := b.store.AdminUnbanUser(ctx, b.actor, b.owner.ID, "appeal")
		require.NoError(t, err)
		runFanOut(t, lifted.UpdatedAt)
		requireServed(t, all, true)
	})

	t.Run("PurgeDeletesWithheldObjects", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v, urls := video(t, b)
		removed, _, err := b.store.AdminRemoveVideo(ctx, b.actor, v.ID, "r")
		require.NoError(t, err)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoMediaSyncTask(v.ID, removed.UpdatedAt)))
		_, err = b.store.DeleteVideo(ctx, v.ID, b.owner.ID)
		require.NoError(t, err)
		logger, _ := newLogger()
		require.NoError(t, NewVideoPurgeHandler(b.store, b.st, logger).Purge(ctx, v.ID))
		for _, key := range []string{*v.ObjectKey, *v.ThumbnailKey, *v.OriginalKey} {
			for _, k := range []string{key, storage.WithheldKey(key)} {
				_, err := b.st.Stat(ctx, k)
				require.ErrorIs(t, err, storage.ErrNotFound, k)
			}
		}
		// A sync after the delete leaves the deleted video to the purge.
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoMediaSyncTask(v.ID, time.Now())))
		requireServed(t, urls, false)
	})

	t.Run("UnknownVideoAndBadPayload", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.h.ProcessTask(ctx, tasks.NewVideoMediaSyncTask(uuid.New(), time.Now())))
		require.ErrorIs(t, b.h.ProcessTask(ctx, tasks.NewUserMediaSyncTask(uuid.Nil, time.Now())), asynq.SkipRetry)
	})
}
