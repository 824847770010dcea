package billing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
	"github.com/lokiz/lokiz/payments/tosssim"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/worker"
)

// One stripe-mock for the package; each test has its own overlay.
var stripeMock *paymenttest.StripeMock

func TestMain(m *testing.M) {
	mock, err := paymenttest.RunStripeMock()
	if err != nil {
		fmt.Fprintln(os.Stderr, "billing tests:", err)
		os.Exit(1)
	}
	stripeMock = mock
	code := m.Run()
	mock.Close()
	os.Exit(code)
}

var secret = []byte("billing-test-secret")

func newStripe(t *testing.T) (*payments.StripeProvider, *paymenttest.StripeOverlay) {
	t.Helper()
	overlay := paymenttest.NewStripeOverlay(t, stripeMock.URL)
	p, err := payments.NewStripe(payments.StripeConfig{
		SecretKey: paymenttest.StripeTestKey, WebhookSecret: paymenttest.StripeWebhookSecret, APIBase: overlay.URL,
		SuccessURL: "https://lokiz.test/subscribed", CancelURL: "https://lokiz.test/plans",
	})
	require.NoError(t, err)
	return p, overlay
}

func newToss(t *testing.T) (*payments.TossClient, *tosssim.Server) {
	t.Helper()
	sim, err := tosssim.Start(tosssim.Options{SecretKey: "test_sk_billing", ClientKey: "test_ck_billing"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	c, err := payments.NewToss(payments.TossConfig{SecretKey: sim.SecretKey(), ClientKey: sim.ClientKey(), BaseURL: sim.URL()})
	require.NoError(t, err)
	return c, sim
}

// clock is a settable clock for Service.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func subscriptionCredits(t *testing.T, store *db.Store, userID uuid.UUID) []db.CreditHistoryRow {
	t.Helper()
	typ := lokiz.CreditSubscription
	rows, err := store.CreditHistory(context.Background(), db.CreditHistoryParams{UserID: userID, TransactionType: &typ, Lim: 100})
	require.NoError(t, err)
	return rows
}

func requireAuditClean(t *testing.T, store *db.Store) {
	t.Helper()
	bad, err := store.CreditLedgerMismatches(context.Background())
	require.NoError(t, err)
	require.Empty(t, bad, "every balance equals its ledger")
}

// countRequests counts the requests the overlay forwarded with method and
// path.
func countRequests(o *paymenttest.StripeOverlay, method, path string) int {
	n := 0
	for _, r := range o.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// stripeSub registers Stripe's view of a subscription and its invoice.
func stripeSub(o *paymenttest.StripeOverlay, subID, status, invoiceID string, meta map[string]any, start, end time.Time, extra map[string]any) {
	fields := map[string]any{
		"status": status, "cancel_at_period_end": false, "canceled_at": nil, "ended_at": nil,
		"currency": "usd", "latest_invoice": invoiceID, "metadata": meta,
		"items": map[string]any{"data": []any{map[string]any{
			"id": "si_" + subID, "object": "subscription_item",
			"current_period_start": start.Unix(), "current_period_end": end.Unix(),
		}}},
	}
	for k, v := range extra {
		fields[k] = v
	}
	o.Set(subID, fields)
}

func stripeInvoice(o *paymenttest.StripeOverlay, invoiceID, subID, status string, amount int64, meta map[string]any, start, end time.Time) {
	o.Set(invoiceID, map[string]any{
		"status": status, "amount_paid": amount, "currency": "usd", "billing_reason": "subscription_cycle",
		"parent": map[string]any{"type": "subscription_details", "quote_details": nil,
			"subscription_details": map[string]any{"subscription": subID, "metadata": meta}},
		"lines": map[string]any{"data": []any{map[string]any{
			"id": "il_" + invoiceID, "object": "line_item", "amount": amount, "currency": "usd",
			"period": map[string]any{"start": start.Unix(), "end": end.Unix()},
			"parent": map[string]any{"type": "subscription_item_details"},
		}}},
	})
}

// syncEvent verifies a signed Stripe event, maps it with
// SubscriptionEvent and runs its subscription:sync task n times at once
// through the worker's handler.
func syncEvent(t *testing.T, store *db.Store, stripe *payments.StripeProvider, h *worker.SubscriptionHandlers, id, typ string, object map[string]any, n int) tasks.SubscriptionPayload {
	t.Helper()
	ctx := context.Background()
	body := paymenttest.StripeEventJSON(t, id, typ, object)
	ev, err := stripe.ParseStripeWebhook(paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
	require.NoError(t, err)
	p, ok, err := billing.SubscriptionEvent(ctx, store, ev)
	require.NoError(t, err)
	require.True(t, ok, "event %s is about a subscription", typ)
	task := tasks.NewSubscriptionSyncTaskFor(p)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.Sync(ctx, task)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return p
}

func TestStripeSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	stripe, overlay := newStripe(t)
	clk := &clock{t: time.Now()}
	svc := &billing.Subscriptions{Store: store, Providers: payments.Providers{Stripe: stripe}, CustomerKeySecret: secret, Now: clk.now}
	h := worker.NewSubscriptionHandlers(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	co, err := svc.SubscribeStripe(ctx, user, lokiz.TierBasic, "", "")
	require.NoError(t, err)
	require.NotEmpty(t, co.CheckoutURL)
	require.Equal(t, int64(999), co.Order.Amount)
	req, ok := overlay.LastRequest("POST", "/v1/checkout/sessions")
	require.True(t, ok)
	require.Equal(t, "subscription", req.Form.Get("mode"))
	require.Equal(t, "month", req.Form.Get("line_items[0][price_data][recurring][interval]"))

	// Nothing is granted before Stripe says the invoice is paid.
	u, err := store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits, u.Credits)

	meta := map[string]any{"order_id": co.Order.ID.String(), "item": lokiz.TierBasic, "kind": "plan", "user_id": user.ID.String()}
	p1 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	p2 := p1.AddDate(0, 1, 0)
	p3 := p2.AddDate(0, 1, 0)
	stripeSub(overlay, "sub_life", "active", "in_first", meta, p1, p2, nil)
	stripeInvoice(overlay, "in_first", "sub_life", "paid", 999, meta, p1, p2)
	invoiceObj := func(id string) map[string]any {
		return map[string]any{"id": id, "object": "invoice", "customer": "cus_life",
			"parent": map[string]any{"type": "subscription_details",
				"subscription_details": map[string]any{"subscription": "sub_life", "metadata": meta}}}
	}

	// The first invoice.paid, delivered ten times at once: one
	// subscription, one grant.
	pl := syncEvent(t, store, stripe, h, "evt_first", payments.StripeInvoicePaid, invoiceObj("in_first"), 10)
	require.Equal(t, co.Order.ID, pl.OrderID, "a subscription we do not know yet is named by its order")
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+500, u.Credits)
	require.Equal(t, lokiz.TierBasic, u.SubscriptionTier)
	require.Equal(t, p2, u.SubscriptionExpiresAt.UTC())
	require.Len(t, subscriptionCredits(t, store, user.ID), 1)
	order, err := store.PaymentOrderGet(ctx, co.Order.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, order.Status)

	// A second subscribe is a conflict now.
	_, err = svc.SubscribeStripe(ctx, user, lokiz.TierPro, "", "")
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))

	// The renewal invoice of period 2, ten times at once: once more.
	stripeSub(overlay, "sub_life", "active", "in_second", meta, p2, p3, nil)
	stripeInvoice(overlay, "in_second", "sub_life", "paid", 999, meta, p2, p3)
	pl = syncEvent(t, store, stripe, h, "evt_second", payments.StripeInvoicePaid, invoiceObj("in_second"), 10)
	require.NotEqual(t, uuid.Nil, pl.SubscriptionID, "a known subscription is named by our id")
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+1000, u.Credits)
	require.Equal(t, p3, u.SubscriptionExpiresAt.UTC())
	require.Len(t, subscriptionCredits(t, store, user.ID), 2)
	// The first invoice again (a late duplicate) grants nothing.
	syncEvent(t, store, stripe, h, "evt_first_again", payments.StripeInvoicePaid, invoiceObj("in_first"), 3)
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+1000, u.Credits)

	// customer.subscription.deleted: the tier ends now.
	stripeSub(overlay, "sub_life", "canceled", "in_second", meta, p2, p3,
		map[string]any{"ended_at": time.Now().Unix(), "canceled_at": time.Now().Unix()})
	syncEvent(t, store, stripe, h, "evt_deleted", payments.StripeSubscriptionDeleted,
		map[string]any{"id": "sub_life", "object": "subscription", "metadata": meta}, 2)
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.TierFree, u.SubscriptionTier)
	require.Nil(t, u.SubscriptionExpiresAt)
	_, err = store.SubscriptionLiveOfUser(ctx, user.ID)
	require.True(t, db.IsNotFound(err))
	require.Equal(t, user.Credits+1000, u.Credits, "credits already granted stay")
	requireAuditClean(t, store)
}

func TestStripeCancelAtPeriodEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	stripe, overlay := newStripe(t)
	clk := &clock{t: time.Now()}
	svc := &billing.Subscriptions{Store: store, Providers: payments.Providers{Stripe: stripe}, CustomerKeySecret: secret, Now: clk.now}
	h := worker.NewSubscriptionHandlers(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	_, err := svc.Cancel(ctx, user.ID)
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err), "nothing to cancel")

	co, err := svc.SubscribeStripe(ctx, user, lokiz.TierPro, "", "")
	require.NoError(t, err)
	meta := map[string]any{"order_id": co.Order.ID.String(), "item": lokiz.TierPro, "kind": "plan", "user_id": user.ID.String()}
	p1 := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	p2 := p1.AddDate(0, 1, 0)
	stripeSub(overlay, "sub_cancel", "active", "in_c1", meta, p1, p2, nil)
	stripeInvoice(overlay, "in_c1", "sub_cancel", "paid", 2999, meta, p1, p2)
	syncEvent(t, store, stripe, h, "evt_c1", payments.StripeCheckoutCompleted, map[string]any{
		"id": "cs_cancel", "object": "checkout.session", "mode": "subscription", "client_reference_id": co.Order.ID.String(),
		"subscription": "sub_cancel", "invoice": "in_c1", "metadata": meta,
	}, 1)

	// Stripe answers the update with cancel_at_period_end set.
	stripeSub(overlay, "sub_cancel", "active", "in_c1", meta, p1, p2, map[string]any{"cancel_at_period_end": true})
	sub, err := svc.Cancel(ctx, user.ID)
	require.NoError(t, err)
	require.True(t, sub.CancelAtPeriodEnd)
	require.Equal(t, lokiz.SubCanceling, sub.Status)
	req, ok := overlay.LastRequest("POST", "/v1/subscriptions/sub_cancel")
	require.True(t, ok, "Stripe is told to stop renewing")
	require.Equal(t, "true", req.Form.Get("cancel_at_period_end"))
	_, err = svc.Cancel(ctx, user.ID)
	require.NoError(t, err, "cancelling twice is harmless")

	// The subscriber resumes at Stripe before the period ends:
	// customer.subscription.updated with cancel_at_period_end false makes
	// it active again (delivered twice: once).
	stripeSub(overlay, "sub_cancel", "active", "in_c1", meta, p1, p2, nil)
	syncEvent(t, store, stripe, h, "evt_resumed", payments.StripeSubscriptionUpdated,
		map[string]any{"id": "sub_cancel", "object": "subscription", "metadata": meta, "cancel_at_period_end": false}, 2)
	live, err := store.SubscriptionLiveOfUser(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubActive, live.Status)
	require.False(t, live.CancelAtPeriodEnd)
	require.Nil(t, live.CanceledAt)
	u, err := store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.TierPro, u.SubscriptionTier)
	require.Equal(t, p2, u.SubscriptionExpiresAt.UTC(), "the paid period is unchanged")

	// Cancelled again, Stripe is told again.
	stripeSub(overlay, "sub_cancel", "active", "in_c1", meta, p1, p2, map[string]any{"cancel_at_period_end": true})
	updates := func() int { return countRequests(overlay, "POST", "/v1/subscriptions/sub_cancel") }
	before := updates()
	sub, err = svc.Cancel(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubCanceling, sub.Status)
	require.Equal(t, before+1, updates(), "Stripe is told to stop renewing once more")

	// The tier stays until the period's end…
	n, err := svc.Expire(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.TierPro, lokiz.ActiveTier(u.SubscriptionTier, u.SubscriptionExpiresAt, time.Now()))
	// …and subscriptions:expire drops it after.
	clk.set(p2.Add(billing.ExpireGrace + time.Minute))
	n, err = svc.Expire(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.TierFree, u.SubscriptionTier)
	requireAuditClean(t, store)
}

func TestTossBillingRenewDeclineExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	toss, sim := newToss(t)
	clk := &clock{t: time.Now()}
	svc := &billing.Subscriptions{Store: store, Providers: payments.Providers{Toss: toss}, CustomerKeySecret: secret, Now: clk.now}
	h := worker.NewSubscriptionHandlers(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{})

	_, err := svc.SubscribeToss(ctx, user, lokiz.TierFree)
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "free is not sold")
	_, err = svc.SubscribeToss(ctx, user, "platinum")
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	_, err = (&billing.Subscriptions{Store: store, CustomerKeySecret: secret}).SubscribeToss(ctx, user, lokiz.TierPro)
	require.Equal(t, lokiz.EUNAVAILABLE, lokiz.ErrorCode(err), "toss not configured")

	st, err := svc.SubscribeToss(ctx, user, lokiz.TierPro)
	require.NoError(t, err)
	require.Equal(t, int64(39000), st.Amount)
	require.Equal(t, "test_ck_billing", st.ClientKey)
	require.Equal(t, billing.CustomerKey(secret, user.ID), st.CustomerKey)
	require.NotEqual(t, st.CustomerKey, billing.CustomerKey(secret, other.ID))

	auth, err := sim.AuthorizeCard(st.CustomerKey)
	require.NoError(t, err)
	_, err = svc.StartTossBilling(ctx, other, lokiz.TierPro, auth.AuthKey, st.CustomerKey)
	require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err), "another user's customer key")
	sub, err := svc.StartTossBilling(ctx, user, lokiz.TierPro, auth.AuthKey, st.CustomerKey)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubActive, sub.Status)
	u, err := store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+2000, u.Credits, "the first period's credits")
	require.Equal(t, lokiz.TierPro, u.SubscriptionTier)
	_, err = svc.SubscribeToss(ctx, user, lokiz.TierBasic)
	require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "already subscribed")

	// Nothing is due before the period ends.
	res, err := svc.Renew(ctx)
	require.NoError(t, err)
	require.Equal(t, billing.RenewResult{}, res)

	// At the period's end two renewal runs at once charge and grant once.
	end1 := sub.CurrentPeriodEnd
	clk.set(end1.Add(time.Minute))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, h.Renew(ctx, tasks.NewSubscriptionsRenewTask()))
		}()
	}
	wg.Wait()
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+4000, u.Credits, "the second period's credits, once")
	require.Len(t, subscriptionCredits(t, store, user.ID), 2)
	end2 := end1.AddDate(0, 1, 0)
	require.Equal(t, end2.UTC(), u.SubscriptionExpiresAt.UTC())
	charges := 0
	for _, p := range sim.Payments() {
		if p.Type == "BILLING" && p.Status == "DONE" {
			charges++
			require.Equal(t, 1, p.Approvals)
		}
	}
	require.Equal(t, 2, charges, "the first period and one renewal were charged")

	// The card is declined at the next renewal: past due, the tier lasts to
	// the paid period's end, then subscriptions:expire drops it.
	require.NoError(t, sim.DeclineCard(*sub.BillingKey, true))
	clk.set(end2.Add(time.Minute))
	res, err = svc.Renew(ctx)
	require.NoError(t, err)
	require.Equal(t, billing.RenewResult{Declined: 1}, res)
	declined, err := store.PaymentOrderGet(ctx, billing.RenewalOrderID(sub.ID, end2, 0))
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFailed, declined.Status, "the declined renewal's order failed")
	renewal, err := store.PaymentOrderGet(ctx, billing.RenewalOrderID(sub.ID, end1, 0))
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, renewal.Status, "the paid renewal's order is fulfilled with its period")
	// The past-due subscription is tried once more that day (a new order),
	// and not again by later runs of the same day.
	for range 2 {
		res, err = svc.Renew(ctx)
		require.NoError(t, err)
		require.Equal(t, billing.RenewResult{Declined: 1}, res)
	}
	retry, err := store.PaymentOrderGet(ctx, billing.RenewalOrderID(sub.ID, end2, 1))
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFailed, retry.Status)
	orders, err := store.PaymentOrdersOfUser(ctx, db.PaymentOrdersOfUserParams{UserID: user.ID, Lim: 10})
	require.NoError(t, err)
	require.Len(t, orders, 4, "the first period, one renewal, two declined attempts")
	live, err := store.SubscriptionLiveOfUser(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubPastDue, live.Status)
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits+4000, u.Credits)
	require.Equal(t, lokiz.TierPro, u.SubscriptionTier)
	clk.set(end2.Add(billing.ExpireGrace + time.Minute))
	require.NoError(t, h.Expire(ctx, tasks.NewSubscriptionsExpireTask()))
	u, err = store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.TierFree, u.SubscriptionTier)
	_, err = store.SubscriptionLiveOfUser(ctx, user.ID)
	require.True(t, db.IsNotFound(err))
	requireAuditClean(t, store)
}

func TestTossDeclinedFirstCharge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	toss, sim := newToss(t)
	svc := &billing.Subscriptions{Store: store, Providers: payments.Providers{Toss: toss}, CustomerKeySecret: secret}
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	ck := billing.CustomerKey(secret, user.ID)
	// A used authKey cannot be issued again; a bogus one is refused.
	_, err := svc.StartTossBilling(ctx, user, lokiz.TierBasic, "bln_bogus", ck)
	require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	u, err := store.UserByID(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, user.Credits, u.Credits)
	require.Equal(t, lokiz.TierFree, u.SubscriptionTier)
	_ = sim
}

// TestDevCheckoutPlanRenews: a plan bought through the development
// checkout starts with its credits once, and our scheduler renews it each
// month like a Toss one: one renewal order per period, granted once; a
// declined renewal makes it past due.
func TestDevCheckoutPlanRenews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	dev := payments.NewDevCheckout("http://lokiz.test")
	clk := &clock{t: time.Now()}
	svc := &billing.Subscriptions{Store: store, Providers: payments.Providers{Dev: dev}, CustomerKeySecret: secret, Now: clk.now}
	user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	monthly := lokiz.TierPlan(lokiz.TierPro).MonthlyCredits

	_, err := (&billing.Subscriptions{Store: store}).SubscribeDev(ctx, user, lokiz.TierPro)
	require.Equal(t, lokiz.EUNAVAILABLE, lokiz.ErrorCode(err), "not enabled")
	co, err := svc.SubscribeDev(ctx, user, lokiz.TierPro)
	require.NoError(t, err)
	require.Equal(t, payments.Dev, co.Order.Provider)
	require.Equal(t, int64(2999), co.Order.Amount)
	_, err = dev.Decide(co.SessionID, true)
	require.NoError(t, err)
	paid, err := dev.Lookup(ctx, payments.Ref{SessionID: co.SessionID})
	require.NoError(t, err)
	var sub db.Subscription
	for range 2 { // a retried settlement
		sub, err = svc.StartDevPlan(ctx, co.Order, paid)
		require.NoError(t, err)
	}
	require.Equal(t, payments.Dev, sub.Provider)
	balance := func() int32 {
		u, err := store.UserByID(ctx, user.ID)
		require.NoError(t, err)
		return u.Credits
	}
	require.Equal(t, user.Credits+monthly, balance())

	// The period ends: two runs renew it once.
	end1 := sub.CurrentPeriodEnd
	clk.set(end1.Add(time.Minute))
	for range 2 {
		_, err := svc.Renew(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, user.Credits+2*monthly, balance())
	require.Len(t, subscriptionCredits(t, store, user.ID), 2)
	renewal, err := store.PaymentOrderGet(ctx, billing.RenewalOrderID(sub.ID, end1, 0))
	require.NoError(t, err)
	require.Equal(t, lokiz.OrderFulfilled, renewal.Status)
	require.Equal(t, payments.Dev, renewal.Provider)
	require.Equal(t, lokiz.CurrencyUSD, renewal.Currency)
	live, err := store.SubscriptionLiveOfUser(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, end1.AddDate(0, 1, 0).UTC(), live.CurrentPeriodEnd.UTC())

	// A declined renewal: past due, nothing granted.
	dev.DeclineRenewals(true)
	clk.set(live.CurrentPeriodEnd.Add(time.Minute))
	res, err := svc.Renew(ctx)
	require.NoError(t, err)
	require.Equal(t, billing.RenewResult{Declined: 1}, res)
	live, err = store.SubscriptionLiveOfUser(ctx, user.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.SubPastDue, live.Status)
	require.Equal(t, user.Credits+2*monthly, balance())
	requireAuditClean(t, store)
}
