package worker

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/mail/mailtest"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

const emailSecret = "email-test-secret"

type emailBundle struct {
	store  *db.Store
	smtp   *mailtest.Server
	mux    *asynq.ServeMux
	notify *NotifyHandler
	insp   *asynq.Inspector
	period time.Duration
}

func newEmailBundle(t *testing.T) *emailBundle {
	t.Helper()
	store := dbtest.NewStore(t)
	// The notification tests' database: the notify handler enqueues the
	// mail task there, on the shared email queue (keys name this test's users).
	rdb := testkit.Redis(t, notifyRedisDB)
	srv, err := mailtest.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	sender, err := mail.NewSender(mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSNone, From: "LOKIZ <no-reply@lokiz.test>"})
	require.NoError(t, err)
	logger, _ := newLogger()
	qc := asynq.NewClientFromRedisClient(rdb)
	period := time.Hour
	mailer := mail.NewMailer(store, sender, tasks.NewClient(qc), mail.MailerConfig{
		PublicBaseURL: "http://api.test", PublicWebURL: "http://app.test", SecretKey: emailSecret, DigestPeriod: period,
	}, logger)
	mux := asynq.NewServeMux()
	NewEmailHandlers(mailer, logger).Register(mux)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &emailBundle{store: store, smtp: srv, mux: mux, notify: NewNotifyHandler(store, rdb, st, logger),
		insp: asynq.NewInspectorFromRedisClient(rdb), period: period}
}

// verifiedUser is a user whose address is verified, in lang.
func (b *emailBundle) verifiedUser(t *testing.T, lang string) db.User {
	t.Helper()
	u := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	_, err := b.store.Pool().Exec(context.Background(),
		`UPDATE users SET email_verified_at = now(), language = $2 WHERE id = $1`, u.ID, lang)
	require.NoError(t, err)
	u.Language = lang
	return u
}

// deliver runs a notification through the real notify handler, then the
// mail task the handler enqueued (checked on the queue), through the mux.
func (b *emailBundle) deliver(t *testing.T, p tasks.NotifyPayload) {
	t.Helper()
	task, err := tasks.NewNotifyTask(p)
	require.NoError(t, err)
	require.NoError(t, b.notify.ProcessTask(context.Background(), task))
	info, err := b.insp.GetTaskInfo(tasks.QueueEmail, tasks.EmailNotifyTaskID(p))
	require.NoError(t, err, "the delivery enqueued its mail task")
	require.Equal(t, tasks.TypeEmailNotify, info.Type)
	require.NoError(t, b.mux.ProcessTask(context.Background(), asynq.NewTask(info.Type, info.Payload)))
}

func (b *emailBundle) like(t *testing.T, actor, owner, video uuid.UUID) {
	t.Helper()
	dbtest.Like(t, b.store, dbtest.LikeOpts{User: actor, Video: video})
	b.deliver(t, tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: owner, ActorID: &actor, VideoID: &video})
}

// runDigest runs owner's digest of the current period, as asynq would at
// its end.
func (b *emailBundle) runDigest(t *testing.T, owner uuid.UUID) {
	t.Helper()
	until := tasks.DigestPeriodEnd(time.Now(), b.period)
	require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewEmailDigestTask(owner, until, b.period)))
}

func (b *emailBundle) scheduledDigests(t *testing.T, owner uuid.UUID) int {
	t.Helper()
	n := 0
	infos, err := b.insp.ListScheduledTasks(tasks.QueueEmail, asynq.PageSize(10000))
	require.NoError(t, err)
	for _, ti := range infos {
		if ti.Type == tasks.TypeEmailDigest && strings.Contains(ti.ID, owner.String()) {
			n++
		}
	}
	return n
}

func TestEmailDigestManyLikesOneMail(t *testing.T) {
	t.Parallel()
	b := newEmailBundle(t)
	owner := b.verifiedUser(t, mail.LangEnglish)
	video := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: owner.ID, Caption: "clip"}).ID
	for range 6 {
		actor := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		b.like(t, actor.ID, owner.ID, video)
	}
	follower := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	dbtest.Follow(t, b.store, dbtest.FollowOpts{Follower: follower.ID, Following: owner.ID})
	b.deliver(t, tasks.NotifyPayload{Type: tasks.NotifyFollow, RecipientID: owner.ID, ActorID: &follower.ID})

	require.Empty(t, b.smtp.To(owner.Email), "likes and follows wait for the digest")
	require.Equal(t, 1, b.scheduledDigests(t, owner.ID), "one digest task for the period, however many events")

	b.runDigest(t, owner.ID)
	msgs := b.smtp.To(owner.Email)
	require.Len(t, msgs, 1)
	require.Equal(t, "What's new on LOKIZ: 6 likes, 1 new follower", msgs[0].Subject)
	require.Contains(t, msgs[0].Text, follower.Username+" followed you")
	require.Equal(t, "List-Unsubscribe=One-Click", msgs[0].Header.Get("List-Unsubscribe-Post"))
	unsub := strings.Trim(msgs[0].Header.Get("List-Unsubscribe"), "<>")
	u, err := url.Parse(unsub)
	require.NoError(t, err)
	require.Equal(t, "/v1/email/unsubscribe", u.Path)
	id, err := mail.ParseUnsubscribeToken([]byte(emailSecret), u.Query().Get("token"))
	require.NoError(t, err)
	require.Equal(t, owner.ID, id, "the link is bound to the recipient")

	b.runDigest(t, owner.ID)
	require.Len(t, b.smtp.To(owner.Email), 1, "a digest reports an event once")
}

func TestEmailNotSentWhenOffOrUnverified(t *testing.T) {
	t.Parallel()
	b := newEmailBundle(t)
	ctx := context.Background()
	off := false

	emailOff := b.verifiedUser(t, mail.LangEnglish)
	_, err := b.store.NotificationSettingsUpdate(ctx, db.NotificationSettingsUpdateParams{UserID: emailOff.ID, Email: &off})
	require.NoError(t, err)
	likesOff := b.verifiedUser(t, mail.LangEnglish)
	_, err = b.store.NotificationSettingsUpdate(ctx, db.NotificationSettingsUpdateParams{UserID: likesOff.ID, Likes: &off})
	require.NoError(t, err)
	unverified := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})

	actor := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	for _, owner := range []db.User{emailOff, unverified} {
		video := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: owner.ID, Caption: "clip"}).ID
		b.like(t, actor.ID, owner.ID, video)
		c := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: actor.ID, Video: video})
		b.deliver(t, tasks.NotifyPayload{Type: tasks.NotifyComment, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &video, CommentID: &c})
		b.runDigest(t, owner.ID)
		require.Empty(t, b.smtp.To(owner.Email))
		require.Zero(t, b.scheduledDigests(t, owner.ID))
	}
	// With likes off there is no notification at all, so no mail task.
	video := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: likesOff.ID, Caption: "clip"}).ID
	dbtest.Like(t, b.store, dbtest.LikeOpts{User: actor.ID, Video: video})
	p := tasks.NotifyPayload{Type: tasks.NotifyLike, RecipientID: likesOff.ID, ActorID: &actor.ID, VideoID: &video}
	task, err := tasks.NewNotifyTask(p)
	require.NoError(t, err)
	require.NoError(t, b.notify.ProcessTask(ctx, task))
	_, err = b.insp.GetTaskInfo(tasks.QueueEmail, tasks.EmailNotifyTaskID(p))
	require.ErrorIs(t, err, asynq.ErrTaskNotFound)
	b.runDigest(t, likesOff.ID)
	require.Empty(t, b.smtp.To(likesOff.Email))
}

func TestEmailCommentMailedAtOnceInKorean(t *testing.T) {
	t.Parallel()
	b := newEmailBundle(t)
	owner := b.verifiedUser(t, mail.LangKorean)
	actor := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	video := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: owner.ID, Caption: "clip"}).ID
	c := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: actor.ID, Video: video, Content: "멋져요 <b>!</b>"})
	b.deliver(t, tasks.NotifyPayload{Type: tasks.NotifyComment, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &video, CommentID: &c})

	msgs := b.smtp.To(owner.Email)
	require.Len(t, msgs, 1)
	require.Equal(t, actor.Username+"님이 댓글을 남겼습니다", msgs[0].Subject)
	require.Contains(t, msgs[0].Text, "멋져요 <b>!</b>")
	require.Contains(t, msgs[0].HTML, "멋져요 &lt;b&gt;!&lt;/b&gt;")
	require.NotEmpty(t, msgs[0].Header.Get("List-Unsubscribe"))
}

func TestEmailVerificationAndResetMails(t *testing.T) {
	t.Parallel()
	b := newEmailBundle(t)
	ctx := context.Background()
	u := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})

	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewEmailVerifyTask(u.ID, uuid.New())))
	msgs := b.smtp.To(u.Email)
	require.Len(t, msgs, 1)
	link, err := url.Parse(msgs[0].LinkWith("/verify-email"))
	require.NoError(t, err)
	require.Equal(t, "app.test", link.Host)
	verified, err := b.store.VerifyEmail(ctx, mail.HashToken(link.Query().Get("token")), false)
	require.NoError(t, err)
	require.NotNil(t, verified.EmailVerifiedAt)
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewEmailVerifyTask(u.ID, uuid.New())))
	require.Len(t, b.smtp.To(u.Email), 1, "a verified address gets no more verification mail")

	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewEmailPasswordResetTask("nobody-"+u.Email, uuid.New())))
	require.Empty(t, b.smtp.To("nobody-"+u.Email), "an unknown address gets nothing")
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewEmailPasswordResetTask(u.Email, uuid.New())))
	msgs = b.smtp.To(u.Email)
	require.Len(t, msgs, 2)
	require.Equal(t, "Reset your LOKIZ password", msgs[1].Subject)
	require.NotEmpty(t, msgs[1].LinkWith("/reset-password?token="))

	banned := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	_, _, err = b.store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: banned.ID, Reason: "test"})
	require.NoError(t, err)
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewEmailPasswordResetTask(banned.Email, uuid.New())))
	require.NoError(t, b.mux.ProcessTask(ctx, tasks.NewEmailVerifyTask(banned.ID, uuid.New())))
	require.Empty(t, b.smtp.To(banned.Email), "an inactive user is never mailed")
}

func TestEmailTasksDroppedWithoutMailer(t *testing.T) {
	t.Parallel()
	logger, _ := newLogger()
	mux := asynq.NewServeMux()
	NewEmailHandlers(nil, logger).Register(mux)
	require.NoError(t, mux.ProcessTask(context.Background(), tasks.NewEmailVerifyTask(uuid.New(), uuid.New())))
	err := mux.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeEmailDigest, []byte("{")))
	require.ErrorIs(t, err, asynq.SkipRetry)
}

func TestEmailAIJobMailedAtOnce(t *testing.T) {
	t.Parallel()
	b := newEmailBundle(t)
	owner := b.verifiedUser(t, mail.LangEnglish)
	done := dbtest.AIJob(t, b.store, dbtest.AIJobOpts{User: owner.ID, Status: "completed"})
	failed := dbtest.AIJob(t, b.store, dbtest.AIJobOpts{User: owner.ID, Status: "failed"})
	b.deliver(t, tasks.NotifyPayload{Type: tasks.NotifyAIJob, RecipientID: owner.ID, AIJobID: &done.ID})
	b.deliver(t, tasks.NotifyPayload{Type: tasks.NotifyAIJob, RecipientID: owner.ID, AIJobID: &failed.ID})
	msgs := b.smtp.To(owner.Email)
	require.Len(t, msgs, 2)
	require.Equal(t, "Your AI job is ready", msgs[0].Subject)
	require.Equal(t, "Your AI job did not finish", msgs[1].Subject)
	require.NotEmpty(t, msgs[1].Header.Get("List-Unsubscribe"))
}
