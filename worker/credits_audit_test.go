package worker

import (
	"context"
	"errors"
	"github.com/google/uuid"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/tasks"
)

func TestCreditsAuditHandler(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		store *db.Store
		logs  *testkit.LogBuffer
		mux   *asynq.ServeMux
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := dbtest.NewStore(t)
		logger, logs := newLogger()
		return &testBundle{store: store, logs: logs, mux: NewMux(Deps{Store: store, Logger: logger})}
	}
	// corrupt changes a balance behind the ledger's back, as a bug would.
	corrupt := func(t *testing.T, store *db.Store, user db.User, delta int) {
		t.Helper()
		dbtest.SkewCredits(t, store, user.ID, int32(delta))
	}

	t.Run("ReportsACorruptedBalance", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		bad := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		corrupt(t, b.store, bad, 7)

		require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewCreditsAuditTask()))

		found := b.logs.Lines(t, "credit ledger mismatch")
		require.Len(t, found, 1)
		require.Equal(t, "ERROR", found[0]["level"])
		require.Equal(t, bad.ID.String(), found[0]["user_id"])
		require.Equal(t, float64(bad.Credits+7), found[0]["balance"])
		require.Equal(t, float64(bad.Credits), found[0]["ledger_total"])

		done := b.logs.Lines(t, "task processed")
		require.Len(t, done, 1)
		require.Equal(t, "ok", done[0]["outcome"])
	})

	t.Run("CleanLedgerReportsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		dbtest.CreateUser(t, b.store, dbtest.UserOpts{})

		require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewCreditsAuditTask()))
		for _, rec := range b.logs.Lines(t, "") {
			require.NotEqual(t, "ERROR", rec["level"], "unexpected error line: %v", rec)
		}
		require.Len(t, b.logs.Lines(t, "task processed"), 1)
	})

	t.Run("CapsTheReport", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range maxReportedMismatches + 2 {
			dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		}
		dbtest.SkewCredits(t, b.store, uuid.Nil, 1) // every user

		require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewCreditsAuditTask()))
		require.Len(t, b.logs.Lines(t, "credit ledger mismatch"), maxReportedMismatches)
		rest := b.logs.Lines(t, "credit ledger mismatches not listed")
		require.Len(t, rest, 1)
		require.Equal(t, float64(2), rest[0]["count"])
		require.Equal(t, float64(maxReportedMismatches+2), rest[0]["total"])
	})

	t.Run("BadPayloadSkipsRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.mux.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeCreditsAudit, []byte("[1,2]")))
		require.True(t, errors.Is(err, asynq.SkipRetry), "got %v", err)
		done := b.logs.Lines(t, "task processed")
		require.Len(t, done, 1)
		require.Equal(t, "skip_retry", done[0]["outcome"])
	})

	t.Run("DatabaseFailureIsRetried", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.store.Pool().Close()
		err := b.mux.ProcessTask(context.Background(), tasks.NewCreditsAuditTask())
		require.Error(t, err)
		require.False(t, errors.Is(err, asynq.SkipRetry))
		require.ErrorContains(t, err, "credits audit")
	})
}
