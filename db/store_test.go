package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestRegisterUser(t *testing.T) {
	t.Parallel()

	t.Run("GrantsInitialCreditsThroughTheLedger", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		ctx := context.Background()
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{Username: "alice"})
		require.Equal(t, int32(lokiz.InitialCredits), u.Credits)
		require.Equal(t, "alice", *u.DisplayName)
		require.Equal(t, lokiz.RoleUser, u.Role)
		require.Equal(t, lokiz.TierFree, u.SubscriptionTier)

		tx, err := store.CreditTransactionGetByKey(ctx, "signup:"+u.ID.String())
		require.NoError(t, err)
		require.Equal(t, lokiz.CreditBonus, tx.TransactionType)
		require.Equal(t, int32(100), tx.Credits)
		require.Equal(t, int32(100), tx.BalanceAfter)

		mismatches, err := store.CreditLedgerMismatches(ctx)
		require.NoError(t, err)
		require.Empty(t, mismatches)
	})

	t.Run("DuplicatesAreConflicts", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		dbtest.CreateUser(t, store, dbtest.UserOpts{Username: "bob", Email: "bob@example.com"})
		_, err := store.RegisterUser(context.Background(), db.RegisterUserParams{Username: "bob", Email: "other@example.com", HashedPassword: "x"})
		require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
		require.Equal(t, "Username already taken", lokiz.ErrorMessage(err))
		_, err = store.RegisterUser(context.Background(), db.RegisterUserParams{Username: "bobby", Email: "bob@example.com", HashedPassword: "x"})
		require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
		require.Equal(t, "Email already registered", lokiz.ErrorMessage(err))
	})

	t.Run("ConcurrentDuplicatesCreateOneUser", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = store.RegisterUser(context.Background(), db.RegisterUserParams{
					Username: "racer", Email: fmt.Sprintf("racer%d@example.com", i), HashedPassword: "x"})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "error: %v", err)
			}
		}
		require.Equal(t, 1, ok)
		var users, ledger int
		require.NoError(t, store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&users))
		require.NoError(t, store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM credit_transactions").Scan(&ledger))
		require.Equal(t, 1, users)
		require.Equal(t, 1, ledger)
	})
}

func TestCreditsApply(t *testing.T) {
	t.Parallel()

	t.Run("IdempotentByKey", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		ctx := context.Background()
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		c := db.CreditChange{UserID: u.ID, Type: lokiz.CreditUsage, Delta: -30, Description: "glitch", IdempotencyKey: "job:1:usage"}
		tx1, applied, err := store.CreditsApply(ctx, c)
		require.NoError(t, err)
		require.True(t, applied)
		require.Equal(t, int32(70), tx1.BalanceAfter)
		tx2, applied, err := store.CreditsApply(ctx, c)
		require.NoError(t, err)
		require.False(t, applied)
		require.Equal(t, tx1.ID, tx2.ID)
		got, err := store.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, int32(70), got.Credits)
	})

	t.Run("NeverNegative", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		ctx := context.Background()
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		_, _, err := store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditUsage, Delta: -101, Description: "too much", IdempotencyKey: "k1"})
		require.Equal(t, lokiz.EINSUFFICIENTCREDITS, lokiz.ErrorCode(err))
		_, _, err = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditUsage, Delta: -100, Description: "exactly all", IdempotencyKey: "k2"})
		require.NoError(t, err, "a balance equal to the cost is enough")
	})

	t.Run("ConcurrentSpendsNeverOverdraw", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		ctx := context.Background()
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		const n = 10 // 10 × 30 = 300 requested against 100
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditUsage, Delta: -30,
					Description: "job", IdempotencyKey: fmt.Sprintf("job:%d:usage", i)})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.Equal(t, lokiz.EINSUFFICIENTCREDITS, lokiz.ErrorCode(err))
			}
		}
		require.Equal(t, 3, ok)
		got, err := store.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, int32(10), got.Credits)
		mismatches, err := store.CreditLedgerMismatches(ctx)
		require.NoError(t, err)
		require.Empty(t, mismatches)
	})

	t.Run("ConcurrentSameKeyAppliesOnce", func(t *testing.T) {
		t.Parallel()
		store := dbtest.NewStore(t)
		ctx := context.Background()
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		const n = 8
		var wg sync.WaitGroup
		applied := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, applied[i], errs[i] = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditRefund, Delta: 30,
					Description: "refund", IdempotencyKey: "job:7:refund"})
			}()
		}
		wg.Wait()
		count := 0
		for i := range n {
			require.NoError(t, errs[i])
			if applied[i] {
				count++
			}
		}
		require.Equal(t, 1, count)
		got, err := store.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, int32(130), got.Credits)
	})
}

func TestUserByIDNotFound(t *testing.T) {
	t.Parallel()
	store := dbtest.NewStore(t)
	_, err := store.UserByID(context.Background(), db.NewID())
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	require.False(t, errors.Is(err, context.Canceled))
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewEmptyDB(t)
	pool, err := db.Open(ctx, url, db.PoolOptions{})
	require.NoError(t, err)
	defer pool.Close()

	require.ErrorIs(t, db.CheckSchema(ctx, pool), db.ErrPendingMigrations)
	st, err := db.Status(ctx, pool)
	require.NoError(t, err)
	require.NotEmpty(t, st)
	for _, s := range st {
		require.False(t, s.Applied)
	}
	applied, err := db.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Len(t, applied, len(st))
	require.NoError(t, db.CheckSchema(ctx, pool))
	again, err := db.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, again, "a second run applies nothing")
}
