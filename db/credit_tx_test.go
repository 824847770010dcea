package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestCreditsApplyOncePerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)
	purchase := db.CreditChange{UserID: u.ID, Type: lokiz.CreditPurchase, Delta: 100, Description: "pack", IdempotencyKey: "payment:p1"}

	// Sequentially, then concurrently: one row, one balance change.
	first, applied, err := store.CreditsApply(ctx, purchase)
	require.NoError(t, err)
	require.True(t, applied)
	require.Equal(t, initial+100, first.BalanceAfter)
	again, applied, err := store.CreditsApply(ctx, purchase)
	require.NoError(t, err)
	require.False(t, applied)
	require.Equal(t, first.ID, again.ID, "the existing row comes back")

	concurrent := purchase
	concurrent.IdempotencyKey = "payment:p2"
	var wg sync.WaitGroup
	won := make([]bool, 6)
	for i := range won {
		wg.Go(func() {
			_, applied, err := store.CreditsApply(ctx, concurrent)
			assert.NoError(t, err)
			won[i] = applied
		})
	}
	wg.Wait()
	winners := 0
	for _, w := range won {
		if w {
			winners++
		}
	}
	require.Equal(t, 1, winners)
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, initial+200, balance)
	require.Equal(t, 2, rows[lokiz.CreditPurchase])

	// A spend beyond the balance changes nothing.
	_, _, err = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditAdjustment, Delta: -(balance + 1), Description: "x", IdempotencyKey: "adj:1"})
	require.Equal(t, lokiz.EINSUFFICIENTCREDITS, lokiz.ErrorCode(err))
	after, _ := ledger(t, store, u.ID)
	require.Equal(t, balance, after)
}

func TestClaimDailyOncePerDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	var wg sync.WaitGroup
	won := make([]bool, 4)
	for i := range won {
		wg.Go(func() {
			_, applied, err := store.ClaimDaily(ctx, u.ID, day)
			assert.NoError(t, err)
			won[i] = applied
		})
	}
	wg.Wait()
	require.ElementsMatch(t, []bool{true, false, false, false}, won)
	_, applied, err := store.ClaimDaily(ctx, u.ID, day.Add(15*time.Hour)) // the next UTC day
	require.NoError(t, err)
	require.True(t, applied)

	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, initial+2*lokiz.DailyClaimCredits, balance)
	require.Equal(t, 2, rows[lokiz.CreditDaily])
}
