package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
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
		dbtest.BackdateAccountDeletion(t, store, u.ID, dbtest.AccountDeletionBackdate{Age: age, Erased: erased})
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
	h := NewAccountEraseHandler(store, st, &billing.Subscriptions{Store: store}, logger)
	pool := store.Pool()
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	running, done := db.NewID(), db.NewID()
	dbtest.AIJob(t, store, dbtest.AIJobOpts{ID: running, User: u.ID, Type: lokiz.JobMusic, Status: lokiz.JobProcessing,
		Input: json.RawMessage(`{"prompt": "my secret song"}`), Credits: 5})
	outKey := "ai/" + done.String() + ".mp3"
	dbtest.AIJob(t, store, dbtest.AIJobOpts{ID: done, User: u.ID, Type: lokiz.JobMusic, Status: lokiz.JobCompleted,
		Input: json.RawMessage(`{"prompt": "another"}`), OutputKey: outKey, Credits: 5})
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

	_, ended, err := store.EndAIJob(ctx, db.AIJobEnding{ID: running, Status: lokiz.JobFailed, Reason: "test"})
	require.NoError(t, err)
	require.True(t, ended)
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
	_, err = store.SearchHistoryRecord(ctx, db.SearchHistoryRecordParams{ID: db.NewID(), UserID: live.ID, Query: "q", Normalized: "q"})
	require.NoError(t, err)
	require.NoError(t, h.ProcessTask(ctx, tasks.NewAccountEraseTask(live.ID)))
	var searches int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM search_history WHERE user_id = $1", live.ID).Scan(&searches))
	require.Equal(t, 1, searches, "a live account is never erased")
}

// TestAccountDeletionCountsOnce: deleting an account takes its likes,
// comments, comment likes and glitches out of every counter at once (the
// account is inactive), and the erase task that deletes those rows later
// takes nothing out a second time: the counters end equal to a recount,
// never below it.
func TestAccountDeletionCountsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logger, _ := newLogger()
	h := NewAccountEraseHandler(store, st, &billing.Subscriptions{Store: store}, logger)
	pool := store.Pool()
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	gone := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	video := dbtest.Video(t, store, dbtest.VideoOpts{Owner: owner.ID, NoMedia: true}).ID
	for _, u := range []uuid.UUID{other.ID, gone.ID} {
		dbtest.Like(t, store, dbtest.LikeOpts{User: u, Video: video})
	}
	kept := dbtest.Comment(t, store, dbtest.CommentOpts{Author: other.ID, Video: video, Content: "stays"})
	for range 2 {
		dbtest.Comment(t, store, dbtest.CommentOpts{Author: gone.ID, Video: video, Content: "goes"})
	}
	_, _, err = store.LikeComment(ctx, gone.ID, kept, other.ID, video)
	require.NoError(t, err)
	// A public glitch of the video by the account that goes.
	glitch := dbtest.Video(t, store, dbtest.VideoOpts{Owner: gone.ID, NoMedia: true, OriginalVideoID: &video}).ID
	dbtest.GlitchEdge(t, store, dbtest.GlitchEdgeOpts{Source: video, Glitch: glitch, Type: "animate"})

	counts := func() [4]int {
		t.Helper()
		var c [4]int
		require.NoError(t, pool.QueryRow(ctx, `SELECT v.like_count, v.comment_count, v.glitch_count, c.like_count
			FROM videos v, comments c WHERE v.id = $1 AND c.id = $2`, video, kept).Scan(&c[0], &c[1], &c[2], &c[3]))
		return c
	}
	recount := func() [4]int {
		t.Helper()
		var c [4]int
		require.NoError(t, pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM likes l JOIN users u ON u.id = l.user_id WHERE l.video_id = $1 AND u.is_active),
			(SELECT count(*) FROM comments c JOIN users u ON u.id = c.user_id WHERE c.video_id = $1 AND u.is_active),
			(SELECT count(*) FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id JOIN users u ON u.id = gv.user_id
			  WHERE g.original_video_id = $1 AND gv.status = 'completed' AND gv.is_public AND gv.deleted_at IS NULL AND u.is_active),
			(SELECT count(*) FROM comment_likes cl JOIN users u ON u.id = cl.user_id WHERE cl.comment_id = $2 AND u.is_active)`,
			video, kept).Scan(&c[0], &c[1], &c[2], &c[3]))
		return c
	}
	require.Equal(t, [4]int{2, 3, 1, 1}, counts())

	_, err = store.DeleteAccount(ctx, gone.ID)
	require.NoError(t, err)
	require.Equal(t, [4]int{1, 1, 0, 0}, counts(), "the deleted account stops counting at once")
	require.Equal(t, recount(), counts())

	task := tasks.NewAccountEraseTask(gone.ID)
	require.NoError(t, h.ProcessTask(ctx, task))
	require.NoError(t, h.ProcessTask(ctx, task), "a repeated erase changes nothing")
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM likes WHERE user_id = $1) + (SELECT count(*) FROM comments WHERE user_id = $1)
		+ (SELECT count(*) FROM comment_likes WHERE user_id = $1)`, gone.ID).Scan(&left))
	require.Zero(t, left, "the rows are erased")
	require.Equal(t, [4]int{1, 1, 0, 0}, counts(), "the erase takes nothing out twice")
	require.Equal(t, recount(), counts())
}

// TestAccountEraseEndsKeysAndSubscription: an erased account keeps no API
// key, and its live subscription ends, so no renewal charges it later.
func TestAccountEraseEndsKeysAndSubscription(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logger, _ := newLogger()
	h := NewAccountEraseHandler(store, st, &billing.Subscriptions{Store: store}, logger)
	pool := store.Pool()
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	now := time.Now()
	sub, _, err := store.StartSubscription(ctx, db.NewSubscription{
		UserID: u.ID, Plan: lokiz.TierEnterprise, Provider: "toss", ProviderSubscriptionID: "sub-" + u.ID.String(),
		BillingKey: ptr("billing-key"), CustomerKey: ptr("customer-" + u.ID.String()),
		Period: db.Period{Start: now, End: now.AddDate(0, 1, 0)},
	})
	require.NoError(t, err)
	_, err = store.CreateAPIKey(ctx, db.NewAPIKeyParams{UserID: u.ID, Name: "ci", LookupID: "0123456789abcdef",
		SecretHash: make([]byte, 32), MaxLive: 10, Now: now})
	require.NoError(t, err)

	_, err = store.DeleteAccount(ctx, u.ID)
	require.NoError(t, err)
	require.NoError(t, h.ProcessTask(ctx, tasks.NewAccountEraseTask(u.ID)))

	var keys int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE user_id = $1", u.ID).Scan(&keys))
	require.Zero(t, keys)
	var status string
	require.NoError(t, pool.QueryRow(ctx, "SELECT status FROM subscriptions WHERE id = $1", sub.ID).Scan(&status))
	require.Equal(t, "expired", status)
	due, err := store.SubscriptionsDueForRenewal(ctx, db.SubscriptionsDueForRenewalParams{Before: now.AddDate(1, 0, 0), Lim: 100})
	require.NoError(t, err)
	for _, d := range due {
		require.NotEqual(t, sub.ID, d.ID, "an erased account's subscription is never renewed")
	}
}

// TestAccountEraseCancelsTheStripeSubscription: erasing an account cancels
// its Stripe subscription at Stripe at once (not at the period's end), so
// Stripe charges it no more; a retry after Stripe already canceled it
// succeeds; when Stripe refuses, nothing is erased and the task is retried.
func TestAccountEraseCancelsTheStripeSubscription(t *testing.T) {
	t.Parallel()
	mock := paymenttest.StartStripeMock(t)
	type bundle struct {
		store   *db.Store
		overlay *paymenttest.StripeOverlay
		h       *AccountEraseHandler
		user    db.User
		sub     db.Subscription
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		ctx := context.Background()
		store := dbtest.NewStore(t)
		st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: "k"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		overlay := paymenttest.NewStripeOverlay(t, mock.URL)
		stripe, err := payments.NewStripe(payments.StripeConfig{SecretKey: paymenttest.StripeTestKey,
			WebhookSecret: paymenttest.StripeWebhookSecret, APIBase: overlay.URL,
			SuccessURL: "https://lokiz.test/ok", CancelURL: "https://lokiz.test/no"})
		require.NoError(t, err)
		logger, _ := newLogger()
		subs := &billing.Subscriptions{Store: store, Providers: payments.Providers{Stripe: stripe}}
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		now := time.Now().UTC().Truncate(time.Second)
		sub, _, err := store.StartSubscription(ctx, db.NewSubscription{UserID: u.ID, Plan: lokiz.TierPro, Provider: payments.Stripe,
			ProviderSubscriptionID: "sub_erase_" + strings.ReplaceAll(u.ID.String(), "-", ""),
			Period:                 db.Period{Start: now, End: now.AddDate(0, 1, 0)}})
		require.NoError(t, err)
		_, err = store.DeleteAccount(ctx, u.ID)
		require.NoError(t, err)
		return &bundle{store: store, overlay: overlay, h: NewAccountEraseHandler(store, st, subs, logger), user: u, sub: sub}
	}
	status := func(t *testing.T, b *bundle) string {
		t.Helper()
		got, err := b.store.SubscriptionGet(context.Background(), b.sub.ID)
		require.NoError(t, err)
		return got.Status
	}
	erased := func(t *testing.T, b *bundle) bool {
		t.Helper()
		state, err := b.store.UserEraseState(context.Background(), b.user.ID)
		require.NoError(t, err)
		return state.ErasedAt != nil
	}
	path := func(b *bundle) string { return "/v1/subscriptions/" + b.sub.ProviderSubscriptionID }

	t.Run("CancelsAtStripeAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.overlay.Set(b.sub.ProviderSubscriptionID, map[string]any{"status": "canceled", "ended_at": time.Now().Unix()})
		require.NoError(t, b.h.ProcessTask(context.Background(), tasks.NewAccountEraseTask(b.user.ID)))
		req, ok := b.overlay.LastRequest(http.MethodDelete, path(b))
		require.True(t, ok, "Stripe is asked to cancel now")
		require.Equal(t, http.StatusOK, req.Status)
		_, updated := b.overlay.LastRequest(http.MethodPost, path(b))
		require.False(t, updated, "not a cancellation at period end")
		require.Equal(t, lokiz.SubExpired, status(t, b))
		require.True(t, erased(t, b))
		u, err := b.store.UserByID(context.Background(), b.user.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.TierFree, u.SubscriptionTier)
	})

	t.Run("RetryAfterStripeCanceled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A first attempt canceled it at Stripe and stopped before the
		// database: Stripe now refuses to cancel it again.
		b.overlay.Set(b.sub.ProviderSubscriptionID, map[string]any{"status": "canceled", "ended_at": time.Now().Unix()})
		b.overlay.Refuse(http.MethodDelete, b.sub.ProviderSubscriptionID, "This subscription has already been canceled.")
		require.NoError(t, b.h.ProcessTask(context.Background(), tasks.NewAccountEraseTask(b.user.ID)))
		require.Equal(t, lokiz.SubExpired, status(t, b))
		require.True(t, erased(t, b))
	})

	t.Run("StripeRefusesNothingIsErased", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.overlay.Set(b.sub.ProviderSubscriptionID, map[string]any{"status": "active", "ended_at": nil})
		b.overlay.Refuse(http.MethodDelete, b.sub.ProviderSubscriptionID, "Something is wrong.")
		require.Error(t, b.h.ProcessTask(context.Background(), tasks.NewAccountEraseTask(b.user.ID)))
		require.Equal(t, lokiz.SubActive, status(t, b), "still live here: the retry cancels it")
		require.False(t, erased(t, b))
	})
}
