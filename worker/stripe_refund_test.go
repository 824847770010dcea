package worker

import (
	"context"
	"strconv"
	"strings"
	"sync"
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
	"github.com/lokiz/lokiz/tasks"
)

// TestStripeSubscriptionRefund runs charge.refunded for the charges of a
// Stripe subscription from the signed webhook through the worker's mux,
// against stripe-mock (the overlay holds Stripe's state): a renewal's
// refund takes that period's monthly credits back once, never below zero,
// however its deliveries are duplicated or ordered; the first period's
// refund goes through its order, once; a forged delivery does nothing.
func TestStripeSubscriptionRefund(t *testing.T) {
	t.Parallel()
	mock := paymenttest.StartStripeMock(t)

	type bundle struct {
		store   *db.Store
		svc     *billing.Service
		stripe  *payments.StripeProvider
		overlay *paymenttest.StripeOverlay
		mux     *asynq.ServeMux
		insp    *asynq.Inspector
		user    db.User
		order   db.PaymentOrder
		meta    map[string]any
		// ids unique to the test: the tasks' ids live in the shared Redis.
		sub, inFirst, inRenew, chFirst, chRenew string
		p1, p2, p3                              time.Time
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		ctx := context.Background()
		store := dbtest.NewStore(t)
		rdb := newRedis(t)
		qc := asynq.NewClientFromRedisClient(rdb)
		t.Cleanup(func() { _ = qc.Close() })
		logger, _ := newLogger()
		overlay := paymenttest.NewStripeOverlay(t, mock.URL)
		stripe, err := payments.NewStripe(payments.StripeConfig{SecretKey: paymenttest.StripeTestKey,
			WebhookSecret: paymenttest.StripeWebhookSecret, APIBase: overlay.URL,
			SuccessURL: "https://lokiz.test/ok", CancelURL: "https://lokiz.test/plans"})
		require.NoError(t, err)
		svc, err := billing.New(store, tasks.NewClient(qc), payments.Providers{Stripe: stripe},
			billing.Config{CustomerKeySecret: "refund-secret"}, logger)
		require.NoError(t, err)
		user := dbtest.CreateUser(t, store, dbtest.UserOpts{})
		co, err := svc.Subscriptions().SubscribeStripe(ctx, user, lokiz.TierBasic, "", "")
		require.NoError(t, err)
		suf := strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
		b := &bundle{store: store, svc: svc, stripe: stripe, overlay: overlay,
			mux: NewMux(Deps{Store: store, Logger: logger, Billing: svc}), insp: asynq.NewInspectorFromRedisClient(rdb),
			user: user, order: co.Order,
			meta: map[string]any{"order_id": co.Order.ID.String(), "item": lokiz.TierBasic, "kind": "plan", "user_id": user.ID.String()},
			sub:  "sub_" + suf, inFirst: "in_first_" + suf, inRenew: "in_renew_" + suf, chFirst: "ch_first_" + suf, chRenew: "ch_renew_" + suf,
		}
		b.p1 = time.Now().UTC().Truncate(time.Second).AddDate(0, -1, -1)
		b.p2 = b.p1.AddDate(0, 1, 0)
		b.p3 = b.p2.AddDate(0, 1, 0)
		return b
	}
	// subscriptionAt is Stripe's subscription in the period [start, end)
	// paid by invoiceID, and that invoice.
	subscriptionAt := func(b *bundle, invoiceID string, start, end time.Time) {
		b.overlay.Set(b.sub, map[string]any{
			"status": "active", "cancel_at_period_end": false, "canceled_at": nil, "ended_at": nil,
			"currency": "usd", "latest_invoice": invoiceID, "metadata": b.meta,
			"items": map[string]any{"data": []any{map[string]any{"id": "si_" + b.sub, "object": "subscription_item",
				"current_period_start": start.Unix(), "current_period_end": end.Unix()}}},
		})
		reason := "subscription_cycle"
		if invoiceID == b.inFirst {
			reason = "subscription_create"
		}
		b.overlay.Set(invoiceID, map[string]any{
			"status": "paid", "amount_paid": 999, "currency": "usd", "billing_reason": reason,
			"parent": map[string]any{"type": "subscription_details", "quote_details": nil,
				"subscription_details": map[string]any{"subscription": b.sub, "metadata": b.meta}},
			"lines": map[string]any{"data": []any{map[string]any{
				"id": "il_" + invoiceID, "object": "line_item", "amount": 999, "currency": "usd",
				"period": map[string]any{"start": start.Unix(), "end": end.Unix()},
				"parent": map[string]any{"type": "subscription_item_details"},
			}}},
		})
	}
	// refundedAtStripe makes chargeID (which paid invoiceID) refunded by
	// amount at Stripe; stripe-mock's invoice payment fixture (obj_123)
	// stands for the one that ties the charge's PaymentIntent to the
	// invoice.
	refundedAtStripe := func(b *bundle, chargeID, invoiceID string, amount int64) {
		pi := "pi_" + chargeID[3:]
		b.overlay.Set(chargeID, map[string]any{"status": "succeeded", "amount": 999, "amount_refunded": amount,
			"refunded": amount == 999, "currency": "usd", "payment_intent": pi, "metadata": map[string]any{}})
		b.overlay.Set("obj_123", map[string]any{"object": "invoice_payment", "invoice": invoiceID,
			"payment": map[string]any{"type": "payment_intent", "payment_intent": pi}})
	}
	chargeObj := func(chargeID string) map[string]any {
		return map[string]any{"id": chargeID, "object": "charge", "payment_intent": "pi_" + chargeID[3:],
			"amount": 999, "amount_refunded": 999, "refunded": true}
	}
	balance := func(t *testing.T, b *bundle) int32 {
		t.Helper()
		u, err := b.store.UserByID(context.Background(), b.user.ID)
		require.NoError(t, err)
		return u.Credits
	}
	auditClean := func(t *testing.T, b *bundle) {
		t.Helper()
		bad, err := b.store.CreditLedgerMismatches(context.Background())
		require.NoError(t, err)
		require.Empty(t, bad, "every balance equals its ledger")
	}
	adjustments := func(t *testing.T, b *bundle) []db.CreditHistoryRow {
		t.Helper()
		typ := lokiz.CreditAdjustment
		rows, err := b.store.CreditHistory(context.Background(), db.CreditHistoryParams{UserID: b.user.ID, TransactionType: &typ, Lim: 100})
		require.NoError(t, err)
		return rows
	}
	// hook delivers a signed event as the api's route does.
	hook := func(t *testing.T, b *bundle, id, typ string, object map[string]any) string {
		t.Helper()
		body := paymenttest.StripeEventJSON(t, id, typ, object)
		out, err := b.svc.StripeWebhook(context.Background(), paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
		require.NoError(t, err)
		return out
	}
	// takeTask checks that the webhook left the task with this id on the
	// critical queue, and removes it so the test runs it.
	takeTask := func(t *testing.T, b *bundle, id string) {
		t.Helper()
		_, err := b.insp.GetTaskInfo(tasks.QueueCritical, id)
		require.NoError(t, err, "task %s is queued", id)
		require.NoError(t, b.insp.DeleteTask(tasks.QueueCritical, id))
	}
	run := func(t *testing.T, b *bundle, task *asynq.Task, n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- b.mux.ProcessTask(context.Background(), task)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
	// invoicePaid delivers invoice.paid for invoiceID and runs its sync.
	invoicePaid := func(t *testing.T, b *bundle, invoiceID string) {
		t.Helper()
		obj := map[string]any{"id": invoiceID, "object": "invoice", "customer": "cus_x",
			"parent": map[string]any{"type": "subscription_details",
				"subscription_details": map[string]any{"subscription": b.sub, "metadata": b.meta}}}
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_paid_"+invoiceID, payments.StripeInvoicePaid, obj))
		body := paymenttest.StripeEventJSON(t, "evt_paid_"+invoiceID, payments.StripeInvoicePaid, obj)
		ev, err := b.stripe.ParseStripeWebhook(paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
		require.NoError(t, err)
		p, ok, err := billing.SubscriptionEvent(context.Background(), b.store, ev)
		require.NoError(t, err)
		require.True(t, ok)
		id := tasks.TypeSubscriptionSync + ":" + p.SubscriptionID.String() + ":" + invoiceID
		if p.SubscriptionID == uuid.Nil {
			id = tasks.TypeSubscriptionSync + ":order:" + p.OrderID.String() + ":" + invoiceID
		}
		takeTask(t, b, id)
		run(t, b, tasks.NewSubscriptionSyncTaskFor(p), 1)
	}
	// twoPeriods pays the first period and its renewal: 500 credits each.
	twoPeriods := func(t *testing.T, b *bundle) {
		t.Helper()
		subscriptionAt(b, b.inFirst, b.p1, b.p2)
		invoicePaid(t, b, b.inFirst)
		subscriptionAt(b, b.inRenew, b.p2, b.p3)
		invoicePaid(t, b, b.inRenew)
		require.Equal(t, b.user.Credits+1000, balance(t, b))
	}
	chargeTaskID := func(chargeID string) string { return tasks.TypeStripeChargeRefunded + ":" + chargeID }
	// tierKept checks that the refund did not end the subscription.
	tierKept := func(t *testing.T, b *bundle) {
		t.Helper()
		u, err := b.store.UserByID(context.Background(), b.user.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.TierBasic, u.SubscriptionTier)
		require.Equal(t, b.p3, u.SubscriptionExpiresAt.UTC())
		live, err := b.store.SubscriptionLiveOfUser(context.Background(), b.user.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.SubActive, live.Status)
	}

	t.Run("RenewalRefundClawsBackOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		twoPeriods(t, b)
		refundedAtStripe(b, b.chRenew, b.inRenew, 999)
		// One delivery twice: the second is a duplicate.
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_ref_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew)))
		require.Equal(t, billing.WebhookDuplicate, hook(t, b, "evt_ref_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew)))
		// Five other deliveries about the same charge at once: one task.
		bodies := make([][]byte, 5)
		for i := range bodies {
			bodies[i] = paymenttest.StripeEventJSON(t, "evt_ref_"+b.chRenew+"_"+strconv.Itoa(i), payments.StripeChargeRefunded, chargeObj(b.chRenew))
		}
		outs := make([]string, 5)
		errs := make([]error, 5)
		var wg sync.WaitGroup
		for i, body := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = b.svc.StripeWebhook(context.Background(), paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
			}()
		}
		wg.Wait()
		for i := range bodies {
			require.NoError(t, errs[i])
			require.Equal(t, billing.WebhookAccepted, outs[i])
		}
		takeTask(t, b, chargeTaskID(b.chRenew))
		task := tasks.NewStripeChargeRefundedTask(b.chRenew)
		run(t, b, task, 5)
		require.Equal(t, b.user.Credits+500, balance(t, b), "the renewal's 500 credits are taken back once")
		run(t, b, task, 2)
		require.Equal(t, b.user.Credits+500, balance(t, b))
		adj := adjustments(t, b)
		require.Len(t, adj, 1)
		require.EqualValues(t, -500, adj[0].Credits)
		// Stripe was asked: the charge, its invoice payment, the invoice.
		require.NotZero(t, countStripe(b.overlay, "GET", "/v1/charges/"+b.chRenew))
		require.NotZero(t, countStripe(b.overlay, "GET", "/v1/invoice_payments"))
		// The first period's order is untouched; the subscription goes on.
		o, err := b.store.PaymentOrderGet(context.Background(), b.order.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.OrderFulfilled, o.Status)
		tierKept(t, b)
		// A late duplicate of the renewal's invoice.paid grants nothing back.
		require.Equal(t, billing.WebhookDuplicate, hook(t, b, "evt_paid_"+b.inRenew, payments.StripeInvoicePaid,
			map[string]any{"id": b.inRenew, "object": "invoice"}))
		live, err := b.store.SubscriptionLiveOfUser(context.Background(), b.user.ID)
		require.NoError(t, err)
		run(t, b, tasks.NewSubscriptionSyncTask(live.ID, b.inRenew), 2)
		require.Equal(t, b.user.Credits+500, balance(t, b), "the renewal synced again grants nothing")
		auditClean(t, b)
	})

	t.Run("AfterSpendingDownToZeroNotBelow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		twoPeriods(t, b)
		ctx := context.Background()
		// All but 120 credits are spent on AI jobs.
		spend := balance(t, b) - 120
		_, _, err := b.store.CreditsApply(ctx, db.CreditChange{UserID: b.user.ID, Type: lokiz.CreditUsage, Delta: -spend,
			Description: "AI job", IdempotencyKey: "test-spend:" + b.user.ID.String()})
		require.NoError(t, err)
		// A partial refund: the period's credits are taken back in full,
		// as far as the balance goes.
		refundedAtStripe(b, b.chRenew, b.inRenew, 300)
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_part_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew)))
		takeTask(t, b, chargeTaskID(b.chRenew))
		run(t, b, tasks.NewStripeChargeRefundedTask(b.chRenew), 3)
		require.Zero(t, balance(t, b), "down to zero, never below")
		adj := adjustments(t, b)
		require.Len(t, adj, 1)
		require.EqualValues(t, -120, adj[0].Credits)

		// Credits come in again, then the rest of the charge is refunded:
		// nothing more is taken (the period's clawback was made).
		_, _, err = b.store.CreditsApply(ctx, db.CreditChange{UserID: b.user.ID, Type: lokiz.CreditBonus, Delta: 50,
			Description: "bonus", IdempotencyKey: "test-bonus:" + b.user.ID.String()})
		require.NoError(t, err)
		refundedAtStripe(b, b.chRenew, b.inRenew, 999)
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_rest_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew)))
		takeTask(t, b, chargeTaskID(b.chRenew))
		run(t, b, tasks.NewStripeChargeRefundedTask(b.chRenew), 2)
		require.EqualValues(t, 50, balance(t, b))
		require.Len(t, adjustments(t, b), 1)
		tierKept(t, b)
		auditClean(t, b)
	})

	t.Run("RefundBeforeTheRenewalIsSynced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		subscriptionAt(b, b.inFirst, b.p1, b.p2)
		invoicePaid(t, b, b.inFirst)
		require.Equal(t, b.user.Credits+500, balance(t, b))
		// The renewal is paid and refunded at Stripe; charge.refunded is
		// handled before invoice.paid.
		subscriptionAt(b, b.inRenew, b.p2, b.p3)
		refundedAtStripe(b, b.chRenew, b.inRenew, 999)
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_early_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew)))
		takeTask(t, b, chargeTaskID(b.chRenew))
		run(t, b, tasks.NewStripeChargeRefundedTask(b.chRenew), 3)
		require.Equal(t, b.user.Credits+500, balance(t, b), "granted and taken back together")
		// The late invoice.paid applies the period but grants nothing.
		invoicePaid(t, b, b.inRenew)
		require.Equal(t, b.user.Credits+500, balance(t, b))
		tierKept(t, b)
		require.Len(t, adjustments(t, b), 1)
		auditClean(t, b)
	})

	t.Run("FirstPeriodRefundGoesThroughItsOrderOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		twoPeriods(t, b)
		refundedAtStripe(b, b.chFirst, b.inFirst, 999)
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_first_"+b.chFirst, payments.StripeChargeRefunded, chargeObj(b.chFirst)))
		takeTask(t, b, chargeTaskID(b.chFirst))
		run(t, b, tasks.NewStripeChargeRefundedTask(b.chFirst), 5)
		require.Equal(t, b.user.Credits+500, balance(t, b))
		o, err := b.store.PaymentOrderGet(context.Background(), b.order.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.OrderRefunded, o.Status)
		require.EqualValues(t, 500, o.CreditsClawedBack)
		require.EqualValues(t, 999, o.RefundedAmount)
		// The period path refuses a period its order paid: no second clawback.
		live, err := b.store.SubscriptionLiveOfUser(context.Background(), b.user.ID)
		require.NoError(t, err)
		_, _, err = b.store.RefundSubscriptionPeriod(context.Background(), db.PeriodRefund{SubscriptionID: live.ID,
			Start: b.p1, End: b.p2, PaymentID: b.chFirst, InvoiceID: b.inFirst, Amount: 999, Refunded: 999, Currency: "usd"})
		require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err))
		// Its payments:fulfill (a reconciler's, a hint naming the order)
		// takes nothing more either.
		run(t, b, tasks.NewPaymentFulfillTask(b.order.ID), 2)
		require.Equal(t, b.user.Credits+500, balance(t, b))
		require.Len(t, adjustments(t, b), 1)
		tierKept(t, b)
		auditClean(t, b)
	})

	t.Run("ForgedOrUnsignedRefundDoesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		twoPeriods(t, b)
		refundedAtStripe(b, b.chRenew, b.inRenew, 999)
		body := paymenttest.StripeEventJSON(t, "evt_forged_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew))
		for _, header := range []map[string][]string{
			{},
			{"Stripe-Signature": {paymenttest.SignStripe(body, "whsec_not_ours", time.Now())}},
			{"Stripe-Signature": {paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now().Add(-time.Hour))}},
		} {
			_, err := b.svc.StripeWebhook(context.Background(), header, body)
			require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
		}
		_, err := b.insp.GetTaskInfo(tasks.QueueCritical, chargeTaskID(b.chRenew))
		require.ErrorIs(t, err, asynq.ErrTaskNotFound, "nothing was queued")
		// Nor was the event recorded: the genuine delivery is handled.
		require.Equal(t, b.user.Credits+1000, balance(t, b))
		require.Equal(t, billing.WebhookAccepted, hook(t, b, "evt_forged_"+b.chRenew, payments.StripeChargeRefunded, chargeObj(b.chRenew)))
		takeTask(t, b, chargeTaskID(b.chRenew))
		auditClean(t, b)
	})
}

// countStripe counts the requests the overlay forwarded with method and
// path.
func countStripe(o *paymenttest.StripeOverlay, method, path string) int {
	n := 0
	for _, r := range o.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}
