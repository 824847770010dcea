package payments_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82"

	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
)

// One stripe-mock for the package's tests: it keeps no state, so tests
// share it, and each test puts its own overlay (its own state) in front.
var stripeMock *paymenttest.StripeMock

func TestMain(m *testing.M) {
	mock, err := paymenttest.RunStripeMock()
	if err != nil {
		fmt.Fprintln(os.Stderr, "payments tests:", err)
		os.Exit(1)
	}
	stripeMock = mock
	code := m.Run()
	mock.Close()
	os.Exit(code)
}

type stripeBundle struct {
	provider *payments.StripeProvider
	overlay  *paymenttest.StripeOverlay
}

func setupStripe(t *testing.T, mutate ...func(*payments.StripeConfig)) *stripeBundle {
	t.Helper()
	overlay := paymenttest.NewStripeOverlay(t, stripeMock.URL)
	cfg := payments.StripeConfig{
		SecretKey:     paymenttest.StripeTestKey,
		WebhookSecret: paymenttest.StripeWebhookSecret,
		APIBase:       overlay.URL,
		SuccessURL:    "https://lokiz.test/credits/success?session={CHECKOUT_SESSION_ID}",
		CancelURL:     "https://lokiz.test/credits/cancel",
	}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := payments.NewStripe(cfg)
	require.NoError(t, err)
	return &stripeBundle{provider: p, overlay: overlay}
}

func packageOrder() payments.Order {
	return payments.Order{
		ID:          "0b8f3c2e-6a4d-4e1b-9a51-0c1d2e3f4a5b",
		UserID:      "7d6c5b4a-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
		Kind:        payments.KindPackage,
		ItemID:      "starter",
		Name:        "Starter Pack",
		Amount:      499,
		Currency:    "usd",
		CustomerKey: "ck_9f8e7d6c5b4a",
		Email:       "buyer@lokiz.test",
	}
}

func planOrder() payments.Order {
	return payments.Order{
		ID:       "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
		UserID:   "7d6c5b4a-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
		Kind:     payments.KindPlan,
		ItemID:   "pro",
		Name:     "Pro plan",
		Amount:   1999,
		Currency: "usd",
	}
}

func TestStripeCheckout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PackageInPaymentMode", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, func(c *payments.StripeConfig) { c.Locale = "ko" })
		o := packageOrder()
		co, err := b.provider.Checkout(ctx, o)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(co.SessionID, "cs_"), "session id %q", co.SessionID)
		require.True(t, strings.HasPrefix(co.URL, "https://checkout.stripe.com/"), "url %q", co.URL)

		req, ok := b.overlay.LastRequest(http.MethodPost, "/v1/checkout/sessions")
		require.True(t, ok)
		require.Equal(t, http.StatusOK, req.Status, "stripe-mock accepted the request")
		f := req.Form
		require.Equal(t, "payment", f.Get("mode"))
		require.Equal(t, o.ID, f.Get("client_reference_id"))
		require.Equal(t, "499", f.Get("line_items[0][price_data][unit_amount]"))
		require.Equal(t, "usd", f.Get("line_items[0][price_data][currency]"))
		require.Equal(t, "Starter Pack", f.Get("line_items[0][price_data][product_data][name]"))
		require.Equal(t, "1", f.Get("line_items[0][quantity]"))
		require.Empty(t, f.Get("line_items[0][price_data][recurring][interval]"))
		require.Equal(t, o.ID, f.Get("metadata[order_id]"))
		require.Equal(t, "package", f.Get("metadata[kind]"))
		require.Equal(t, "starter", f.Get("metadata[item]"))
		require.Equal(t, o.UserID, f.Get("metadata[user_id]"))
		require.Equal(t, o.CustomerKey, f.Get("metadata[customer_key]"))
		require.Equal(t, o.ID, f.Get("payment_intent_data[metadata][order_id]"))
		require.Empty(t, f.Get("subscription_data[metadata][order_id]"))
		require.Equal(t, "buyer@lokiz.test", f.Get("customer_email"))
		require.Equal(t, "ko", f.Get("locale"))
		require.Equal(t, "https://lokiz.test/credits/success?session={CHECKOUT_SESSION_ID}", f.Get("success_url"))
		require.Equal(t, "https://lokiz.test/credits/cancel", f.Get("cancel_url"))
		require.Equal(t, "checkout-"+o.ID, req.IdempotencyKey)
	})

	t.Run("PlanInSubscriptionMode", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		o := planOrder()
		o.SuccessURL = "https://lokiz.test/plans/done"
		co, err := b.provider.Checkout(ctx, o)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(co.SessionID, "cs_"))
		require.NotEmpty(t, co.URL)

		req, ok := b.overlay.LastRequest(http.MethodPost, "/v1/checkout/sessions")
		require.True(t, ok)
		require.Equal(t, http.StatusOK, req.Status)
		f := req.Form
		require.Equal(t, "subscription", f.Get("mode"))
		require.Equal(t, o.ID, f.Get("client_reference_id"))
		require.Equal(t, "1999", f.Get("line_items[0][price_data][unit_amount]"))
		require.Equal(t, "month", f.Get("line_items[0][price_data][recurring][interval]"))
		require.Equal(t, "1", f.Get("line_items[0][price_data][recurring][interval_count]"))
		require.Equal(t, o.ID, f.Get("subscription_data[metadata][order_id]"))
		require.Equal(t, "plan", f.Get("subscription_data[metadata][kind]"))
		require.Equal(t, "pro", f.Get("subscription_data[metadata][item]"))
		require.Empty(t, f.Get("payment_intent_data[metadata][order_id]"), "payment_intent_data is not allowed in subscription mode")
		require.Equal(t, "https://lokiz.test/plans/done", f.Get("success_url"), "the order's URL wins over the configured one")
	})

	t.Run("StripeRejectsInvalidParams", func(t *testing.T) {
		t.Parallel()
		// A locale outside Stripe's list passes our checks but not Stripe's
		// spec: stripe-mock answers 400 and the error reaches the caller.
		b := setupStripe(t, func(c *payments.StripeConfig) { c.Locale = "klingon" })
		_, err := b.provider.Checkout(ctx, packageOrder())
		require.Error(t, err)
		var se *stripe.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, http.StatusBadRequest, se.HTTPStatusCode)
		require.Equal(t, stripe.ErrorTypeInvalidRequest, se.Type)
		require.Contains(t, se.Msg, "locale")
		require.NotErrorIs(t, err, payments.ErrNotFound)
		req, ok := b.overlay.LastRequest(http.MethodPost, "/v1/checkout/sessions")
		require.True(t, ok)
		require.Equal(t, http.StatusBadRequest, req.Status)
	})

	t.Run("BadOrdersNeverReachStripe", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		bad := map[string]func(*payments.Order){
			"NoID":          func(o *payments.Order) { o.ID = "" },
			"UnknownKind":   func(o *payments.Order) { o.Kind = "gift" },
			"ZeroAmount":    func(o *payments.Order) { o.Amount = 0 },
			"UpperCurrency": func(o *payments.Order) { o.Currency = "USD" },
			"NoName":        func(o *payments.Order) { o.Name = "" },
		}
		for name, mutate := range bad {
			o := packageOrder()
			mutate(&o)
			_, err := b.provider.Checkout(ctx, o)
			require.Error(t, err, name)
		}
		require.Empty(t, b.overlay.Requests())

		noURLs := setupStripe(t, func(c *payments.StripeConfig) { c.SuccessURL, c.CancelURL = "", "" })
		_, err := noURLs.provider.Checkout(ctx, packageOrder())
		require.ErrorContains(t, err, "success and a cancel URL")
		require.Empty(t, noURLs.overlay.Requests())
	})
}

func TestStripeLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orderID := packageOrder().ID

	t.Run("Paid", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("cs_paid", map[string]any{
			"status": "complete", "payment_status": "paid", "mode": "payment",
			"amount_total": 499, "currency": "usd", "client_reference_id": orderID,
			"payment_intent": map[string]any{
				"id": "pi_paid", "status": "succeeded", "amount_received": 499,
				"latest_charge": map[string]any{"id": "ch_paid", "amount_refunded": 0},
			},
			"subscription": nil,
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{OrderID: orderID, SessionID: "cs_paid"})
		require.NoError(t, err)
		require.Equal(t, payments.Payment{
			State: payments.StatePaid, Amount: 499, Currency: "usd", PaymentID: "pi_paid",
		}, p)

		req, ok := b.overlay.LastRequest(http.MethodGet, "/v1/checkout/sessions/cs_paid")
		require.True(t, ok)
		require.ElementsMatch(t, []string{"payment_intent.latest_charge", "subscription"}, req.List("expand"))
	})

	t.Run("Unpaid", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("cs_open", map[string]any{
			"status": "open", "payment_status": "unpaid", "amount_total": 499, "currency": "usd",
			"payment_intent": map[string]any{"id": "pi_open", "status": "requires_payment_method", "last_payment_error": nil},
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_open"})
		require.NoError(t, err)
		require.Equal(t, payments.StatePending, p.State)
		require.Equal(t, int64(499), p.Amount)
	})

	t.Run("ProcessingAfterCompletion", func(t *testing.T) {
		t.Parallel()
		// checkout.session.completed with a delayed method: complete but
		// not paid yet.
		b := setupStripe(t)
		b.overlay.Set("cs_processing", map[string]any{
			"status": "complete", "payment_status": "unpaid", "amount_total": 499, "currency": "usd",
			"payment_intent": map[string]any{"id": "pi_processing", "status": "processing"},
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_processing"})
		require.NoError(t, err)
		require.Equal(t, payments.StatePending, p.State)
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("cs_expired", map[string]any{
			"status": "expired", "payment_status": "unpaid", "amount_total": 499, "currency": "usd",
			"payment_intent": nil,
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_expired"})
		require.NoError(t, err)
		require.Equal(t, payments.StateFailed, p.State)
		require.Empty(t, p.PaymentID)
	})

	t.Run("AsyncPaymentFailed", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("cs_asyncfail", map[string]any{
			"status": "complete", "payment_status": "unpaid", "amount_total": 499, "currency": "usd",
			"payment_intent": map[string]any{"id": "pi_asyncfail", "status": "requires_payment_method"},
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_asyncfail"})
		require.NoError(t, err)
		require.Equal(t, payments.StateFailed, p.State)
	})

	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("cs_canceled", map[string]any{
			"status": "open", "payment_status": "unpaid", "amount_total": 499, "currency": "usd",
			"payment_intent": map[string]any{"id": "pi_canceled", "status": "canceled"},
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_canceled"})
		require.NoError(t, err)
		require.Equal(t, payments.StateCanceled, p.State)
	})

	t.Run("Refunded", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("cs_refunded", map[string]any{
			"status": "complete", "payment_status": "paid", "amount_total": 499, "currency": "usd",
			"client_reference_id": orderID, "mode": "payment", "subscription": nil,
			"payment_intent": map[string]any{"id": "pi_refunded", "status": "succeeded", "amount_received": 499},
		})
		// The charge is registered on its own: the overlay patches it
		// wherever it appears, here expanded inside the PaymentIntent.
		b.overlay.Set("pi_refunded", map[string]any{"latest_charge": map[string]any{"id": "ch_refunded"}})
		b.overlay.Set("ch_refunded", map[string]any{"amount": 499, "amount_refunded": 499, "refunded": true})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_refunded"})
		require.NoError(t, err)
		require.Equal(t, payments.Payment{
			State: payments.StateRefunded, Amount: 499, Currency: "usd", Refunded: 499, PaymentID: "pi_refunded",
		}, p)
	})

	t.Run("PartlyRefundedByPaymentID", func(t *testing.T) {
		t.Parallel()
		// charge.refunded names the PaymentIntent only.
		b := setupStripe(t)
		b.overlay.Set("pi_partial", map[string]any{
			"status": "succeeded", "amount": 499, "amount_received": 499, "currency": "usd",
			"latest_charge": map[string]any{"id": "ch_partial", "amount_refunded": 200},
		})
		p, err := b.provider.Lookup(ctx, payments.Ref{PaymentID: "pi_partial"})
		require.NoError(t, err)
		require.Equal(t, payments.Payment{
			State: payments.StateRefunded, Amount: 499, Currency: "usd", Refunded: 200, PaymentID: "pi_partial",
		}, p)
		req, ok := b.overlay.LastRequest(http.MethodGet, "/v1/payment_intents/pi_partial")
		require.True(t, ok)
		require.Equal(t, []string{"latest_charge"}, req.List("expand"))
	})

	t.Run("PaymentIntentStates", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("pi_ok", map[string]any{"status": "succeeded", "amount_received": 499,
			"latest_charge": map[string]any{"id": "ch_ok", "amount_refunded": 0}})
		b.overlay.Set("pi_declined", map[string]any{"status": "requires_payment_method",
			"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined"}})
		b.overlay.Set("pi_waiting", map[string]any{"status": "requires_payment_method", "last_payment_error": nil})
		b.overlay.Set("pi_gone", map[string]any{"status": "canceled"})
		for id, want := range map[string]string{
			"pi_ok": payments.StatePaid, "pi_declined": payments.StateFailed,
			"pi_waiting": payments.StatePending, "pi_gone": payments.StateCanceled,
		} {
			p, err := b.provider.Lookup(ctx, payments.Ref{PaymentID: id})
			require.NoError(t, err, id)
			require.Equal(t, want, p.State, id)
		}
	})

	t.Run("SubscriptionSession", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		end := start.AddDate(0, 1, 0)
		b.overlay.Set("cs_sub", map[string]any{
			"status": "complete", "payment_status": "paid", "mode": "subscription",
			"amount_total": 1999, "currency": "usd", "payment_intent": nil,
			"subscription": map[string]any{"id": "sub_pro"},
		})
		b.overlay.Set("sub_pro", map[string]any{"status": "active", "items": map[string]any{"data": []any{
			map[string]any{"id": "si_pro", "object": "subscription_item",
				"current_period_start": start.Unix(), "current_period_end": end.Unix()},
		}}})
		p, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_sub"})
		require.NoError(t, err)
		require.Equal(t, payments.Payment{
			State: payments.StatePaid, Amount: 1999, Currency: "usd",
			SubscriptionID: "sub_pro", PeriodStart: start, PeriodEnd: end,
		}, p)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Missing("cs_gone")
		b.overlay.Missing("pi_gone")
		_, err := b.provider.Lookup(ctx, payments.Ref{SessionID: "cs_gone"})
		require.ErrorIs(t, err, payments.ErrNotFound)
		_, err = b.provider.Lookup(ctx, payments.Ref{PaymentID: "pi_gone"})
		require.ErrorIs(t, err, payments.ErrNotFound)
		b.overlay.Missing("sub_gone")
		_, err = b.provider.Subscription(ctx, "sub_gone")
		require.ErrorIs(t, err, payments.ErrNotFound)
	})

	t.Run("NeedsAnID", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		_, err := b.provider.Lookup(ctx, payments.Ref{OrderID: orderID})
		require.ErrorContains(t, err, "needs the session id or the PaymentIntent id")
		require.Empty(t, b.overlay.Requests())
	})
}

func TestStripeSubscriptionsAndInvoices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	subState := func(b *stripeBundle, cancelAtEnd bool) {
		b.overlay.Set("sub_renew", map[string]any{
			"status": "active", "cancel_at_period_end": cancelAtEnd, "canceled_at": nil, "ended_at": nil,
			"currency": "usd", "customer": "cus_buyer", "latest_invoice": "in_renew",
			"metadata": map[string]any{"order_id": "order-1", "item": "pro", "kind": "plan", "user_id": "user-1"},
			"items": map[string]any{"data": []any{map[string]any{
				"id": "si_renew", "object": "subscription_item",
				"current_period_start": start.Unix(), "current_period_end": end.Unix(),
			}}},
		})
	}

	t.Run("Subscription", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		subState(b, false)
		sub, err := b.provider.Subscription(ctx, "sub_renew")
		require.NoError(t, err)
		require.Equal(t, payments.StripeSubscription{
			ID: "sub_renew", Status: "active", CurrentPeriodStart: start, CurrentPeriodEnd: end,
			OrderID: "order-1", PlanID: "pro", UserID: "user-1",
			LatestInvoiceID: "in_renew", CustomerID: "cus_buyer", Currency: "usd",
		}, sub)
		require.True(t, sub.Active())
	})

	t.Run("CancelAtPeriodEnd", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		// What Stripe answers after the update: stripe-mock would answer its
		// fixture; the overlay states the updated subscription.
		subState(b, true)
		sub, err := b.provider.CancelAtPeriodEnd(ctx, "sub_renew")
		require.NoError(t, err)
		require.True(t, sub.CancelAtPeriodEnd)
		require.Equal(t, end, sub.CurrentPeriodEnd)
		req, ok := b.overlay.LastRequest(http.MethodPost, "/v1/subscriptions/sub_renew")
		require.True(t, ok)
		require.Equal(t, http.StatusOK, req.Status)
		require.Equal(t, "true", req.Form.Get("cancel_at_period_end"))
		require.Len(t, req.Form, 1, "nothing but cancel_at_period_end is changed")
	})

	t.Run("CancelNow", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("sub_renew", map[string]any{"status": "canceled", "ended_at": start.Unix(), "canceled_at": start.Unix()})
		sub, err := b.provider.CancelNow(ctx, "sub_renew", "account erased")
		require.NoError(t, err)
		require.Equal(t, "canceled", sub.Status)
		req, ok := b.overlay.LastRequest(http.MethodDelete, "/v1/subscriptions/sub_renew")
		require.True(t, ok, "an immediate cancellation, not an update")
		require.Equal(t, http.StatusOK, req.Status)
		require.Equal(t, "account erased", req.Form.Get("cancellation_details[comment]"))

		// Stripe refuses to cancel it again: it has ended, so that is
		// success.
		b.overlay.Refuse(http.MethodDelete, "sub_renew", "This subscription has already been canceled.")
		sub, err = b.provider.CancelNow(ctx, "sub_renew", "")
		require.NoError(t, err)
		require.Equal(t, "canceled", sub.Status)

		// A refusal of a subscription that is still live is not.
		b.overlay.Set("sub_live", map[string]any{"status": "active", "ended_at": nil})
		b.overlay.Refuse(http.MethodDelete, "sub_live", "Something else is wrong.")
		_, err = b.provider.CancelNow(ctx, "sub_live", "")
		require.ErrorContains(t, err, "Something else is wrong")

		// One Stripe does not know has nothing left to charge.
		b.overlay.Missing("sub_gone")
		_, err = b.provider.CancelNow(ctx, "sub_gone", "")
		require.NoError(t, err)
	})

	t.Run("Invoice", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("in_renew", map[string]any{
			"status": "paid", "amount_paid": 1999, "currency": "usd", "billing_reason": "subscription_cycle",
			// The invoice's own window is the previous period; the line
			// carries the period paid for.
			"period_start": start.AddDate(0, -1, 0).Unix(), "period_end": start.Unix(),
			"parent": map[string]any{
				"type": "subscription_details", "quote_details": nil,
				"subscription_details": map[string]any{
					"subscription": "sub_renew",
					"metadata":     map[string]any{"order_id": "order-1", "item": "pro", "user_id": "user-1"},
				},
			},
			"lines": map[string]any{"data": []any{map[string]any{
				"id": "il_renew", "object": "line_item", "amount": 1999, "currency": "usd",
				"period": map[string]any{"start": start.Unix(), "end": end.Unix()},
				"parent": map[string]any{"type": "subscription_item_details"},
			}}},
		})
		inv, err := b.provider.Invoice(ctx, "in_renew")
		require.NoError(t, err)
		require.Equal(t, payments.StripeInvoice{
			ID: "in_renew", SubscriptionID: "sub_renew", Status: "paid", Paid: true, AmountPaid: 1999,
			Currency: "usd", PeriodStart: start, PeriodEnd: end,
			OrderID: "order-1", PlanID: "pro", UserID: "user-1", BillingReason: "subscription_cycle",
		}, inv)
	})

	t.Run("UnpaidInvoice", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("in_open", map[string]any{"status": "open", "amount_paid": 0})
		inv, err := b.provider.Invoice(ctx, "in_open")
		require.NoError(t, err)
		require.False(t, inv.Paid)
		require.Equal(t, "open", inv.Status)
	})
}

func TestStripeConfig(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://api.stripe.com":      true,
		"https://api.stripe.com/":     true,
		"http://127.0.0.1:12111":      true,
		"http://localhost:12111":      true,
		"http://[::1]:12111":          true,
		"http://api.stripe.com":       false,
		"http://10.0.0.7:12111":       false,
		"ftp://api.stripe.com":        false,
		"https://user:pw@evil.test":   false,
		"https://api.stripe.com/?x=1": false,
		"api.stripe.com":              false,
	} {
		_, err := payments.CheckAPIBase(raw)
		require.Equal(t, ok, err == nil, "%s: %v", raw, err)
	}

	good := payments.StripeConfig{SecretKey: "sk_test_x", WebhookSecret: "whsec_x"}
	p, err := payments.NewStripe(good)
	require.NoError(t, err, "the default API base is Stripe's")
	require.Equal(t, payments.Stripe, p.Name())

	bad := good
	bad.SecretKey = "pk_test_x"
	_, err = payments.NewStripe(bad)
	require.ErrorContains(t, err, "secret key")

	bad = good
	bad.WebhookSecret = ""
	_, err = payments.NewStripe(bad)
	require.ErrorContains(t, err, "webhook signing secret")

	bad = good
	bad.APIBase = "http://api.stripe.com"
	_, err = payments.NewStripe(bad)
	require.Error(t, err)
}

func TestStripeCharge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RenewalChargeNamesItsInvoice", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("ch_renew", map[string]any{"status": "succeeded", "amount": 999, "amount_refunded": 300,
			"refunded": false, "currency": "usd", "payment_intent": "pi_renew"})
		// stripe-mock's invoice payment fixture (id obj_123) stands for the
		// one Stripe lists for the PaymentIntent.
		b.overlay.Set("obj_123", map[string]any{"object": "invoice_payment", "invoice": "in_renew",
			"payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_renew"}})
		ch, err := b.provider.Charge(ctx, "ch_renew")
		require.NoError(t, err)
		require.Equal(t, payments.StripeCharge{ID: "ch_renew", Paid: true, Amount: 999, AmountRefunded: 300,
			Currency: "usd", PaymentIntentID: "pi_renew", InvoiceID: "in_renew"}, ch)
		req, ok := b.overlay.LastRequest("GET", "/v1/invoice_payments")
		require.True(t, ok, "the invoice is found through Stripe's invoice payments")
		require.Equal(t, "payment_intent", req.Form.Get("payment[type]"))
		require.Equal(t, "pi_renew", req.Form.Get("payment[payment_intent]"))
	})

	t.Run("AnotherIntentsInvoicePaymentIsNotTaken", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Set("ch_pkg", map[string]any{"status": "succeeded", "amount": 499, "amount_refunded": 499,
			"refunded": true, "currency": "usd", "payment_intent": "pi_pkg"})
		b.overlay.Set("obj_123", map[string]any{"invoice": "in_other",
			"payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_other"}})
		ch, err := b.provider.Charge(ctx, "ch_pkg")
		require.NoError(t, err)
		require.True(t, ch.Refunded)
		require.Empty(t, ch.InvoiceID)
	})

	t.Run("UnknownChargeIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.overlay.Missing("ch_gone")
		_, err := b.provider.Charge(ctx, "ch_gone")
		require.ErrorIs(t, err, payments.ErrNotFound)
	})
}
