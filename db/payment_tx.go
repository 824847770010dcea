package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// NewPaymentOrder is what a buyer asks for; the price and the credits come
// from the catalog (lokiz.CreditPackages, lokiz.Plans), never from the
// request.
type NewPaymentOrder struct {
	// ID, when set, is the order's id chosen by the caller so that creating
	// it is idempotent (a Toss renewal's order is named by its subscription
	// and period): an order with this id already stored is returned as it
	// is, when it is of the same user, kind, item and provider.
	ID       uuid.UUID
	UserID   uuid.UUID
	Kind     string // lokiz.OrderKindPackage or lokiz.OrderKindPlan
	ItemID   string // package or plan id
	Provider string // "stripe", "toss", or "dev" (a plan through the development checkout)
	Currency string // lokiz.CurrencyUSD or lokiz.CurrencyKRW
}

// PaymentOrderKey is the ledger idempotency key of an order's credits.
func PaymentOrderKey(orderID uuid.UUID) string { return "payment:" + orderID.String() }

// paymentClawbackKey is the ledger idempotency key of an order's refund.
func paymentClawbackKey(orderID uuid.UUID) string { return "payment:" + orderID.String() + ":refund" }

// CreatePaymentOrder stores a pending order for o, priced from the catalog.
// An unknown item, the free plan, or a currency the item is not sold in is
// invalid. It grants nothing. The order's credits are what paying it
// delivers: a package's credits, or the plan's monthly credits of the one
// period a plan order pays (granted by the subscription's period, taken
// back by RefundOrder).
func (s *Store) CreatePaymentOrder(ctx context.Context, o NewPaymentOrder) (PaymentOrder, error) {
	var amount int64
	var credits int32
	var ok bool
	switch o.Kind {
	case lokiz.OrderKindPackage:
		var p lokiz.CreditPackage
		if p, ok = lokiz.PackageByID(o.ItemID); !ok {
			return PaymentOrder{}, lokiz.Errorf(lokiz.EINVALID, "unknown credit package %q", o.ItemID)
		}
		credits = p.Credits
		amount, ok = p.Price(o.Currency)
	case lokiz.OrderKindPlan:
		var p lokiz.Plan
		if p, ok = lokiz.PlanByID(o.ItemID); !ok || !p.Paid() {
			return PaymentOrder{}, lokiz.Errorf(lokiz.EINVALID, "unknown or free plan %q", o.ItemID)
		}
		credits = p.MonthlyCredits
		amount, ok = p.Price(o.Currency)
	default:
		return PaymentOrder{}, lokiz.Errorf(lokiz.EINVALID, "unknown order kind %q", o.Kind)
	}
	if !ok {
		return PaymentOrder{}, lokiz.Errorf(lokiz.EINVALID, "%s is not sold in %q", o.ItemID, o.Currency)
	}
	if o.Provider != "stripe" && o.Provider != "toss" && o.Provider != "dev" {
		return PaymentOrder{}, lokiz.Errorf(lokiz.EINVALID, "unknown payment provider %q", o.Provider)
	}
	params := PaymentOrderInsertParams{
		ID: o.ID, UserID: o.UserID, Kind: o.Kind, ItemID: o.ItemID, Provider: o.Provider,
		Amount: amount, Currency: o.Currency, Credits: credits,
	}
	if o.ID == uuid.Nil {
		params.ID = NewID()
		order, err := s.PaymentOrderInsert(ctx, params)
		return order, translate(err, "payment order")
	}
	order, err := s.PaymentOrderInsertIfAbsent(ctx, PaymentOrderInsertIfAbsentParams(params))
	if IsNotFound(err) {
		// Created before: the same order, or a clash of ids.
		if order, err = s.PaymentOrderGet(ctx, o.ID); err != nil {
			return PaymentOrder{}, translate(err, "payment order")
		}
		if order.UserID != o.UserID || order.Kind != o.Kind || order.ItemID != o.ItemID || order.Provider != o.Provider {
			return PaymentOrder{}, lokiz.Errorf(lokiz.ECONFLICT, "order %s exists for another purchase", o.ID)
		}
		return order, nil
	}
	return order, translate(err, "payment order")
}

// SetOrderCheckoutSession records the provider's checkout id of a pending
// order (Stripe's Checkout Session id), so that a webhook naming the session
// finds the order. An id another order has is a conflict; an order no longer
// pending is a conflict too.
func (s *Store) SetOrderCheckoutSession(ctx context.Context, orderID uuid.UUID, sessionID string) (PaymentOrder, error) {
	if sessionID == "" {
		return PaymentOrder{}, lokiz.Errorf(lokiz.EINVALID, "an empty checkout session id")
	}
	o, err := s.PaymentOrderSetSession(ctx, PaymentOrderSetSessionParams{ID: orderID, ProviderSessionID: &sessionID})
	if IsNotFound(err) {
		return PaymentOrder{}, lokiz.Errorf(lokiz.ECONFLICT, "the order is not pending, or does not exist")
	}
	return o, translate(err, "checkout session")
}

// RecordPaymentEvent records a webhook delivery by its provider's event id
// and reports whether it is new: a duplicate (also a concurrent one) is
// recorded once and answers false.
func (s *Store) RecordPaymentEvent(ctx context.Context, provider, eventID, eventType string, receivedAt time.Time) (isNew bool, err error) {
	n, err := s.PaymentEventInsert(ctx, PaymentEventInsertParams{
		Provider: provider, EventID: eventID, EventType: eventType, ReceivedAt: receivedAt,
	})
	if err != nil {
		return false, translate(err, "payment event")
	}
	return n == 1, nil
}

// ForgetPaymentEvent removes a recorded delivery whose handling failed, so
// the provider's retry of it counts as new.
func (s *Store) ForgetPaymentEvent(ctx context.Context, provider, eventID string) error {
	return translate(s.PaymentEventForget(ctx, PaymentEventForgetParams{Provider: provider, EventID: eventID}), "payment event")
}

// PaidPayment is what the provider says was paid for an order.
type PaidPayment struct {
	PaymentID string // Stripe PaymentIntent id, Toss paymentKey
	Amount    int64  // minor units
	Currency  string
}

// MarkOrderPaid moves a pending order to paid with the provider's payment.
// A payment whose amount or currency is not the order's is refused
// (invalid) and changes nothing. Repeating it with the same payment is
// harmless (moved is false); another payment for a paid order, or any
// payment for a failed or canceled one, is a conflict.
func (s *Store) MarkOrderPaid(ctx context.Context, orderID uuid.UUID, p PaidPayment) (order PaymentOrder, moved bool, err error) {
	if p.PaymentID == "" {
		return PaymentOrder{}, false, lokiz.Errorf(lokiz.EINVALID, "a paid order needs the provider's payment id")
	}
	err = s.InTx(ctx, func(q *Queries) error {
		o, err := q.PaymentOrderGetForUpdate(ctx, orderID)
		if err != nil {
			return translate(err, "payment order")
		}
		order = o
		switch {
		case o.Status == lokiz.OrderPending:
		case o.ProviderPaymentID != nil && *o.ProviderPaymentID == p.PaymentID:
			return nil // already recorded
		case o.Status == lokiz.OrderFailed || o.Status == lokiz.OrderCanceled:
			return lokiz.Errorf(lokiz.ECONFLICT, "the order is %s: a payment cannot be recorded", o.Status)
		default:
			return lokiz.Errorf(lokiz.ECONFLICT, "the order is already paid by another payment")
		}
		if p.Amount != o.Amount || p.Currency != o.Currency {
			return lokiz.Errorf(lokiz.EINVALID, "the amount paid (%d %s) does not match the order's (%d %s)",
				p.Amount, p.Currency, o.Amount, o.Currency)
		}
		now := time.Now()
		order, err = q.PaymentOrderMarkPaid(ctx, PaymentOrderMarkPaidParams{ID: orderID, ProviderPaymentID: &p.PaymentID, PaidAt: &now})
		if name, ok := IsUniqueViolation(err); ok && name == "payment_orders_payment_key" {
			return lokiz.Errorf(lokiz.ECONFLICT, "that payment already paid another order")
		}
		moved = err == nil
		return translate(err, "payment order")
	})
	return order, moved, err
}

// FulfillOrder delivers a paid package order: its credits go into the
// ledger (type purchase, the order's idempotency key) and the order becomes
// fulfilled, in one transaction. The order's row lock serialises concurrent
// calls, so however often it runs the credits are granted once; a
// fulfilled order answers granted=false. A plan's order is fulfilled by
// StartSubscription or StartOrRenewSubscriptionPeriod instead.
func (s *Store) FulfillOrder(ctx context.Context, orderID uuid.UUID) (order PaymentOrder, granted bool, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		o, err := q.PaymentOrderGetForUpdate(ctx, orderID)
		if err != nil {
			return translate(err, "payment order")
		}
		order = o
		switch {
		case o.Status == lokiz.OrderFulfilled:
			return nil
		case o.Status != lokiz.OrderPaid:
			return lokiz.Errorf(lokiz.ECONFLICT, "the order is %s, not paid: nothing to fulfil", o.Status)
		case o.Kind != lokiz.OrderKindPackage:
			return lokiz.Errorf(lokiz.EINVALID, "a plan's order is fulfilled by starting its subscription")
		}
		if o.Credits > 0 {
			extra, _ := json.Marshal(map[string]string{"order_id": o.ID.String(), "package_id": o.ItemID, "provider": o.Provider})
			name := o.ItemID
			if p, ok := lokiz.PackageByID(o.ItemID); ok {
				name = p.Name
			}
			_, granted, err = applyCredits(ctx, q, CreditChange{
				UserID: o.UserID, Type: lokiz.CreditPurchase, Delta: o.Credits,
				Description: "Purchase: " + name, ExtraData: extra, IdempotencyKey: PaymentOrderKey(o.ID),
			})
			if err != nil {
				return err
			}
		}
		now := time.Now()
		order, err = q.PaymentOrderMarkFulfilled(ctx, PaymentOrderMarkFulfilledParams{ID: orderID, FulfilledAt: &now})
		return translate(err, "payment order")
	})
	return order, granted, err
}

// FailOrder ends a pending order as failed (the payment failed or expired).
func (s *Store) FailOrder(ctx context.Context, orderID uuid.UUID, reason string) (PaymentOrder, error) {
	return s.endOrder(ctx, orderID, lokiz.OrderFailed, reason)
}

// CancelOrder ends a pending order as canceled (the payer abandoned it).
func (s *Store) CancelOrder(ctx context.Context, orderID uuid.UUID, reason string) (PaymentOrder, error) {
	return s.endOrder(ctx, orderID, lokiz.OrderCanceled, reason)
}

// endOrder moves a pending order to status; an order already there stays
// as it is, any other is a conflict (a paid order is refunded, not failed).
func (s *Store) endOrder(ctx context.Context, orderID uuid.UUID, status, reason string) (order PaymentOrder, err error) {
	if len([]rune(reason)) > 500 {
		reason = string([]rune(reason)[:500])
	}
	err = s.InTx(ctx, func(q *Queries) error {
		o, err := q.PaymentOrderGetForUpdate(ctx, orderID)
		if err != nil {
			return translate(err, "payment order")
		}
		order = o
		if o.Status == status {
			return nil
		}
		if !lokiz.OrderCanMove(o.Status, status) {
			return lokiz.Errorf(lokiz.ECONFLICT, "the order is %s: it cannot become %s", o.Status, status)
		}
		var r *string
		if reason != "" {
			r = &reason
		}
		order, err = q.PaymentOrderMarkEnded(ctx, PaymentOrderMarkEndedParams{ID: orderID, Status: status, FailureReason: r})
		return translate(err, "payment order")
	})
	return order, err
}

// RefundOrder records a refund at the provider of refundedAmount (the total
// refunded so far, minor units) and takes the order's credits back: as many
// as the user still has, never below zero (clawback = min(balance, credits
// granted)), as one ledger row of type adjustment (key of the order's
// refund), recorded in credits_clawed_back. The first refund claws back;
// later ones (a further partial refund, a repeated event) only raise the
// refunded amount, so it is idempotent. A paid order not yet fulfilled is
// refunded without a clawback and is then never fulfilled. clawed is what
// this call took back.
func (s *Store) RefundOrder(ctx context.Context, orderID uuid.UUID, refundedAmount int64) (order PaymentOrder, clawed int32, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		o, err := q.PaymentOrderGetForUpdate(ctx, orderID)
		if err != nil {
			return translate(err, "payment order")
		}
		order = o
		if refundedAmount <= 0 || refundedAmount > o.Amount {
			return lokiz.Errorf(lokiz.EINVALID, "a refund of %d is not within the order's amount %d", refundedAmount, o.Amount)
		}
		if o.Status != lokiz.OrderRefunded && !lokiz.OrderCanMove(o.Status, lokiz.OrderRefunded) {
			return lokiz.Errorf(lokiz.ECONFLICT, "the order is %s: there is no payment to refund", o.Status)
		}
		if o.Status == lokiz.OrderFulfilled && o.Credits > 0 {
			balance, err := q.UserCreditsForUpdate(ctx, o.UserID)
			if err != nil {
				return translate(err, "user")
			}
			if take := min(balance, o.Credits); take > 0 {
				extra, _ := json.Marshal(map[string]any{"order_id": o.ID.String(), "reason": "payment_refunded",
					"credits_granted": o.Credits, "credits_taken": take})
				tx, applied, err := applyCredits(ctx, q, CreditChange{
					UserID: o.UserID, Type: lokiz.CreditAdjustment, Delta: -take,
					Description: "Payment refunded: credits taken back", ExtraData: extra,
					IdempotencyKey: paymentClawbackKey(o.ID),
				})
				if err != nil {
					return err
				}
				if applied {
					clawed = -tx.Credits
				}
			}
		}
		now := time.Now()
		order, err = q.PaymentOrderMarkRefunded(ctx, PaymentOrderMarkRefundedParams{
			ID: orderID, RefundedAmount: refundedAmount, ClawedBack: clawed, RefundedAt: &now,
		})
		return translate(err, "payment order")
	})
	if err != nil {
		clawed = 0
	}
	return order, clawed, err
}

// orderForPeriod checks that orderID is a paid (or already fulfilled) order
// of sub's plan and user, and marks it fulfilled with the subscription.
func orderForPeriod(ctx context.Context, q *Queries, orderID uuid.UUID, sub Subscription) error {
	o, err := q.PaymentOrderGetForUpdate(ctx, orderID)
	if err != nil {
		return translate(err, "payment order")
	}
	if o.Kind != lokiz.OrderKindPlan || o.ItemID != sub.Plan || o.UserID != sub.UserID {
		return lokiz.Errorf(lokiz.EINVALID, "the order is not for this subscription's plan")
	}
	switch o.Status {
	case lokiz.OrderFulfilled:
		if o.SubscriptionID != nil && *o.SubscriptionID != sub.ID {
			return lokiz.Errorf(lokiz.ECONFLICT, "the order already paid another subscription")
		}
		return nil
	case lokiz.OrderPaid:
		now := time.Now()
		_, err = q.PaymentOrderMarkFulfilled(ctx, PaymentOrderMarkFulfilledParams{ID: o.ID, FulfilledAt: &now, SubscriptionID: &sub.ID})
		return translate(err, "payment order")
	}
	return lokiz.Errorf(lokiz.ECONFLICT, "the order is %s, not paid", o.Status)
}
