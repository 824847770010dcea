// Package payments is the adapter to the payment providers: Stripe (through
// stripe-go) and Toss Payments (over its REST API). It knows nothing of the
// database: callers pass what an order is and get back what the provider
// says. A webhook body is only a hint; the worker asks the provider for the
// real state (Lookup) before it grants or takes back anything.
package payments

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Provider names, as stored on payment_orders.provider and accepted by the
// api's provider field.
const (
	Stripe = "stripe"
	Toss   = "toss"
	// Dev is the development checkout's name for the plans sold through it
	// (its package orders are Stripe's); never configured in production.
	Dev = "dev"
)

// Order kinds.
const (
	KindPackage = "package" // a one-time credit package
	KindPlan    = "plan"    // a subscription plan, billed each period
)

// Order is what a provider needs to start a payment for one of our orders.
type Order struct {
	ID       string // our order id (a UUID); Toss's orderId, Stripe's client_reference_id
	UserID   string
	Kind     string // KindPackage or KindPlan
	ItemID   string // package or plan id
	Name     string // shown to the payer ("Starter Pack", "Pro plan")
	Amount   int64  // in the currency's minor unit (US cents; won, which has none)
	Currency string // ISO 4217, lower case: "usd", "krw"
	// CustomerKey identifies the payer at the provider, unguessable
	// (Toss customerKey; Stripe customer metadata).
	CustomerKey string
	Email       string
	// SuccessURL and CancelURL are where a hosted checkout sends the payer.
	SuccessURL string
	CancelURL  string
}

// Checkout is what the client needs to pay.
type Checkout struct {
	// SessionID is the provider's id of the checkout (Stripe's Checkout
	// Session id); empty for Toss, where the order id is the reference.
	SessionID string
	// URL is the hosted payment page (Stripe).
	URL string
	// ClientKey is the provider's public key for its client widget (Toss).
	ClientKey string
}

// Payment states as the provider reports them, mapped to ours.
const (
	StatePending  = "pending"  // not paid (yet)
	StatePaid     = "paid"     // money received
	StateFailed   = "failed"   // the payment failed or expired
	StateCanceled = "canceled" // the payer abandoned it
	StateRefunded = "refunded" // fully or partly refunded (see Payment.Refunded)
)

// Payment is the provider's real state of the payment for one order.
type Payment struct {
	State     string
	Amount    int64 // what was paid, minor units
	Currency  string
	Refunded  int64  // how much has been refunded, minor units
	PaymentID string // Stripe PaymentIntent id; Toss paymentKey
	// SubscriptionID is set for a plan's payment (Stripe subscription id;
	// Toss billing key reference).
	SubscriptionID string
	// PeriodStart and PeriodEnd are the paid period of a plan's payment.
	PeriodStart, PeriodEnd time.Time
}

// Ref names a payment at a provider: whichever ids are known.
type Ref struct {
	OrderID   string
	SessionID string
	PaymentID string
}

// Event is a verified webhook delivery reduced to what we act on.
type Event struct {
	ID   string // the provider's event id: recorded so a duplicate is dropped
	Type string // the provider's event type, e.g. "checkout.session.completed"
	// Ref names the payment the event is about; the worker looks it up.
	Ref Ref
	// SubscriptionID is set on subscription and invoice events.
	SubscriptionID string
	Created        time.Time
}

// Provider is one payment provider.
type Provider interface {
	Name() string
	// Checkout starts a payment for an order.
	Checkout(ctx context.Context, o Order) (Checkout, error)
	// Lookup asks the provider for the real state of a payment.
	Lookup(ctx context.Context, r Ref) (Payment, error)
	// ParseWebhook verifies a webhook delivery's signature (or origin) and
	// decodes it; ErrBadSignature when it is forged or stale.
	ParseWebhook(header http.Header, body []byte) (Event, error)
}

var (
	// ErrBadSignature is a webhook delivery that does not verify.
	ErrBadSignature = errors.New("payments: webhook signature does not verify")
	// ErrNotFound is a payment the provider does not know.
	ErrNotFound = errors.New("payments: payment not found")
	// ErrAmountMismatch is a confirmation whose amount is not the order's.
	ErrAmountMismatch = errors.New("payments: amount does not match the order")
)
