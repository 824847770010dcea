package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// auditClean asserts the ledger invariant the credits:audit task checks for
// every user: each balance is the sum of its ledger.
func auditClean(t *testing.T, store *db.Store) {
	t.Helper()
	rows, err := store.CreditLedgerMismatches(context.Background())
	require.NoError(t, err)
	require.Empty(t, rows, "credits audit finds no mismatch")
}

// paidOrder creates an order of kind/item for user and marks it paid with a
// fresh payment id.
func paidOrder(t *testing.T, store *db.Store, user uuid.UUID, kind, item, provider, currency string) db.PaymentOrder {
	t.Helper()
	ctx := context.Background()
	o, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: user, Kind: kind, ItemID: item, Provider: provider, Currency: currency})
	require.NoError(t, err)
	o, moved, err := store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: "pay_" + uuid.NewString(), Amount: o.Amount, Currency: o.Currency})
	require.NoError(t, err)
	require.True(t, moved)
	return o
}

func TestCreatePaymentOrderPricesFromTheCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	before, _ := ledger(t, store, u.ID)

	o, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "starter_100", Provider: "stripe", Currency: lokiz.CurrencyUSD})
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderPending, o.Status)
	require.Equal(t, int64(499), o.Amount)
	require.Equal(t, "usd", o.Currency)
	require.Equal(t, int32(100), o.Credits)
	require.Nil(t, o.PaidAt)

	o, err = store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "basic_500", Provider: "toss", Currency: lokiz.CurrencyKRW})
	require.NoError(t, err)
	require.Equal(t, int64(26000), o.Amount)
	require.Equal(t, int32(500), o.Credits)

	o, err = store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPlan, ItemID: lokiz.TierPro, Provider: "toss", Currency: lokiz.CurrencyKRW})
	require.NoError(t, err)
	require.Equal(t, lokiz.TierPlan(lokiz.TierPro).PriceKRW, o.Amount)
	require.Equal(t, lokiz.TierPlan(lokiz.TierPro).MonthlyCredits, o.Credits, "a plan order delivers one period's monthly credits")

	// An order with the caller's id is created once: the same request
	// again answers the stored order, another purchase under that id is a
	// conflict.
	id := uuid.New()
	named := db.NewPaymentOrder{ID: id, UserID: u.ID, Kind: lokiz.OrderKindPlan, ItemID: lokiz.TierBasic, Provider: "toss", Currency: lokiz.CurrencyKRW}
	first, err := store.CreatePaymentOrder(ctx, named)
	require.NoError(t, err)
	require.Equal(t, id, first.ID)
	again, err := store.CreatePaymentOrder(ctx, named)
	require.NoError(t, err)
	require.Equal(t, first.CreatedAt, again.CreatedAt, "the stored order, not a new one")
	other := named
	other.ItemID = lokiz.TierPro
	_, err = store.CreatePaymentOrder(ctx, other)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))

	session, err := store.SetOrderCheckoutSession(ctx, o.ID, "cs_test_1")
	require.NoError(t, err)
	found, err := store.PaymentOrderByProviderSession(ctx, db.PaymentOrderByProviderSessionParams{Provider: "toss", ProviderSessionID: ptr("cs_test_1")})
	require.NoError(t, err)
	require.Equal(t, session.ID, found.ID)
	second, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPlan, ItemID: lokiz.TierPro, Provider: "toss", Currency: lokiz.CurrencyKRW})
	require.NoError(t, err)
	_, err = store.SetOrderCheckoutSession(ctx, second.ID, "cs_test_1")
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "one checkout session names one order")
	_, err = store.SetOrderCheckoutSession(ctx, second.ID, "")
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	_, err = store.CancelOrder(ctx, second.ID, "")
	require.NoError(t, err)
	_, err = store.SetOrderCheckoutSession(ctx, second.ID, "cs_test_2")
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "only a pending order gets a session")

	for name, bad := range map[string]db.NewPaymentOrder{
		"unknown package":  {Kind: lokiz.OrderKindPackage, ItemID: "free_lunch", Provider: "stripe", Currency: "usd"},
		"free plan":        {Kind: lokiz.OrderKindPlan, ItemID: lokiz.TierFree, Provider: "stripe", Currency: "usd"},
		"unknown plan":     {Kind: lokiz.OrderKindPlan, ItemID: "gold", Provider: "stripe", Currency: "usd"},
		"unsold currency":  {Kind: lokiz.OrderKindPackage, ItemID: "starter_100", Provider: "stripe", Currency: "eur"},
		"unknown kind":     {Kind: "gift", ItemID: "starter_100", Provider: "stripe", Currency: "usd"},
		"unknown provider": {Kind: lokiz.OrderKindPackage, ItemID: "starter_100", Provider: "paypal", Currency: "usd"},
	} {
		bad.UserID = u.ID
		_, err := store.CreatePaymentOrder(ctx, bad)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), name)
	}
	after, rows := ledger(t, store, u.ID)
	require.Equal(t, before, after, "an order grants nothing")
	require.Zero(t, rows[lokiz.CreditPurchase])
}

func TestRecordPaymentEventOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	now := time.Now()

	var wg sync.WaitGroup
	fresh := make([]bool, 10)
	for i := range fresh {
		wg.Go(func() {
			isNew, err := store.RecordPaymentEvent(ctx, "stripe", "evt_1", "checkout.session.completed", now)
			assert.NoError(t, err)
			fresh[i] = isNew
		})
	}
	wg.Wait()
	n := 0
	for _, f := range fresh {
		if f {
			n++
		}
	}
	require.Equal(t, 1, n, "ten deliveries at once: one is new")
	isNew, err := store.RecordPaymentEvent(ctx, "stripe", "evt_1", "checkout.session.completed", now)
	require.NoError(t, err)
	require.False(t, isNew)
	isNew, err = store.RecordPaymentEvent(ctx, "toss", "evt_1", "PAYMENT_STATUS_CHANGED", now)
	require.NoError(t, err)
	require.True(t, isNew, "event ids are per provider")
	var count int
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT count(*) FROM payment_events`).Scan(&count))
	require.Equal(t, 2, count)
	_, err = store.RecordPaymentEvent(ctx, "stripe", "", "x", now)
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "an empty event id is refused")
}

func TestMarkOrderPaidChecksTheAmount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	o, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "pro_2000", Provider: "toss", Currency: lokiz.CurrencyKRW})
	require.NoError(t, err)

	_, moved, err := store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: "tpk_1", Amount: o.Amount - 1000, Currency: "krw"})
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "a tampered amount is refused")
	require.False(t, moved)
	_, _, err = store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: "tpk_1", Amount: o.Amount, Currency: "usd"})
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "another currency is refused")
	_, _, err = store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{Amount: o.Amount, Currency: "krw"})
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "a payment id is required")
	got, err := store.PaymentOrderGet(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderPending, got.Status, "a refused payment changes nothing")
	require.Nil(t, got.ProviderPaymentID)

	paid, moved, err := store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: "tpk_1", Amount: o.Amount, Currency: "krw"})
	require.NoError(t, err)
	require.True(t, moved)
	require.Equal(t, lokiz.OrderPaid, paid.Status)
	require.NotNil(t, paid.PaidAt)
	require.Equal(t, "tpk_1", *paid.ProviderPaymentID)

	again, moved, err := store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: "tpk_1", Amount: o.Amount, Currency: "krw"})
	require.NoError(t, err, "the same payment again is harmless")
	require.False(t, moved)
	require.Equal(t, paid.PaidAt, again.PaidAt)
	_, _, err = store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: "tpk_2", Amount: o.Amount, Currency: "krw"})
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "a second payment for a paid order")

	other, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "pro_2000", Provider: "toss", Currency: lokiz.CurrencyKRW})
	require.NoError(t, err)
	_, _, err = store.MarkOrderPaid(ctx, other.ID, db.PaidPayment{PaymentID: "tpk_1", Amount: other.Amount, Currency: "krw"})
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "one payment pays one order")
	found, err := store.PaymentOrderByProviderPayment(ctx, db.PaymentOrderByProviderPaymentParams{Provider: "toss", ProviderPaymentID: ptr("tpk_1")})
	require.NoError(t, err)
	require.Equal(t, o.ID, found.ID)

	_, err = store.FailOrder(ctx, other.ID, "card declined")
	require.NoError(t, err)
	_, _, err = store.MarkOrderPaid(ctx, other.ID, db.PaidPayment{PaymentID: "tpk_3", Amount: other.Amount, Currency: "krw"})
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "a failed order is final")
	_, _, err = store.MarkOrderPaid(ctx, uuid.New(), db.PaidPayment{PaymentID: "tpk_4", Amount: 1, Currency: "krw"})
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
}

func TestFulfillOrderGrantsOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	before, _ := ledger(t, store, u.ID)

	pending, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "basic_500", Provider: "stripe", Currency: "usd"})
	require.NoError(t, err)
	_, _, err = store.FulfillOrder(ctx, pending.ID)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "an unpaid order grants nothing")

	o := paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "basic_500", "stripe", "usd")
	var wg sync.WaitGroup
	granted := make([]bool, 10)
	for i := range granted {
		wg.Go(func() {
			got, g, err := store.FulfillOrder(ctx, o.ID)
			assert.NoError(t, err)
			assert.Equal(t, lokiz.OrderFulfilled, got.Status)
			granted[i] = g
		})
	}
	wg.Wait()
	n := 0
	for _, g := range granted {
		if g {
			n++
		}
	}
	require.Equal(t, 1, n, "ten fulfilments at once grant once")
	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, before+500, balance)
	require.Equal(t, 1, rows[lokiz.CreditPurchase])
	row, err := store.CreditTransactionGetByKey(ctx, db.PaymentOrderKey(o.ID))
	require.NoError(t, err)
	require.Equal(t, int32(500), row.Credits)
	require.Equal(t, "Purchase: Basic Pack", row.Description)
	got, err := store.PaymentOrderGet(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, got.Status)
	require.NotNil(t, got.FulfilledAt)

	plan := paidOrder(t, store, u.ID, lokiz.OrderKindPlan, lokiz.TierBasic, "stripe", "usd")
	_, _, err = store.FulfillOrder(ctx, plan.ID)
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "a plan's order is fulfilled by its subscription")
	auditClean(t, store)
}

func TestFailAndCancelOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	newOrder := func() db.PaymentOrder {
		o, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "starter_100", Provider: "stripe", Currency: "usd"})
		require.NoError(t, err)
		return o
	}

	a := newOrder()
	failed, err := store.FailOrder(ctx, a.ID, "async payment failed")
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFailed, failed.Status)
	require.Equal(t, "async payment failed", *failed.FailureReason)
	again, err := store.FailOrder(ctx, a.ID, "again")
	require.NoError(t, err, "failing a failed order is harmless")
	require.Equal(t, "async payment failed", *again.FailureReason)
	_, err = store.CancelOrder(ctx, a.ID, "")
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "failed is final")
	_, _, err = store.FulfillOrder(ctx, a.ID)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))

	b := newOrder()
	canceled, err := store.CancelOrder(ctx, b.ID, "")
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderCanceled, canceled.Status)
	require.Nil(t, canceled.FailureReason)

	c := paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "starter_100", "stripe", "usd")
	_, err = store.FailOrder(ctx, c.ID, "late failure")
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "a paid order is refunded, not failed")
	_, err = store.CancelOrder(ctx, c.ID, "")
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
	_, err = store.CancelOrder(ctx, uuid.New(), "")
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
}

func TestRefundOrderClawsBackNeverBelowZero(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	start, _ := ledger(t, store, u.ID)

	// Bought 500, spent all but 30 of the balance: the refund takes 30.
	o := paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "basic_500", "stripe", "usd")
	_, _, err := store.FulfillOrder(ctx, o.ID)
	require.NoError(t, err)
	_, _, err = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditUsage, Delta: -(start + 470), Description: "jobs", IdempotencyKey: "job:spent"})
	require.NoError(t, err)
	balance, _ := ledger(t, store, u.ID)
	require.Equal(t, int32(30), balance)

	_, _, err = store.RefundOrder(ctx, o.ID, o.Amount+1)
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "more than was paid")
	_, _, err = store.RefundOrder(ctx, o.ID, 0)
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))

	refunded, clawed, err := store.RefundOrder(ctx, o.ID, 1000)
	require.NoError(t, err)
	require.Equal(t, int32(30), clawed)
	require.Equal(t, lokiz.OrderRefunded, refunded.Status)
	require.Equal(t, int64(1000), refunded.RefundedAmount)
	require.Equal(t, int32(30), refunded.CreditsClawedBack)
	require.NotNil(t, refunded.RefundedAt)
	balance, rows := ledger(t, store, u.ID)
	require.Zero(t, balance, "clawed back to zero, not below")
	require.Equal(t, 1, rows[lokiz.CreditAdjustment])

	// The rest of the money refunded, and the same event again: the amount
	// grows, nothing more is taken, even from credits that arrive later.
	_, _, err = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditBonus, Delta: 40, Description: "gift", IdempotencyKey: "gift:1"})
	require.NoError(t, err)
	for range 2 {
		refunded, clawed, err = store.RefundOrder(ctx, o.ID, o.Amount)
		require.NoError(t, err)
		require.Zero(t, clawed)
		require.Equal(t, o.Amount, refunded.RefundedAmount)
		require.Equal(t, int32(30), refunded.CreditsClawedBack)
	}
	refunded, _, err = store.RefundOrder(ctx, o.ID, 500)
	require.NoError(t, err)
	require.Equal(t, o.Amount, refunded.RefundedAmount, "a stale smaller refund does not lower the amount")
	balance, rows = ledger(t, store, u.ID)
	require.Equal(t, int32(40), balance)
	require.Equal(t, 1, rows[lokiz.CreditAdjustment])

	// Enough balance: every granted credit goes back.
	full := paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "starter_100", "toss", "krw")
	_, _, err = store.FulfillOrder(ctx, full.ID)
	require.NoError(t, err)
	_, clawed, err = store.RefundOrder(ctx, full.ID, full.Amount)
	require.NoError(t, err)
	require.Equal(t, int32(100), clawed)
	balance, _ = ledger(t, store, u.ID)
	require.Equal(t, int32(40), balance)

	// Refunded before fulfilment: nothing to take, and never fulfilled.
	early := paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "starter_100", "stripe", "usd")
	_, clawed, err = store.RefundOrder(ctx, early.ID, early.Amount)
	require.NoError(t, err)
	require.Zero(t, clawed)
	_, _, err = store.FulfillOrder(ctx, early.ID)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "a refunded order grants nothing")

	// Nothing was paid: nothing to refund.
	pending, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "starter_100", Provider: "stripe", Currency: "usd"})
	require.NoError(t, err)
	_, _, err = store.RefundOrder(ctx, pending.ID, 100)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
	balance, _ = ledger(t, store, u.ID)
	require.Equal(t, int32(40), balance)
	auditClean(t, store)
}

func TestOrdersPendingBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	now := time.Now()
	age := func(o db.PaymentOrder, ago time.Duration) {
		_, err := store.Pool().Exec(ctx, `UPDATE payment_orders SET created_at = $2 WHERE id = $1`, o.ID, now.Add(-ago))
		require.NoError(t, err)
	}
	create := func() db.PaymentOrder {
		o, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPackage, ItemID: "starter_100", Provider: "stripe", Currency: "usd"})
		require.NoError(t, err)
		return o
	}
	oldPending, oldPaid, oldFulfilled, oldFailed, fresh := create(), paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "starter_100", "stripe", "usd"),
		paidOrder(t, store, u.ID, lokiz.OrderKindPackage, "starter_100", "stripe", "usd"), create(), create()
	_, _, err := store.FulfillOrder(ctx, oldFulfilled.ID)
	require.NoError(t, err)
	_, err = store.FailOrder(ctx, oldFailed.ID, "")
	require.NoError(t, err)
	age(oldPending, time.Hour)
	age(oldPaid, 2*time.Hour)
	age(oldFulfilled, 3*time.Hour)
	age(oldFailed, 3*time.Hour)
	age(fresh, time.Minute)

	got, err := store.OrdersPendingBefore(ctx, db.OrdersPendingBeforeParams{Before: now.Add(-10 * time.Minute), Lim: 10})
	require.NoError(t, err)
	require.Len(t, got, 2, "the waiting orders older than the cut-off")
	require.Equal(t, oldPaid.ID, got[0].ID, "oldest first")
	require.Equal(t, oldPending.ID, got[1].ID)
	got, err = store.OrdersPendingBefore(ctx, db.OrdersPendingBeforeParams{Before: now.Add(-10 * time.Minute), Lim: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, oldPaid.ID, got[0].ID)
}
