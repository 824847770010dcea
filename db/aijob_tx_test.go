package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// ledger checks the ledger invariant of user (the balance is the sum of the
// ledger rows, and the newest row's balance_after is the balance) and
// returns the balance and the number of rows of each transaction type.
func ledger(t *testing.T, store *db.Store, user uuid.UUID) (balance int32, rows map[string]int) {
	t.Helper()
	ctx := context.Background()
	var sum int32
	var last *int32
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT u.credits,
		(SELECT coalesce(sum(credits), 0)::int FROM credit_transactions WHERE user_id = u.id),
		(SELECT balance_after FROM credit_transactions WHERE user_id = u.id ORDER BY created_at DESC, id DESC LIMIT 1)
		FROM users u WHERE u.id = $1`, user).Scan(&balance, &sum, &last))
	require.Equal(t, balance, sum, "balance = sum of the ledger")
	require.NotNil(t, last)
	require.Equal(t, balance, *last, "the newest ledger row ends at the balance")
	rows = map[string]int{}
	r, err := store.Pool().Query(ctx, `SELECT transaction_type, count(*) FROM credit_transactions WHERE user_id = $1 GROUP BY 1`, user)
	require.NoError(t, err)
	defer r.Close()
	for r.Next() {
		var typ string
		var n int
		require.NoError(t, r.Scan(&typ, &n))
		rows[typ] = n
	}
	require.NoError(t, r.Err())
	return balance, rows
}

func newJob(user uuid.UUID, credits int32) db.AIJobCreateParams {
	return db.AIJobCreateParams{
		ID: db.NewID(), UserID: user, JobType: lokiz.JobMusic, InputData: json.RawMessage(`{}`),
		CreditsUsed: credits, Queue: "ai",
	}
}

func start(t *testing.T, store *db.Store, id uuid.UUID) {
	t.Helper()
	pred := "pred-" + id.String()
	n, err := store.AIJobStart(context.Background(), db.AIJobStartParams{ID: id, PredictionID: &pred})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestCreateAIJobChargesTheJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	before, rows := ledger(t, store, u.ID)
	require.Zero(t, rows[lokiz.CreditUsage])

	job, err := store.CreateAIJob(ctx, newJob(u.ID, 5))
	require.NoError(t, err)
	require.Equal(t, lokiz.JobPending, job.Status)
	require.EqualValues(t, 5, job.CreditsUsed)
	after, rows := ledger(t, store, u.ID)
	require.Equal(t, before-5, after)
	require.Equal(t, 1, rows[lokiz.CreditUsage])
	var key string
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT idempotency_key FROM credit_transactions
		WHERE user_id = $1 AND transaction_type = 'usage'`, u.ID).Scan(&key))
	require.Equal(t, "job:"+job.ID.String()+":usage", key)

	// More than the balance: insufficient_credits, and neither job nor row.
	tooMuch := newJob(u.ID, after+1)
	_, err = store.CreateAIJob(ctx, tooMuch)
	require.Equal(t, lokiz.EINSUFFICIENTCREDITS, lokiz.ErrorCode(err))
	require.Equal(t, fmt.Sprintf("Insufficient credits. Required: %d, Available: %d", after+1, after), lokiz.ErrorMessage(err),
		"the balance the transaction saw")
	_, err = store.AIJobGet(ctx, tooMuch.ID)
	require.True(t, db.IsNotFound(err), "no job without its charge: %v", err)
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, after, balance)
	require.Equal(t, 1, rows[lokiz.CreditUsage])

	// A free job leaves the ledger alone.
	_, err = store.CreateAIJob(ctx, newJob(u.ID, 0))
	require.NoError(t, err)
	balance, rows = ledger(t, store, u.ID)
	require.Equal(t, after, balance)
	require.Equal(t, 1, rows[lokiz.CreditUsage])
}

func TestCreateAIJobConcurrentNeverOverspends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	balance, _ := ledger(t, store, u.ID)
	cost := balance/3 + 1 // two fit, three do not

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = store.CreateAIJob(ctx, newJob(u.ID, cost))
		})
	}
	wg.Wait()
	var ok, short int
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.Equal(t, lokiz.EINSUFFICIENTCREDITS, lokiz.ErrorCode(err), "%v", err)
			short++
		}
	}
	require.Equal(t, 2, ok)
	require.Equal(t, 1, short)
	after, rows := ledger(t, store, u.ID)
	require.Equal(t, balance-2*cost, after)
	require.Equal(t, 2, rows[lokiz.CreditUsage])
}

func TestEndAIJobRefundsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)

	for _, status := range []string{lokiz.JobFailed, lokiz.JobCanceled} {
		job, err := store.CreateAIJob(ctx, newJob(u.ID, 5))
		require.NoError(t, err)
		start(t, store, job.ID)
		ending := db.AIJobEnding{ID: job.ID, Status: status, ErrorMessage: "it broke", Reason: "test", CanceledByUser: status == lokiz.JobCanceled}
		ended, ok, err := store.EndAIJob(ctx, ending)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, status, ended.Status)
		require.NotNil(t, ended.CompletedAt)
		require.Equal(t, status == lokiz.JobCanceled, ended.CanceledByUser)

		// Again: nothing changes, and the job comes back as it is.
		again, ok, err := store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobFailed, ErrorMessage: "later"})
		require.NoError(t, err)
		require.False(t, ok)
		require.Equal(t, status, again.Status)
		require.Equal(t, "it broke", *again.ErrorMessage)
	}
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, initial, balance, "both jobs refunded in full")
	require.Equal(t, 2, rows[lokiz.CreditUsage])
	require.Equal(t, 2, rows[lokiz.CreditRefund])

	// A job that never existed is not found.
	_, _, err := store.EndAIJob(ctx, db.AIJobEnding{ID: uuid.New(), Status: lokiz.JobFailed})
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
}

func TestEndAIJobConcurrentRefundsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)
	job, err := store.CreateAIJob(ctx, newJob(u.ID, 7))
	require.NoError(t, err)

	const n = 6
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		status := lokiz.JobFailed
		if i%2 == 1 {
			status = lokiz.JobCanceled
		}
		wg.Go(func() {
			_, won[i], errs[i] = store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: status})
		})
	}
	wg.Wait()
	winners := 0
	for i := range n {
		require.NoError(t, errs[i])
		if won[i] {
			winners++
		}
	}
	require.Equal(t, 1, winners, "exactly one ending wins")
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, initial, balance)
	require.Equal(t, 1, rows[lokiz.CreditRefund])
}

func TestCompleteAIJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)
	source := dbtest.Video(t, store, dbtest.VideoOpts{Owner: u.ID})
	job, err := store.CreateAIJob(ctx, newJob(u.ID, 5))
	require.NoError(t, err)

	// A pending job is not completed: only a processing one is.
	done, _, err := store.CompleteAIJob(ctx, db.AIJobCompletion{ID: job.ID, OutputData: json.RawMessage(`{}`)})
	require.NoError(t, err)
	require.False(t, done)

	start(t, store, job.ID)
	result := dbtest.Video(t, store, dbtest.VideoOpts{Owner: u.ID, OriginalVideoID: &source.ID})
	glitch := "replace"
	completion := db.AIJobCompletion{
		ID: job.ID, OutputData: json.RawMessage(`{"ok":true}`), OutputKey: "ai/out.mp4",
		VideoID: &result.ID, SourceVideoID: &source.ID, GlitchType: &glitch,
	}
	done, _, err = store.CompleteAIJob(ctx, completion)
	require.NoError(t, err)
	require.True(t, done)
	got, err := store.AIJobGet(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.JobCompleted, got.Status)
	require.Equal(t, result.ID, *got.VideoID)
	require.NotNil(t, got.CompletedAt)

	// A second completion changes nothing: one edge, one count.
	done, _, err = store.CompleteAIJob(ctx, completion)
	require.NoError(t, err)
	require.False(t, done)
	var edges int
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT count(*) FROM video_glitches WHERE original_video_id = $1`, source.ID).Scan(&edges))
	require.Equal(t, 1, edges)
	src, err := store.VideoGetByID(ctx, source.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, src.GlitchCount)

	// A completed job cannot end: no refund.
	_, ended, err := store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobFailed})
	require.NoError(t, err)
	require.False(t, ended)
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, initial-5, balance, "a completed job keeps its charge")
	require.Zero(t, rows[lokiz.CreditRefund])
}

func TestCancelAIJobRacingCompletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)

	for range 5 {
		job, err := store.CreateAIJob(ctx, newJob(u.ID, 3))
		require.NoError(t, err)
		start(t, store, job.ID)
		var wg sync.WaitGroup
		var completed, canceled bool
		var cErr, eErr error
		wg.Go(func() {
			completed, _, cErr = store.CompleteAIJob(ctx, db.AIJobCompletion{ID: job.ID, OutputData: json.RawMessage(`{}`)})
		})
		wg.Go(func() {
			_, canceled, eErr = store.EndAIJob(ctx, db.AIJobEnding{ID: job.ID, Status: lokiz.JobCanceled, CanceledByUser: true})
		})
		wg.Wait()
		require.NoError(t, cErr)
		require.NoError(t, eErr)
		require.True(t, completed != canceled, "exactly one of completion and cancel wins")
		got, err := store.AIJobGet(ctx, job.ID)
		require.NoError(t, err)
		if canceled {
			require.Equal(t, lokiz.JobCanceled, got.Status)
		} else {
			require.Equal(t, lokiz.JobCompleted, got.Status)
		}
	}
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, 5, rows[lokiz.CreditUsage])
	require.Equal(t, initial-3*int32(5-rows[lokiz.CreditRefund]), balance, "a refund for each cancel that won, none for a completion")
}
