package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
	"github.com/lokiz/lokiz/worker"
)

// TestActionsOweTheirNotificationWhenTheEnqueueFails: with the tasks
// client's Redis gone (nothing listens there), a like, follow, comment and
// comment like still succeed, each with its outbox row committed; the
// outbox drain then enqueues them on the live Redis and the worker
// delivers each once (the "lost enqueue" of an api killed after the commit,
// or of Redis restarted before the task ran).
func TestActionsOweTheirNotificationWhenTheEnqueueFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	logger, _ := testkit.NewLogger()
	dead := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	srv, err := api.New(e.config, api.Deps{
		Store: e.store, Redis: e.rdb, Tasks: tasks.NewClient(dead), Logger: logger,
		Storage: e.storage, StorageHandler: e.storage.Handler(),
		Views:    views.NewCounter(e.rdb, e.config.SecretKey, views.DedupeWindow),
		AIModels: testAIModels,
	})
	require.NoError(t, err)
	e.srv, e.h = srv, srv.Handler()

	ownerToken, owner := e.register("outbox_owner")
	token, _ := e.register("outbox_actor")
	video := e.video(owner, dbtest.VideoOpts{})
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: ownerToken, body: map[string]any{"content": "mine"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	ownComment := res.Body["id"].(string)

	for _, r := range []req{
		{method: "POST", path: "/v1/likes/videos/" + video, token: token},
		{method: "POST", path: "/v1/follows/users/" + owner, token: token},
		{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "hello"}},
		{method: "POST", path: "/v1/comments/comments/" + ownComment + "/like", token: token},
	} {
		res := e.do(r)
		require.Equal(t, http.StatusCreated, res.Status, "%s %s: %s", r.method, r.path, res.Raw)
	}
	ownerID := uuid.MustParse(owner)
	var owed int
	require.NoError(t, e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM notification_outbox WHERE recipient_id = $1`, ownerID).Scan(&owed))
	require.Equal(t, 4, owed, "every action committed its outbox row; the owner's own comment owes nothing")

	// The drain, on the live Redis, enqueues them; the worker delivers.
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	live := tasks.NewClient(e.queue).WithDeleter(insp)
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, worker.NewNotifyOutboxHandler(e.store, live, logger, time.Millisecond).ProcessTask(ctx, tasks.NewNotifyOutboxTask()))
	deliver := worker.NewNotifyHandler(e.store, e.rdb, e.storage, logger)
	pending, err := insp.ListPendingTasks(tasks.QueueDefault, asynq.PageSize(10000))
	require.NoError(t, err)
	ran := 0
	for _, info := range pending {
		var p tasks.NotifyPayload
		if info.Type != tasks.TypeNotify || json.Unmarshal(info.Payload, &p) != nil || p.RecipientID != ownerID {
			continue
		}
		require.NotNil(t, p.OutboxID)
		require.NoError(t, deliver.ProcessTask(ctx, asynq.NewTask(info.Type, info.Payload)))
		require.NoError(t, insp.DeleteTask(tasks.QueueDefault, info.ID))
		ran++
	}
	require.Equal(t, 4, ran)
	require.NoError(t, e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM notification_outbox WHERE recipient_id = $1`, ownerID).Scan(&owed))
	require.Zero(t, owed)
	res = e.do(req{method: "GET", path: "/v1/notifications", token: ownerToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, float64(4), res.Body["total"], "%s", res.Raw)
}

// TestNotifyOutlivesTheClient: the handlers enqueue an action's owed
// notifications after the commit; a client that went away by then (its
// request context canceled) does not cancel that enqueue, so the delivery
// is queued at once rather than left to the outbox drain.
func TestNotifyOutlivesTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("gone_owner")
	_, actor := e.register("gone_actor")
	video := e.video(owner, dbtest.VideoOpts{})
	_, owed, err := e.store.LikeVideo(context.Background(), uuid.MustParse(actor), uuid.MustParse(video), uuid.MustParse(owner))
	require.NoError(t, err)
	require.Len(t, owed, 1)

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	e.srv.NotifyForTest(gone, owed)

	info, err := asynq.NewInspectorFromRedisClient(e.rdb).ListPendingTasks(tasks.QueueDefault, asynq.PageSize(10000))
	require.NoError(t, err)
	queued := false
	for _, ti := range info {
		var p tasks.NotifyPayload
		if ti.Type == tasks.TypeNotify && json.Unmarshal(ti.Payload, &p) == nil && p.OutboxID != nil && *p.OutboxID == owed[0].ID {
			queued = true
		}
	}
	require.True(t, queued, "the like's notification is queued although the client went away")
}
