package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// Payment and subscription task types. They carry money, so they run on
// QueueCritical, and every one of them asks the provider for the real state
// before it acts: a webhook is only a hint (DESIGN.md §3.5).
const (
	// TypePaymentFulfill brings one order to the state its provider reports:
	// grants a paid order's credits once, marks a failed one, claws back a
	// refunded one.
	TypePaymentFulfill = "payments:fulfill"
	// TypeStripeChargeRefunded takes back what a refunded Stripe charge
	// paid for when no package order of ours names it: a subscription's
	// period (a renewal invoice, or the first period through its order).
	TypeStripeChargeRefunded = "payments:charge_refunded"
	// TypePaymentsReconcile asks the providers about orders still pending
	// after a while, so a lost webhook delays a purchase, never loses it.
	TypePaymentsReconcile = "payments:reconcile"
	// TypeSubscriptionSync brings one subscription to the state its
	// provider reports (a paid period's credits, cancellation, end).
	TypeSubscriptionSync = "subscription:sync"
	// TypeSubscriptionsRenew charges the subscriptions we bill ourselves
	// (Toss billing keys) whose period is ending.
	TypeSubscriptionsRenew = "subscriptions:renew"
	// TypeSubscriptionsExpire drops the tier of subscriptions whose paid
	// period has ended without a renewal.
	TypeSubscriptionsExpire = "subscriptions:expire"
)

// PaymentTimeout bounds one attempt at a payment task: a few provider calls
// and one transaction.
const PaymentTimeout = 2 * time.Minute

// OrderPayload names one payment order.
type OrderPayload struct {
	OrderID uuid.UUID `json:"order_id"`
}

// NewPaymentFulfillTask settles one order. The TaskID, one per order, makes
// ten duplicate webhooks at once one task; the transaction it runs is
// idempotent too, so a later enqueue (a refund, the reconciler) is safe.
func NewPaymentFulfillTask(orderID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(OrderPayload{OrderID: orderID}) // cannot fail
	return newTask(TypePaymentFulfill, payload,
		asynq.Queue(QueueCritical),
		asynq.TaskID(TypePaymentFulfill+":"+orderID.String()),
		asynq.MaxRetry(12),
		asynq.Timeout(PaymentTimeout),
	)
}

// ParseOrderPayload decodes a task that names one order.
func ParseOrderPayload(t *asynq.Task) (OrderPayload, error) {
	var p OrderPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.OrderID == uuid.Nil {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}

// ChargePayload names one Stripe charge (an immutable hint; the worker
// reads it back).
type ChargePayload struct {
	ChargeID string `json:"charge_id"`
}

// NewStripeChargeRefundedTask settles the refund of one Stripe charge. The
// TaskID, one per charge, makes a burst of duplicate webhooks one task; the
// transaction it runs is idempotent too, so a later one (a further partial
// refund) is safe.
func NewStripeChargeRefundedTask(chargeID string) *asynq.Task {
	payload, _ := json.Marshal(ChargePayload{ChargeID: chargeID}) // cannot fail
	return newTask(TypeStripeChargeRefunded, payload,
		asynq.Queue(QueueCritical),
		asynq.TaskID(TypeStripeChargeRefunded+":"+chargeID),
		asynq.MaxRetry(12),
		asynq.Timeout(PaymentTimeout),
	)
}

// ParseChargePayload decodes a payments:charge_refunded task.
func ParseChargePayload(t *asynq.Task) (ChargePayload, error) {
	var p ChargePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ChargeID == "" {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}

// SubscriptionPayload names one subscription and, for a paid invoice, the
// provider's invoice id (an immutable hint; the worker reads it back). A
// Stripe subscription we have not recorded yet (its first invoice) is named
// by its plan order and Stripe's subscription id instead.
type SubscriptionPayload struct {
	SubscriptionID         uuid.UUID `json:"subscription_id,omitzero"`
	InvoiceID              string    `json:"invoice_id,omitempty"`
	OrderID                uuid.UUID `json:"order_id,omitzero"`
	ProviderSubscriptionID string    `json:"provider_subscription_id,omitempty"`
}

// NewSubscriptionSyncTaskFor is NewSubscriptionSyncTask for a payload,
// which may name a subscription not recorded yet (by order and Stripe id):
// its TaskID is then per order and invoice.
func NewSubscriptionSyncTaskFor(p SubscriptionPayload) *asynq.Task {
	payload, _ := json.Marshal(p) // cannot fail
	id := TypeSubscriptionSync + ":" + p.SubscriptionID.String()
	if p.SubscriptionID == uuid.Nil {
		id = TypeSubscriptionSync + ":order:" + p.OrderID.String()
	}
	if p.InvoiceID != "" {
		id += ":" + p.InvoiceID
	}
	return newTask(TypeSubscriptionSync, payload,
		asynq.Queue(QueueCritical),
		asynq.TaskID(id),
		asynq.MaxRetry(12),
		asynq.Timeout(PaymentTimeout),
	)
}

// NewSubscriptionSyncTask settles one subscription. Its TaskID is per
// subscription and invoice, so each paid invoice is looked at, and a burst
// of duplicate deliveries of one event is one task.
func NewSubscriptionSyncTask(subscriptionID uuid.UUID, invoiceID string) *asynq.Task {
	return NewSubscriptionSyncTaskFor(SubscriptionPayload{SubscriptionID: subscriptionID, InvoiceID: invoiceID})
}

// ParseSubscriptionPayload decodes a subscription:sync task.
func ParseSubscriptionPayload(t *asynq.Task) (SubscriptionPayload, error) {
	var p SubscriptionPayload
	err := json.Unmarshal(t.Payload(), &p)
	if err != nil || (p.SubscriptionID == uuid.Nil && (p.OrderID == uuid.Nil || p.ProviderSubscriptionID == "")) {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}

// NewPaymentsReconcileTask is the periodic payment reconciler.
func NewPaymentsReconcileTask() *asynq.Task {
	return newTask(TypePaymentsReconcile, []byte("{}"),
		asynq.Queue(QueueCritical), asynq.MaxRetry(2), asynq.Timeout(5*time.Minute))
}

// NewSubscriptionsRenewTask is the periodic renewal of the subscriptions
// we bill ourselves.
func NewSubscriptionsRenewTask() *asynq.Task {
	return newTask(TypeSubscriptionsRenew, []byte("{}"),
		asynq.Queue(QueueCritical), asynq.MaxRetry(2), asynq.Timeout(5*time.Minute))
}

// NewSubscriptionsExpireTask is the periodic expiry of ended subscriptions.
func NewSubscriptionsExpireTask() *asynq.Task {
	return newTask(TypeSubscriptionsExpire, []byte("{}"),
		asynq.Queue(QueueCritical), asynq.MaxRetry(2), asynq.Timeout(2*time.Minute))
}
