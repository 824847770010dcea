package worker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
	"github.com/lokiz/lokiz/payments/tosssim"
	"github.com/lokiz/lokiz/tasks"
)

// loseBillingAnswer drops Toss's answer to the first billing charge after
// Toss has made it, as a network failure does: the card is charged and
// the caller does not know.
type loseBillingAnswer struct {
	armed atomic.Bool
	lost  atomic.Int32
}

func (l *loseBillingAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/billing/") &&
		!strings.HasSuffix(r.URL.Path, "/issue") && l.armed.CompareAndSwap(true, false) {
		_ = res.Body.Close()
		l.lost.Add(1)
		return nil, errors.New("connection reset after the charge")
	}
	return res, err
}

// TestTossRenewalOrders runs subscriptions:renew and payments:fulfill
// through the worker's mux against the Toss simulator: each renewal is a
// plan order charged once however the run is retried, and a refund of it at
// Toss, told by its webhook, takes that period's monthly credits back once.
func TestTossRenewalOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	insp := asynq.NewInspectorFromRedisClient(rdb)
	logger, _ := newLogger()

	sim, err := tosssim.Start(tosssim.Options{SecretKey: "test_sk_renew", ClientKey: "test_ck_renew"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	lose := &loseBillingAnswer{}
	toss, err := payments.NewToss(payments.TossConfig{SecretKey: sim.SecretKey(), ClientKey: sim.ClientKey(), BaseURL: sim.URL(),
		WebhookToken: "renew-hook", MaxRetries: -1, HTTPClient: &http.Client{Transport: lose, Timeout: 10 * time.Second}})
	require.NoError(t, err)
	providers := payments.Providers{Toss: toss}
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	svc, err := billing.New(store, tasks.NewClient(qc), providers, billing.Config{CustomerKeySecret: "renew-secret",
		Now: func() time.Time { return *now.Load() }}, logger)
	require.NoError(t, err)
	subs := svc.Subscriptions()
	mux := NewMux(Deps{Store: store, Logger: logger, Billing: svc})

	// Toss's webhooks reach the billing service as the api's route would
	// hand them over.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := svc.TossWebhook(r.Context(), payments.TossWebhookHeader(r), body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	t.Cleanup(hook.Close)
	sim.SetWebhookURL(hook.URL + "?token=renew-hook")

	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	ck := billing.CustomerKey([]byte("renew-secret"), user.ID)
	auth, err := sim.AuthorizeCard(ck)
	require.NoError(t, err)
	sub, err := subs.StartTossBilling(ctx, user, lokiz.TierPro, auth.AuthKey, ck)
	require.NoError(t, err)
	monthly := lokiz.TierPlan(lokiz.TierPro).MonthlyCredits
	balance := func() int32 {
		u, err := store.UserByID(ctx, user.ID)
		require.NoError(t, err)
		return u.Credits
	}
	require.Equal(t, user.Credits+monthly, balance())

	// The renewal run loses Toss's answer after the card was charged: the
	// order stays pending and the period is not applied…
	end1 := sub.CurrentPeriodEnd
	later := end1.Add(time.Minute)
	now.Store(&later)
	lose.armed.Store(true)
	require.Error(t, mux.ProcessTask(ctx, tasks.NewSubscriptionsRenewTask()))
	require.Equal(t, int32(1), lose.lost.Load())
	orderID := billing.RenewalOrderID(sub.ID, end1, 0)
	order, err := store.PaymentOrderGet(ctx, orderID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderPending, order.Status, "the order exists before the card is charged")
	require.Equal(t, user.Credits+monthly, balance())

	// …and the retried task charges nothing more: Toss answers the order's
	// charge again, and the period is applied once.
	for range 2 {
		require.NoError(t, mux.ProcessTask(ctx, tasks.NewSubscriptionsRenewTask()))
	}
	require.Equal(t, user.Credits+2*monthly, balance())
	var charge tosssim.Snapshot
	charges := 0
	for _, p := range sim.Payments() {
		if p.Type == "BILLING" && p.OrderID == orderID.String() {
			charges++
			charge = p
		}
	}
	require.Equal(t, 1, charges, "one charge for the renewal")
	require.Equal(t, 1, charge.Approvals)
	order, err = store.PaymentOrderGet(ctx, orderID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, order.Status)
	require.Equal(t, lokiz.OrderKindPlan, order.Kind)
	require.Equal(t, payments.Toss, order.Provider)
	require.Equal(t, lokiz.TierPlan(lokiz.TierPro).PriceKRW, order.Amount)
	require.Equal(t, monthly, order.Credits)
	require.Equal(t, charge.PaymentKey, *order.ProviderPaymentID)
	require.Equal(t, sub.ID, *order.SubscriptionID)

	// The user spends some credits; then the merchant cancels part of the
	// renewal payment at Toss. Its webhook queues the order's settlement,
	// which takes the period's credits back: all the user still has of
	// them, never below zero.
	_, _, err = store.CreditsApply(ctx, db.CreditChange{UserID: user.ID, Type: lokiz.CreditUsage, Delta: -(monthly + 500),
		Description: "spent", IdempotencyKey: "spend:" + user.ID.String()})
	require.NoError(t, err)
	left := balance()
	require.NoError(t, sim.Refund(charge.PaymentKey, 10000, "partial refund"))
	settle := func() {
		t.Helper()
		require.Eventually(t, func() bool {
			_, err := insp.GetTaskInfo(tasks.QueueCritical, tasks.TypePaymentFulfill+":"+orderID.String())
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "the webhook queues the order's settlement")
		require.NoError(t, insp.DeleteTask(tasks.QueueCritical, tasks.TypePaymentFulfill+":"+orderID.String()))
		require.NoError(t, mux.ProcessTask(ctx, tasks.NewPaymentFulfillTask(orderID)))
	}
	settle()
	take := min(left, monthly)
	require.Equal(t, left-take, balance())
	order, err = store.PaymentOrderGet(ctx, orderID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderRefunded, order.Status)
	require.Equal(t, int64(10000), order.RefundedAmount)
	require.Equal(t, take, order.CreditsClawedBack)

	// The rest is refunded later: the refunded amount grows, nothing more
	// is taken.
	require.NoError(t, sim.Refund(charge.PaymentKey, 0, "the rest"))
	settle()
	require.Equal(t, left-take, balance())
	order, err = store.PaymentOrderGet(ctx, orderID)
	require.NoError(t, err)
	require.Equal(t, order.Amount, order.RefundedAmount)
	require.Equal(t, take, order.CreditsClawedBack)
	typ := lokiz.CreditAdjustment
	rows, err := store.CreditHistory(ctx, db.CreditHistoryParams{UserID: user.ID, TransactionType: &typ, Lim: 10})
	require.NoError(t, err)
	require.Len(t, rows, 1, "one clawback")
	require.Equal(t, -take, rows[0].Credits)
	bad, err := store.CreditLedgerMismatches(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)
}

// TestDevPlanRenewalSettles: settling the order of a development checkout
// plan's renewal (the reconciler does, for an order left paid) applies
// nothing new and starts no second subscription.
func TestDevPlanRenewalSettles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, _ := newLogger()
	dev := payments.NewDevCheckout("http://lokiz.test")
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	svc, err := billing.New(store, tasks.NewClient(qc), payments.Providers{Dev: dev}, billing.Config{CustomerKeySecret: "dev-secret",
		Now: func() time.Time { return *now.Load() }}, logger)
	require.NoError(t, err)
	mux := NewMux(Deps{Store: store, Logger: logger, Billing: svc})
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	co, err := svc.Subscriptions().SubscribeDev(ctx, user, lokiz.TierBasic)
	require.NoError(t, err)
	_, err = svc.DevCheckoutDecide(ctx, co.SessionID, true)
	require.NoError(t, err)
	require.NoError(t, mux.ProcessTask(ctx, tasks.NewPaymentFulfillTask(co.Order.ID)))
	sub, err := store.SubscriptionLiveOfUser(ctx, user.ID)
	require.NoError(t, err)
	later := sub.CurrentPeriodEnd.Add(time.Minute)
	now.Store(&later)
	require.NoError(t, mux.ProcessTask(ctx, tasks.NewSubscriptionsRenewTask()))
	renewal := billing.RenewalOrderID(sub.ID, sub.CurrentPeriodEnd, 0)
	for _, id := range []uuid.UUID{co.Order.ID, renewal} {
		require.NoError(t, mux.ProcessTask(ctx, tasks.NewPaymentFulfillTask(id)))
	}
	u, err := store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+2*lokiz.TierPlan(lokiz.TierBasic).MonthlyCredits, u.Credits)
	var subs int
	require.NoError(t, store.Pool().QueryRow(ctx, "SELECT count(*) FROM subscriptions WHERE user_id = $1", user.ID).Scan(&subs))
	require.Equal(t, 1, subs)
	o, err := store.PaymentOrderGet(ctx, renewal)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, o.Status)
}
