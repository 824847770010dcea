package tasks_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/tasks"
)

func TestDigestPeriodEnd(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 16, 20, 5, 0, time.UTC)
	require.Equal(t, time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC), tasks.DigestPeriodEnd(at, time.Hour))
	require.Equal(t, time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC), tasks.DigestPeriodEnd(at.Add(39*time.Minute), time.Hour), "same period")
	require.Equal(t, time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC), tasks.DigestPeriodEnd(at.Add(40*time.Minute), time.Hour), "the next one")
	require.Equal(t, time.Date(2026, 12, 2, 16, 30, 0, 0, time.UTC), tasks.DigestPeriodEnd(at, 15*time.Minute))
}

func TestEmailDigestTaskIsOnePerUserAndPeriod(t *testing.T) {
	t.Parallel()
	user := uuid.New()
	until := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	a := tasks.NewEmailDigestTask(user, until, time.Hour)
	require.Equal(t, tasks.TypeEmailDigest, a.Type())
	require.Equal(t, tasks.EmailDigestTaskID(user, until), tasks.EmailDigestTaskID(user, until.In(time.FixedZone("KST", 9*3600))))
	require.NotEqual(t, tasks.EmailDigestTaskID(user, until), tasks.EmailDigestTaskID(user, until.Add(time.Hour)))
	require.NotEqual(t, tasks.EmailDigestTaskID(user, until), tasks.EmailDigestTaskID(uuid.New(), until))
	p, err := tasks.ParseEmailDigest(a)
	require.NoError(t, err)
	require.Equal(t, user, p.UserID)
	require.True(t, until.Equal(p.Until))
	_, err = tasks.ParseEmailDigest(asynq.NewTask(tasks.TypeEmailDigest, []byte(`{"user_id":"`+user.String()+`"}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}

func TestEmailNotifyTaskIDIsTheEvent(t *testing.T) {
	t.Parallel()
	actor, video := uuid.New(), uuid.New()
	p := tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: uuid.New(), ActorID: &actor, VideoID: &video}
	task, err := tasks.NewEmailNotifyTask(p)
	require.NoError(t, err)
	got, err := tasks.ParseEmailNotify(task)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.Contains(t, tasks.EmailNotifyTaskID(p), actor.String())
	_, err = tasks.NewEmailNotifyTask(tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: uuid.New()})
	require.Error(t, err, "a like needs its actor and video")
	_, err = tasks.ParseEmailPasswordReset(asynq.NewTask(tasks.TypeEmailPasswordReset, []byte(`{}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
	_, err = tasks.ParseEmailVerify(asynq.NewTask(tasks.TypeEmailVerify, []byte(`nope`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}
