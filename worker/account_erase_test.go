package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

func TestAccountsReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, _ := newLogger()
	h := NewAccountsReconcileHandler(store, tasks.NewClient(qc), logger)
	pool := store.Pool()

	deleted := func(age time.Duration, erased bool) string {
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		_, err := store.DeleteAccount(ctx, u.ID)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `UPDATE users SET deleted_at = now() - $2::interval,
			erased_at = CASE WHEN $3 THEN now() END WHERE id = $1`, u.ID, age.String(), erased)
		require.NoError(t, err)
		return u.ID.String()
	}
	lost := deleted(time.Hour, false)
	recent := deleted(time.Minute, false)
	erased := deleted(time.Hour, true)
	live := dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID.String()
	session := func(expired time.Duration) uuid.UUID {
		hash := make([]byte, 32)
		copy(hash, db.NewID().String())
		s, err := store.CreateSession(ctx, db.NewSessionParams{UserID: uuid.MustParse(live), RefreshHash: hash, ExpiresAt: time.Now().Add(-expired)})
		require.NoError(t, err)
		return s.ID
	}
	longGone, recentlyEnded := session(SessionRetention+time.Hour), session(time.Hour)

	require.NoError(t, h.ProcessTask(ctx, tasks.NewAccountsReconcileTask()))
	require.NoError(t, h.ProcessTask(ctx, tasks.NewAccountsReconcileTask()), "enqueueing again is a no-op")

	insp := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = insp.DeleteTask(tasks.QueueLow, tasks.TypeAccountErase+":"+lost) })
	info, err := insp.GetTaskInfo(tasks.QueueLow, tasks.TypeAccountErase+":"+lost)
	require.NoError(t, err, "a deletion whose erase task was lost is enqueued again")
	require.Equal(t, tasks.TypeAccountErase, info.Type)
	for _, id := range []string{recent, erased, live} {
		_, err := insp.GetTaskInfo(tasks.QueueLow, tasks.TypeAccountErase+":"+id)
		require.ErrorIs(t, err, asynq.ErrTaskNotFound, id)
	}

	// Sessions whose refresh token expired over SessionRetention ago are purged.
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM sessions WHERE id = $1", longGone).Scan(&n))
	require.Zero(t, n)
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM sessions WHERE id = $1", recentlyEnded).Scan(&n))
	require.Equal(t, 1, n)
}

func TestAccountEraseWaitsForRunningAIJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logger, _ := newLogger()
	h := NewAccountEraseHandler(store, st, logger)
	pool := store.Pool()
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	running, done := db.NewID(), db.NewID()
	_, err = pool.Exec(ctx, `INSERT INTO ai_jobs (id, user_id, job_type, status, input_data, credits_used) VALUES
		($1, $2, 'music', 'processing', '{"prompt": "my secret song"}', 5)`, running, u.ID)
	require.NoError(t, err)
	outKey := "ai/" + done.String() + ".mp3"
	_, err = pool.Exec(ctx, `INSERT INTO ai_jobs (id, user_id, job_type, status, input_data, output_key, credits_used, completed_at)
		VALUES ($1, $2, 'music', 'completed', '{"prompt": "another"}', $3, 5, now())`, done, u.ID, outKey)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, outKey, strings.NewReader("mp3"), 3, "audio/mpeg"))
	_, err = store.DeleteAccount(ctx, u.ID)
	require.NoError(t, err)

	task := tasks.NewAccountEraseTask(u.ID)
	require.ErrorIs(t, h.ProcessTask(ctx, task), errAIJobsOpen, "a running job's result would arrive after the erasure")
	var erasedAt *time.Time
	require.NoError(t, pool.QueryRow(ctx, "SELECT erased_at FROM users WHERE id = $1", u.ID).Scan(&erasedAt))
	require.Nil(t, erasedAt)
	_, err = st.Stat(ctx, outKey)
	require.ErrorIs(t, err, storage.ErrNotFound, "what could be erased already is")

	_, err = pool.Exec(ctx, "UPDATE ai_jobs SET status = 'failed', completed_at = now() WHERE id = $1", running)
	require.NoError(t, err)
	require.NoError(t, h.ProcessTask(ctx, task))
	require.NoError(t, pool.QueryRow(ctx, "SELECT erased_at FROM users WHERE id = $1", u.ID).Scan(&erasedAt))
	require.NotNil(t, erasedAt)

	// The job rows stay for accounting, without their inputs and outputs.
	rows, err := pool.Query(ctx, "SELECT input_data::text, output_key, credits_used FROM ai_jobs WHERE user_id = $1", u.ID)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var input string
		var key *string
		var credits int
		require.NoError(t, rows.Scan(&input, &key, &credits))
		require.Equal(t, "{}", input)
		require.Nil(t, key)
		require.Equal(t, 5, credits)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 2, n)

	require.NoError(t, h.ProcessTask(ctx, task), "an erased account is done")

	live := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	_, err = pool.Exec(ctx, "INSERT INTO search_history (id, user_id, query, normalized) VALUES ($1, $2, 'q', 'q')", db.NewID(), live.ID)
	require.NoError(t, err)
	require.NoError(t, h.ProcessTask(ctx, tasks.NewAccountEraseTask(live.ID)))
	var searches int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM search_history WHERE user_id = $1", live.ID).Scan(&searches))
	require.Equal(t, 1, searches, "a live account is never erased")
}
