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

const month = 30 * 24 * time.Hour

func userTier(t *testing.T, store *db.Store, id uuid.UUID) (string, *time.Time) {
	t.Helper()
	u, err := store.UserGetByID(context.Background(), id)
	require.NoError(t, err)
	return u.SubscriptionTier, u.SubscriptionExpiresAt
}

func startToss(t *testing.T, store *db.Store, user uuid.UUID, plan string, start time.Time, order *uuid.UUID) db.Subscription {
	t.Helper()
	sub, granted, err := store.StartSubscription(context.Background(), db.NewSubscription{
		UserID: user, Plan: plan, Provider: "toss", ProviderSubscriptionID: "bk_" + uuid.NewString(),
		BillingKey: ptr("billing-key-secret"), CustomerKey: ptr("cust_" + user.String()),
		Period: db.Period{Start: start, End: start.Add(month), OrderID: order},
	})
	require.NoError(t, err)
	require.Equal(t, lokiz.TierPlan(plan).MonthlyCredits > 0, granted)
	return sub
}

func TestSubscriptionGrantsEachPeriodOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	initial, _ := ledger(t, store, u.ID)
	start := time.Now().UTC().Truncate(time.Second)
	pro := lokiz.TierPlan(lokiz.TierPro).MonthlyCredits

	order := paidOrder(t, store, u.ID, lokiz.OrderKindPlan, lokiz.TierPro, "stripe", "usd")
	n := db.NewSubscription{UserID: u.ID, Plan: lokiz.TierPro, Provider: "stripe", ProviderSubscriptionID: "sub_1",
		Period: db.Period{Start: start, End: start.Add(month), OrderID: &order.ID}}
	sub, granted, err := store.StartSubscription(ctx, n)
	require.NoError(t, err)
	require.True(t, granted)
	require.Equal(t, lokiz.SubActive, sub.Status)
	require.True(t, sub.CurrentPeriodEnd.Equal(start.Add(month)))
	tier, expires := userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierPro, tier)
	require.True(t, expires.Equal(start.Add(month)))
	got, err := store.PaymentOrderGet(ctx, order.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, got.Status, "the plan's order is fulfilled with the subscription")
	require.Equal(t, sub.ID, *got.SubscriptionID)

	// The same start again (a retried task), concurrently: nothing twice.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			again, granted, err := store.StartSubscription(ctx, n)
			assert.NoError(t, err)
			assert.False(t, granted)
			assert.Equal(t, sub.ID, again.ID)
		})
	}
	wg.Wait()
	_, granted, err = store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: start, End: start.Add(month)})
	require.NoError(t, err)
	require.False(t, granted, "the same period is not granted twice")

	// The next period, delivered ten times at once: granted once.
	next := db.Period{Start: start.Add(month), End: start.Add(2 * month)}
	won := make([]bool, 10)
	for i := range won {
		wg.Go(func() {
			_, g, err := store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, next)
			assert.NoError(t, err)
			won[i] = g
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
	sub, err = store.SubscriptionGet(ctx, sub.ID)
	require.NoError(t, err)
	require.True(t, sub.CurrentPeriodStart.Equal(next.Start))
	require.True(t, sub.CurrentPeriodEnd.Equal(next.End))
	_, expires = userTier(t, store, u.ID)
	require.True(t, expires.Equal(next.End), "the tier lasts to the new period's end")

	// A late delivery of the first period moves nothing back.
	_, granted, err = store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: start, End: start.Add(month)})
	require.NoError(t, err)
	require.False(t, granted)
	sub, err = store.SubscriptionGet(ctx, sub.ID)
	require.NoError(t, err)
	require.True(t, sub.CurrentPeriodEnd.Equal(next.End))

	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, initial+2*pro, balance)
	require.Equal(t, 2, rows[lokiz.CreditSubscription])
	row, err := store.CreditTransactionGetByKey(ctx, db.SubscriptionPeriodKey(sub.ID, next.Start))
	require.NoError(t, err)
	require.Equal(t, pro, row.Credits)

	_, _, err = store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: next.End, End: next.End})
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "an empty period")
	_, _, err = store.StartOrRenewSubscriptionPeriod(ctx, uuid.New(), next)
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	auditClean(t, store)
}

func TestSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	before, _ := ledger(t, store, u.ID)
	start := time.Now().UTC().Truncate(time.Second)
	period := db.Period{Start: start, End: start.Add(month)}

	for name, n := range map[string]db.NewSubscription{
		"free plan":             {Plan: lokiz.TierFree, Provider: "stripe", ProviderSubscriptionID: "sub_a", Period: period},
		"unknown plan":          {Plan: "gold", Provider: "stripe", ProviderSubscriptionID: "sub_a", Period: period},
		"toss without its keys": {Plan: lokiz.TierBasic, Provider: "toss", ProviderSubscriptionID: "bk_a", Period: period},
		"unknown provider":      {Plan: lokiz.TierBasic, Provider: "paypal", ProviderSubscriptionID: "sub_a", Period: period},
		"backwards period":      {Plan: lokiz.TierBasic, Provider: "stripe", ProviderSubscriptionID: "sub_a", Period: db.Period{Start: start, End: start.Add(-time.Hour)}},
	} {
		n.UserID = u.ID
		_, _, err := store.StartSubscription(ctx, n)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), name)
	}

	// An order of another plan, another user, or unpaid does not pay a period.
	basicOrder := paidOrder(t, store, u.ID, lokiz.OrderKindPlan, lokiz.TierBasic, "stripe", "usd")
	_, _, err := store.StartSubscription(ctx, db.NewSubscription{UserID: u.ID, Plan: lokiz.TierPro, Provider: "stripe", ProviderSubscriptionID: "sub_b",
		Period: db.Period{Start: start, End: start.Add(month), OrderID: &basicOrder.ID}})
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	unpaid, err := store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: u.ID, Kind: lokiz.OrderKindPlan, ItemID: lokiz.TierPro, Provider: "stripe", Currency: "usd"})
	require.NoError(t, err)
	_, _, err = store.StartSubscription(ctx, db.NewSubscription{UserID: u.ID, Plan: lokiz.TierPro, Provider: "stripe", ProviderSubscriptionID: "sub_b",
		Period: db.Period{Start: start, End: start.Add(month), OrderID: &unpaid.ID}})
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
	var subs int
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT count(*) FROM subscriptions`).Scan(&subs))
	require.Zero(t, subs, "a refused start leaves no subscription")
	after, _ := ledger(t, store, u.ID)
	require.Equal(t, before, after)

	// One live subscription per user; the provider's id names one user.
	sub := startToss(t, store, u.ID, lokiz.TierBasic, start, nil)
	_, _, err = store.StartSubscription(ctx, db.NewSubscription{UserID: u.ID, Plan: lokiz.TierPro, Provider: "stripe", ProviderSubscriptionID: "sub_c", Period: period})
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
	_, _, err = store.StartSubscription(ctx, db.NewSubscription{UserID: other.ID, Plan: lokiz.TierBasic, Provider: "toss", ProviderSubscriptionID: sub.ProviderSubscriptionID,
		BillingKey: ptr("k"), CustomerKey: ptr("c"), Period: period})
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
	tier, _ := userTier(t, store, other.ID)
	require.Equal(t, lokiz.TierFree, tier)
	auditClean(t, store)
}

func TestCancelKeepsTheTierUntilExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	bystander := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	start := time.Now().UTC().Truncate(time.Second).Add(-month + time.Hour) // ends in an hour
	sub := startToss(t, store, u.ID, lokiz.TierPro, start, nil)
	keep := startToss(t, store, bystander.ID, lokiz.TierBasic, start.Add(time.Hour), nil) // ends in two
	end := sub.CurrentPeriodEnd

	_, err := store.CancelSubscriptionAtPeriodEnd(ctx, uuid.New(), time.Now())
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err), "nothing to cancel")
	canceled, err := store.CancelSubscriptionAtPeriodEnd(ctx, u.ID, time.Now())
	require.NoError(t, err)
	require.Equal(t, lokiz.SubCanceling, canceled.Status)
	require.True(t, canceled.CancelAtPeriodEnd)
	again, err := store.CancelSubscriptionAtPeriodEnd(ctx, u.ID, time.Now().Add(time.Minute))
	require.NoError(t, err, "canceling twice is harmless")
	require.Equal(t, canceled.CanceledAt, again.CanceledAt)
	tier, expires := userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierPro, tier, "the tier stays until the period ends")
	require.True(t, expires.Equal(end))
	require.Equal(t, lokiz.TierPro, lokiz.ActiveTier(tier, expires, time.Now()))

	due, err := store.SubscriptionsDueForRenewal(ctx, db.SubscriptionsDueForRenewalParams{Before: end.Add(3 * time.Hour), Lim: 10})
	require.NoError(t, err)
	require.Len(t, due, 1, "a canceled subscription is not charged again")
	require.Equal(t, keep.ID, due[0].ID)

	// Before the end (with the grace), nothing expires.
	const grace = 10 * time.Minute
	expired, err := store.ExpireSubscriptions(ctx, end.Add(grace-time.Second), grace, 100)
	require.NoError(t, err)
	require.Empty(t, expired)
	tier, _ = userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierPro, tier)

	expired, err = store.ExpireSubscriptions(ctx, end.Add(grace), grace, 100)
	require.NoError(t, err)
	require.Len(t, expired, 1)
	require.Equal(t, sub.ID, expired[0].ID)
	require.Equal(t, lokiz.SubExpired, expired[0].Status)
	tier, expires = userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierFree, tier, "the tier is dropped at expiry")
	require.Nil(t, expires)
	tier, _ = userTier(t, store, bystander.ID)
	require.Equal(t, lokiz.TierBasic, tier, "a subscription that has not ended is untouched")
	_, err = store.CancelSubscriptionAtPeriodEnd(ctx, u.ID, time.Now())
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	expired, err = store.ExpireSubscriptions(ctx, end.Add(grace), grace, 100)
	require.NoError(t, err)
	require.Empty(t, expired, "expiry is done once")

	// The user may subscribe again.
	startToss(t, store, u.ID, lokiz.TierBasic, end, nil)
	tier, _ = userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierBasic, tier)
	auditClean(t, store)
}

func TestPastDueRenewalAndLatePayment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	start := time.Now().UTC().Truncate(time.Second).Add(-month)
	sub := startToss(t, store, u.ID, lokiz.TierBasic, start, nil)
	end := sub.CurrentPeriodEnd
	basic := lokiz.TierPlan(lokiz.TierBasic).MonthlyCredits
	before, _ := ledger(t, store, u.ID)

	due, err := store.SubscriptionsDueForRenewal(ctx, db.SubscriptionsDueForRenewalParams{Before: end, Lim: 10})
	require.NoError(t, err)
	require.Len(t, due, 1)

	// The renewal charge failed: past due, still retried, tier kept.
	pastDue, err := store.MarkSubscriptionPastDue(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubPastDue, pastDue.Status)
	due, err = store.SubscriptionsDueForRenewal(ctx, db.SubscriptionsDueForRenewalParams{Before: end, Lim: 10})
	require.NoError(t, err)
	require.Len(t, due, 1, "a past-due subscription is charged again")
	tier, _ := userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierBasic, tier)

	// The retry paid, with a renewal order: active again, credits once.
	order := paidOrder(t, store, u.ID, lokiz.OrderKindPlan, lokiz.TierBasic, "toss", "krw")
	renewed, granted, err := store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: end, End: end.Add(month), OrderID: &order.ID})
	require.NoError(t, err)
	require.True(t, granted)
	require.Equal(t, lokiz.SubActive, renewed.Status)
	got, err := store.PaymentOrderGet(ctx, order.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, got.Status)

	// Unpaid past the next end: expired; then the payment arrives late and
	// is honoured.
	next := end.Add(month)
	_, err = store.MarkSubscriptionPastDue(ctx, sub.ID)
	require.NoError(t, err)
	expired, err := store.ExpireSubscriptions(ctx, next.Add(time.Hour), time.Hour, 100)
	require.NoError(t, err)
	require.Len(t, expired, 1)
	_, err = store.MarkSubscriptionPastDue(ctx, sub.ID)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "an expired subscription is not retried")
	tier, _ = userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierFree, tier)
	revived, granted, err := store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: next, End: next.Add(month)})
	require.NoError(t, err)
	require.True(t, granted)
	require.Equal(t, lokiz.SubActive, revived.Status)
	tier, expires := userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierBasic, tier)
	require.True(t, expires.Equal(next.Add(month)))

	balance, rows := ledger(t, store, u.ID)
	require.Equal(t, before+2*basic, balance)
	require.Equal(t, 3, rows[lokiz.CreditSubscription])
	auditClean(t, store)
}

func TestEndSubscriptionDropsTheTierAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	sub := startToss(t, store, u.ID, lokiz.TierPro, time.Now().UTC().Truncate(time.Second), nil)
	balance, _ := ledger(t, store, u.ID)

	now := time.Now()
	ended, err := store.EndSubscription(ctx, sub.ID, now)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubExpired, ended.Status)
	require.NotNil(t, ended.ExpiredAt)
	tier, expires := userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierFree, tier, "before the period's end")
	require.Nil(t, expires)
	again, err := store.EndSubscription(ctx, sub.ID, now.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, again.ExpiredAt.Equal(*ended.ExpiredAt), "ending twice changes nothing")
	_, err = store.EndSubscription(ctx, uuid.New(), now)
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	after, _ := ledger(t, store, u.ID)
	require.Equal(t, balance, after, "credits already granted stay")
	auditClean(t, store)
}

func TestRefundOfAPeriodTakesItsCreditsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	start := time.Now().UTC().Truncate(time.Second)
	basic := lokiz.TierPlan(lokiz.TierBasic).MonthlyCredits
	first := paidOrder(t, store, u.ID, lokiz.OrderKindPlan, lokiz.TierBasic, "toss", "krw")
	sub := startToss(t, store, u.ID, lokiz.TierBasic, start, &first.ID)
	renewal := paidOrder(t, store, u.ID, lokiz.OrderKindPlan, lokiz.TierBasic, "toss", "krw")
	_, granted, err := store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: start.Add(month), End: start.Add(2 * month), OrderID: &renewal.ID})
	require.NoError(t, err)
	require.True(t, granted)

	// The user spends all but 100 credits; the renewal is then refunded
	// in part: 100 are taken back (never below zero), once.
	balance, _ := ledger(t, store, u.ID)
	_, _, err = store.CreditsApply(ctx, db.CreditChange{UserID: u.ID, Type: lokiz.CreditUsage, Delta: -(balance - 100),
		Description: "spent", IdempotencyKey: "spend:" + u.ID.String()})
	require.NoError(t, err)
	o, clawed, err := store.RefundOrder(ctx, renewal.ID, renewal.Amount/2)
	require.NoError(t, err)
	require.Equal(t, int32(100), clawed)
	require.Equal(t, lokiz.OrderRefunded, o.Status)
	require.Equal(t, int32(100), o.CreditsClawedBack)
	require.Equal(t, basic, o.Credits)
	_, clawed, err = store.RefundOrder(ctx, renewal.ID, renewal.Amount)
	require.NoError(t, err)
	require.Zero(t, clawed, "a further refund takes nothing more")
	after, rows := ledger(t, store, u.ID)
	require.Zero(t, after)
	require.Equal(t, 1, rows[lokiz.CreditAdjustment])

	// A refund of the first period with the balance at zero takes nothing.
	_, clawed, err = store.RefundOrder(ctx, first.ID, first.Amount)
	require.NoError(t, err)
	require.Zero(t, clawed)
	auditClean(t, store)
}

func TestResumeSubscription(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	start := time.Now().UTC().Truncate(time.Second)
	sub := startToss(t, store, u.ID, lokiz.TierBasic, start, nil)

	same, err := store.ResumeSubscription(ctx, sub.ID)
	require.NoError(t, err, "resuming an active subscription changes nothing")
	require.Equal(t, lokiz.SubActive, same.Status)
	_, err = store.CancelSubscriptionAtPeriodEnd(ctx, u.ID, start)
	require.NoError(t, err)
	resumed, err := store.ResumeSubscription(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubActive, resumed.Status)
	require.False(t, resumed.CancelAtPeriodEnd)
	require.Nil(t, resumed.CanceledAt)
	due, err := store.SubscriptionsDueForRenewal(ctx, db.SubscriptionsDueForRenewalParams{Before: start.Add(month), Lim: 10})
	require.NoError(t, err)
	require.Len(t, due, 1, "a resumed subscription renews again")

	_, err = store.MarkSubscriptionPastDue(ctx, sub.ID)
	require.NoError(t, err)
	_, err = store.ResumeSubscription(ctx, sub.ID)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "a past-due subscription was not canceled")
	_, err = store.EndSubscription(ctx, sub.ID, start)
	require.NoError(t, err)
	_, err = store.ResumeSubscription(ctx, sub.ID)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "an ended subscription is not resumed")
}

// A Stripe renewal has no order: RefundSubscriptionPeriod takes the
// period's credits back by the rules of RefundOrder.
func TestRefundSubscriptionPeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	start := time.Now().UTC().Truncate(time.Second)
	basic := lokiz.TierPlan(lokiz.TierBasic).MonthlyCredits
	sub, _, err := store.StartSubscription(ctx, db.NewSubscription{UserID: u.ID, Plan: lokiz.TierBasic, Provider: "stripe",
		ProviderSubscriptionID: "sub_" + uuid.NewString(), Period: db.Period{Start: start, End: start.Add(month)}})
	require.NoError(t, err)
	p2 := db.Period{Start: start.Add(month), End: start.Add(2 * month)}
	_, granted, err := store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, p2)
	require.NoError(t, err)
	require.True(t, granted)
	refund := db.PeriodRefund{SubscriptionID: sub.ID, Start: p2.Start, End: p2.End, PaymentID: "ch_2", InvoiceID: "in_2",
		Amount: 999, Refunded: 400, Currency: "usd"}

	for name, bad := range map[string]func(r *db.PeriodRefund){
		"NothingRefunded":    func(r *db.PeriodRefund) { r.Refunded = 0 },
		"MoreThanPaid":       func(r *db.PeriodRefund) { r.Refunded = 1000 },
		"NoPayment":          func(r *db.PeriodRefund) { r.PaymentID = "" },
		"PeriodEndsBeforeIt": func(r *db.PeriodRefund) { r.End = r.Start },
	} {
		r := refund
		bad(&r)
		_, _, err := store.RefundSubscriptionPeriod(ctx, r)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), name)
	}

	before, _ := ledger(t, store, u.ID)
	ref, clawed, err := store.RefundSubscriptionPeriod(ctx, refund)
	require.NoError(t, err)
	require.Equal(t, basic, clawed, "a partial refund takes the period's credits back in full")
	require.Equal(t, basic, ref.CreditsGranted)
	require.Equal(t, basic, ref.CreditsClawedBack)
	// Again, and a further partial refund: only the amount grows.
	_, clawed, err = store.RefundSubscriptionPeriod(ctx, refund)
	require.NoError(t, err)
	require.Zero(t, clawed)
	refund.Refunded = 999
	ref, clawed, err = store.RefundSubscriptionPeriod(ctx, refund)
	require.NoError(t, err)
	require.Zero(t, clawed)
	require.EqualValues(t, 999, ref.RefundedAmount)
	after, rows := ledger(t, store, u.ID)
	require.Equal(t, before-basic, after)
	require.Equal(t, 1, rows[lokiz.CreditAdjustment])
	// Another charge for the same period is a conflict.
	other := refund
	other.PaymentID = "ch_other"
	_, _, err = store.RefundSubscriptionPeriod(ctx, other)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))

	// The subscription and the tier are left as they were.
	live, err := store.SubscriptionLiveOfUser(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubActive, live.Status)
	tier, until := userTier(t, store, u.ID)
	require.Equal(t, lokiz.TierBasic, tier)
	require.Equal(t, p2.End, until.UTC())
	auditClean(t, store)
}
