package payments_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
)

// Webhook verification needs no API: the provider is built against an
// address nobody listens on, so any call out would fail the test.
func webhookProvider(t *testing.T) *payments.StripeProvider {
	t.Helper()
	p, err := payments.NewStripe(payments.StripeConfig{
		SecretKey:     paymenttest.StripeTestKey,
		WebhookSecret: paymenttest.StripeWebhookSecret,
		APIBase:       "http://127.0.0.1:1",
	})
	require.NoError(t, err)
	return p
}

const orderID = "0b8f3c2e-6a4d-4e1b-9a51-0c1d2e3f4a5b"

func TestStripeWebhookEvents(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t)

	session := func(id string, extra map[string]any) map[string]any {
		o := map[string]any{
			"id": id, "object": "checkout.session", "mode": "payment", "status": "complete",
			"payment_status": "paid", "client_reference_id": orderID,
			"metadata":       map[string]any{"order_id": orderID, "kind": "package", "item": "starter"},
			"payment_intent": "pi_evt", "customer": "cus_evt", "subscription": nil, "invoice": nil,
			"amount_total": 499, "currency": "usd",
		}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	subscription := map[string]any{
		"id": "sub_evt", "object": "subscription", "status": "active", "customer": "cus_evt",
		"cancel_at_period_end": true,
		"metadata":             map[string]any{"order_id": orderID, "kind": "plan", "item": "pro"},
	}
	invoice := map[string]any{
		"id": "in_evt", "object": "invoice", "status": "paid", "customer": "cus_evt", "amount_paid": 1999,
		"parent": map[string]any{
			"type": "subscription_details",
			"subscription_details": map[string]any{
				"subscription": "sub_evt", "metadata": map[string]any{"order_id": orderID},
			},
		},
	}

	tests := []struct {
		name, eventType string
		object          map[string]any
		want            payments.StripeEvent
	}{
		{
			name: "CheckoutCompleted", eventType: "checkout.session.completed",
			object: session("cs_evt", nil),
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID, SessionID: "cs_evt", PaymentID: "pi_evt"}},
				ObjectID: "cs_evt", CustomerID: "cus_evt",
			},
		},
		{
			name: "CheckoutCompletedForAPlan", eventType: "checkout.session.completed",
			object: session("cs_plan", map[string]any{
				"mode": "subscription", "payment_intent": nil, "subscription": "sub_evt", "invoice": "in_first",
			}),
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID, SessionID: "cs_plan"}, SubscriptionID: "sub_evt"},
				ObjectID: "cs_plan", InvoiceID: "in_first", CustomerID: "cus_evt",
			},
		},
		{
			// Without client_reference_id the metadata names the order.
			name: "AsyncPaymentSucceeded", eventType: "checkout.session.async_payment_succeeded",
			object: session("cs_async", map[string]any{"client_reference_id": nil}),
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID, SessionID: "cs_async", PaymentID: "pi_evt"}},
				ObjectID: "cs_async", CustomerID: "cus_evt",
			},
		},
		{
			name: "AsyncPaymentFailed", eventType: "checkout.session.async_payment_failed",
			object: session("cs_asyncfail", map[string]any{"payment_status": "unpaid"}),
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID, SessionID: "cs_asyncfail", PaymentID: "pi_evt"}},
				ObjectID: "cs_asyncfail", CustomerID: "cus_evt",
			},
		},
		{
			name: "InvoicePaid", eventType: "invoice.paid", object: invoice,
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID}, SubscriptionID: "sub_evt"},
				ObjectID: "in_evt", InvoiceID: "in_evt", CustomerID: "cus_evt",
			},
		},
		{
			name: "InvoicePaymentFailed", eventType: "invoice.payment_failed", object: invoice,
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID}, SubscriptionID: "sub_evt"},
				ObjectID: "in_evt", InvoiceID: "in_evt", CustomerID: "cus_evt",
			},
		},
		{
			name: "SubscriptionUpdated", eventType: "customer.subscription.updated", object: subscription,
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID}, SubscriptionID: "sub_evt"},
				ObjectID: "sub_evt", CustomerID: "cus_evt",
			},
		},
		{
			name: "SubscriptionDeleted", eventType: "customer.subscription.deleted", object: subscription,
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID}, SubscriptionID: "sub_evt"},
				ObjectID: "sub_evt", CustomerID: "cus_evt",
			},
		},
		{
			// A refund names the PaymentIntent; Lookup{PaymentID} reads it.
			name: "ChargeRefunded", eventType: "charge.refunded",
			object: map[string]any{
				"id": "ch_evt", "object": "charge", "amount": 499, "amount_refunded": 499, "refunded": true,
				"payment_intent": "pi_evt", "customer": "cus_evt",
				"metadata": map[string]any{"order_id": orderID},
			},
			want: payments.StripeEvent{
				Event:    payments.Event{Ref: payments.Ref{OrderID: orderID, PaymentID: "pi_evt"}},
				ObjectID: "ch_evt", ChargeID: "ch_evt", CustomerID: "cus_evt",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "evt_" + tt.name
			body := paymenttest.StripeEventJSON(t, id, tt.eventType, tt.object)
			got, err := p.ParseStripeWebhook(paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
			require.NoError(t, err)
			require.WithinDuration(t, time.Now(), got.Created, time.Minute)
			want := tt.want
			want.ID, want.Type, want.Created, want.Handled = id, tt.eventType, got.Created, true
			require.Equal(t, want, got)

			// Through the Provider interface: the same Event.
			var prov payments.Provider = p
			ev, err := prov.ParseWebhook(paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
			require.NoError(t, err)
			require.Equal(t, want.Event, ev)
		})
	}

	t.Run("OtherTypesAreVerifiedAndIgnorable", func(t *testing.T) {
		t.Parallel()
		body := paymenttest.StripeEventJSON(t, "evt_other", "customer.created",
			map[string]any{"id": "cus_new", "object": "customer"})
		got, err := p.ParseStripeWebhook(paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
		require.NoError(t, err)
		require.False(t, got.Handled)
		require.False(t, payments.StripeEventHandled(got.Type))
		require.Equal(t, "evt_other", got.ID)
		require.Equal(t, payments.Ref{}, got.Ref)
		require.Empty(t, got.SubscriptionID)
	})

	t.Run("HandledEventWithoutObjectID", func(t *testing.T) {
		t.Parallel()
		body := paymenttest.StripeEventJSON(t, "evt_noid", "charge.refunded", map[string]any{"object": "charge"})
		_, err := p.ParseStripeWebhook(paymenttest.StripeHeader(body, paymenttest.StripeWebhookSecret), body)
		require.ErrorContains(t, err, "no id")
		require.NotErrorIs(t, err, payments.ErrBadSignature)
	})
}

func TestStripeWebhookSignature(t *testing.T) {
	t.Parallel()
	p := webhookProvider(t)
	body := paymenttest.StripeEventJSON(t, "evt_sig", "checkout.session.completed", map[string]any{
		"id": "cs_sig", "object": "checkout.session", "client_reference_id": orderID, "payment_status": "paid",
	})
	header := func(sig string) http.Header {
		h := http.Header{}
		if sig != "" {
			h.Set("Stripe-Signature", sig)
		}
		return h
	}

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		ev, err := p.ParseWebhook(header(paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now())), body)
		require.NoError(t, err)
		require.Equal(t, "cs_sig", ev.Ref.SessionID)
	})

	refused := map[string]struct {
		body []byte
		sig  string
	}{
		"ForgedWithAnotherSecret": {body, paymenttest.SignStripe(body, "whsec_attacker", time.Now())},
		"Stale":                   {body, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now().Add(-301*time.Second))},
		"BodyTamperedAfterSigning": {
			bytes.Replace(body, []byte(`"paid"`), []byte(`"PAID"`), 1),
			paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now()),
		},
		"NoHeader":        {body, ""},
		"MalformedHeader": {body, "t=now,v1"},
		"NoV1Signature":   {body, "t=" + time.Now().Format("20060102")},
	}
	for name, tt := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, "", string(tt.body))
			_, err := p.ParseWebhook(header(tt.sig), tt.body)
			require.ErrorIs(t, err, payments.ErrBadSignature)
		})
	}

	t.Run("JustInsideTheTolerance", func(t *testing.T) {
		t.Parallel()
		_, err := p.ParseWebhook(header(paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now().Add(-290*time.Second))), body)
		require.NoError(t, err)
	})

	t.Run("ConfiguredTolerance", func(t *testing.T) {
		t.Parallel()
		strict, err := payments.NewStripe(payments.StripeConfig{
			SecretKey: paymenttest.StripeTestKey, WebhookSecret: paymenttest.StripeWebhookSecret,
			WebhookTolerance: 30 * time.Second,
		})
		require.NoError(t, err)
		_, err = strict.ParseWebhook(header(paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now().Add(-time.Minute))), body)
		require.ErrorIs(t, err, payments.ErrBadSignature)
	})

	t.Run("OtherAPIReleaseTrain", func(t *testing.T) {
		t.Parallel()
		old := paymenttest.StripeEventJSONVersion(t, "evt_acacia", "invoice.paid", "2024-09-30.acacia",
			map[string]any{"id": "in_old", "object": "invoice", "subscription": "sub_old"})
		_, err := p.ParseWebhook(paymenttest.StripeHeader(old, paymenttest.StripeWebhookSecret), old)
		require.ErrorIs(t, err, payments.ErrStripeAPIVersion)
		require.NotErrorIs(t, err, payments.ErrBadSignature)

		// The check comes after the signature: a forged one is a bad
		// signature whatever its version.
		_, err = p.ParseWebhook(paymenttest.StripeHeader(old, "whsec_attacker"), old)
		require.ErrorIs(t, err, payments.ErrBadSignature)
	})
}
