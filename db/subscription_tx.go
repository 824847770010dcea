package db

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// NewSubscription is a subscription whose first period the provider says is
// paid.
type NewSubscription struct {
	UserID   uuid.UUID
	Plan     string // a paid tier
	Provider string // "stripe", "toss" or "dev" (the development checkout)
	// ProviderSubscriptionID is Stripe's subscription id, or for Toss our
	// reference of the billing key.
	ProviderSubscriptionID string
	// BillingKey and CustomerKey are Toss's (required for Toss).
	BillingKey, CustomerKey *string
	Period                  Period
}

// Period is one paid period of a subscription.
type Period struct {
	Start, End time.Time
	// OrderID, when set, is the paid plan order that paid the period: it is
	// marked fulfilled with the subscription in the same transaction.
	OrderID *uuid.UUID
}

// SubscriptionPeriodKey is the ledger idempotency key of the monthly credits
// of sub's period that starts at start.
func SubscriptionPeriodKey(sub uuid.UUID, start time.Time) string {
	return "subscription:" + sub.String() + ":" + strconv.FormatInt(start.Unix(), 10)
}

// StartSubscription creates the user's subscription with its first paid
// period and applies the period (StartOrRenewSubscriptionPeriod). A
// subscription the provider already named is not created again: the call is
// then a renewal of it, so a retried start grants nothing twice. A user who
// already has another live subscription is a conflict.
func (s *Store) StartSubscription(ctx context.Context, n NewSubscription) (sub Subscription, granted bool, err error) {
	if p, ok := lokiz.PlanByID(n.Plan); !ok || !p.Paid() {
		return Subscription{}, false, lokiz.Errorf(lokiz.EINVALID, "unknown or free plan %q", n.Plan)
	}
	if err := n.Period.check(); err != nil {
		return Subscription{}, false, err
	}
	// Two attempts: a concurrent start of the same provider subscription
	// makes the first insert fail, the second finds its row.
	for attempt := 0; ; attempt++ {
		err = s.InTx(ctx, func(q *Queries) error {
			existing, err := q.SubscriptionByProviderID(ctx, SubscriptionByProviderIDParams{Provider: n.Provider, ProviderSubscriptionID: n.ProviderSubscriptionID})
			switch {
			case err == nil:
				if existing.UserID != n.UserID || existing.Plan != n.Plan {
					return lokiz.Errorf(lokiz.ECONFLICT, "the provider's subscription belongs to another user or plan")
				}
				if sub, err = q.SubscriptionGetForUpdate(ctx, existing.ID); err != nil {
					return translate(err, "subscription")
				}
			case IsNotFound(err):
				sub, err = q.SubscriptionInsert(ctx, SubscriptionInsertParams{
					ID: NewID(), UserID: n.UserID, Plan: n.Plan, Provider: n.Provider,
					ProviderSubscriptionID: n.ProviderSubscriptionID,
					CurrentPeriodStart:     n.Period.Start, CurrentPeriodEnd: n.Period.End,
					BillingKey: n.BillingKey, CustomerKey: n.CustomerKey,
				})
				if err != nil {
					return err
				}
			default:
				return translate(err, "subscription")
			}
			sub, granted, err = applyPeriod(ctx, q, sub, n.Period)
			return err
		})
		name, unique := IsUniqueViolation(err)
		switch {
		case unique && name == "subscriptions_provider_id_key" && attempt == 0:
			continue
		case unique && name == "subscriptions_user_live_key":
			return Subscription{}, false, lokiz.Errorf(lokiz.ECONFLICT, "you already have a subscription")
		case err != nil:
			return Subscription{}, false, translate(err, "subscription")
		}
		return sub, granted, nil
	}
}

func (p Period) check() error {
	if p.Start.IsZero() || !p.End.After(p.Start) {
		return lokiz.Errorf(lokiz.EINVALID, "a subscription period must end after it starts")
	}
	return nil
}

// StartOrRenewSubscriptionPeriod applies a paid period to a subscription in
// one transaction: the plan's monthly credits once per subscription and
// period (type subscription, key SubscriptionPeriodKey), the subscription's
// current period moved forward when the period ends later, the subscription
// active again when it was past due (or expired: a paid period that arrives
// late is honoured when the user has no other live subscription), and the
// user's tier set to the plan until the period's end. The same period
// applied twice grants nothing the second time (granted=false).
func (s *Store) StartOrRenewSubscriptionPeriod(ctx context.Context, subID uuid.UUID, p Period) (sub Subscription, granted bool, err error) {
	if err := p.check(); err != nil {
		return Subscription{}, false, err
	}
	err = s.InTx(ctx, func(q *Queries) error {
		locked, err := q.SubscriptionGetForUpdate(ctx, subID)
		if err != nil {
			return translate(err, "subscription")
		}
		sub, granted, err = applyPeriod(ctx, q, locked, p)
		return err
	})
	if name, ok := IsUniqueViolation(err); ok && name == "subscriptions_user_live_key" {
		return Subscription{}, false, lokiz.Errorf(lokiz.ECONFLICT, "the user has another live subscription")
	}
	return sub, granted, err
}

// applyPeriod is StartOrRenewSubscriptionPeriod inside a transaction that
// holds sub's row lock.
func applyPeriod(ctx context.Context, q *Queries, sub Subscription, p Period) (Subscription, bool, error) {
	if p.OrderID != nil {
		if err := orderForPeriod(ctx, q, *p.OrderID, sub); err != nil {
			return Subscription{}, false, err
		}
	}
	_, granted, err := grantPeriodCredits(ctx, q, sub, p)
	if err != nil {
		return Subscription{}, false, err
	}
	advances := p.End.After(sub.CurrentPeriodEnd)
	status := sub.Status
	if sub.Status == lokiz.SubPastDue || (sub.Status == lokiz.SubExpired && advances) {
		status = lokiz.SubActive
	}
	if advances || status != sub.Status {
		start, end := sub.CurrentPeriodStart, sub.CurrentPeriodEnd
		if advances {
			start, end = p.Start, p.End
		}
		var err error
		sub, err = q.SubscriptionSetPeriod(ctx, SubscriptionSetPeriodParams{
			ID: sub.ID, Status: status, CurrentPeriodStart: start, CurrentPeriodEnd: end,
		})
		if err != nil {
			return Subscription{}, false, err
		}
	}
	if lokiz.SubLive(sub.Status) {
		end := sub.CurrentPeriodEnd
		if err := q.UserSetSubscription(ctx, UserSetSubscriptionParams{ID: sub.UserID, SubscriptionTier: sub.Plan, SubscriptionExpiresAt: &end}); err != nil {
			return Subscription{}, false, translate(err, "user")
		}
	}
	return sub, granted, nil
}

// grantPeriodCredits grants the plan's monthly credits of sub's period p
// once (type subscription, key SubscriptionPeriodKey): granted is false
// when they were granted before. credits is what the period's ledger row
// holds (0 for a plan without monthly credits).
func grantPeriodCredits(ctx context.Context, q *Queries, sub Subscription, p Period) (credits int32, granted bool, err error) {
	plan := lokiz.TierPlan(sub.Plan)
	if plan.MonthlyCredits <= 0 {
		return 0, false, nil
	}
	extra, _ := json.Marshal(map[string]string{"subscription_id": sub.ID.String(), "plan": sub.Plan,
		"period_start": p.Start.UTC().Format(time.RFC3339), "period_end": p.End.UTC().Format(time.RFC3339)})
	tx, granted, err := applyCredits(ctx, q, CreditChange{
		UserID: sub.UserID, Type: lokiz.CreditSubscription, Delta: plan.MonthlyCredits,
		Description: plan.Name + " plan: monthly credits", ExtraData: extra,
		IdempotencyKey: SubscriptionPeriodKey(sub.ID, p.Start),
	})
	if err != nil {
		return 0, false, err
	}
	return tx.Credits, granted, nil
}

// subscriptionPeriodClawbackKey is the ledger idempotency key of the
// clawback of sub's period that starts at start.
func subscriptionPeriodClawbackKey(sub uuid.UUID, start time.Time) string {
	return SubscriptionPeriodKey(sub, start) + ":refund"
}

// PeriodRefund is a refund at the provider of one paid period of a
// subscription that no order of ours paid: a Stripe renewal invoice. (A
// period an order paid, a Stripe subscription's first or any Toss one, is
// refunded through its order: RefundOrder.)
type PeriodRefund struct {
	SubscriptionID uuid.UUID
	// Start and End are the period the refunded invoice paid for.
	Start, End time.Time
	// PaymentID is the provider's payment (Stripe charge id); InvoiceID
	// the invoice it paid.
	PaymentID, InvoiceID string
	// Amount is what was paid, Refunded the total refunded so far (minor
	// units of Currency).
	Amount, Refunded int64
	Currency         string
}

// RefundSubscriptionPeriod records a refund of one of a subscription's paid
// periods that has no order of ours (PeriodRefund) and takes that period's
// monthly credits back, the way RefundOrder does for an order: as many as
// the user still has, never below zero (min(balance, credits granted)), as
// one ledger row of type adjustment (key SubscriptionPeriodKey + ":refund"),
// and only the first time: the period's refund row (subscription_period_refunds)
// is written in the same transaction, so a repeated or further partial
// refund only raises its refunded amount, and a clawback that found nothing
// to take is not made again later. A partial refund takes the credits back
// in full, as a partial refund of an order does.
//
// The subscription's row lock serialises it with the period's grant
// (StartOrRenewSubscriptionPeriod): when the refund is recorded before the
// period was applied (the refund's webhook overtook invoice.paid), the
// period's credits are granted here first, under the period's own key, and
// taken back at once, so the later sync of the invoice finds them granted
// and grants nothing. The subscription itself (status, period, tier) is
// left as it is: a refund does not end it. A period paid by one of our
// orders is a conflict (its refund goes through RefundOrder). clawed is
// what this call took back.
func (s *Store) RefundSubscriptionPeriod(ctx context.Context, r PeriodRefund) (ref SubscriptionPeriodRefund, clawed int32, err error) {
	if err := (Period{Start: r.Start, End: r.End}).check(); err != nil {
		return ref, 0, err
	}
	if r.PaymentID == "" || r.InvoiceID == "" {
		return ref, 0, lokiz.Errorf(lokiz.EINVALID, "a period's refund needs the provider's payment and invoice")
	}
	if r.Refunded <= 0 || r.Refunded > r.Amount {
		return ref, 0, lokiz.Errorf(lokiz.EINVALID, "a refund of %d is not within the payment's amount %d", r.Refunded, r.Amount)
	}
	err = s.InTx(ctx, func(q *Queries) error {
		sub, err := q.SubscriptionGetForUpdate(ctx, r.SubscriptionID)
		if err != nil {
			return translate(err, "subscription")
		}
		prev, err := q.SubscriptionPeriodRefundGetForUpdate(ctx, SubscriptionPeriodRefundGetForUpdateParams{SubscriptionID: sub.ID, PeriodStart: r.Start})
		if err == nil {
			if prev.ProviderPaymentID != r.PaymentID {
				return lokiz.Errorf(lokiz.ECONFLICT, "the period was refunded through another payment")
			}
			ref = prev
			if r.Refunded > prev.RefundedAmount {
				ref, err = q.SubscriptionPeriodRefundRaise(ctx, SubscriptionPeriodRefundRaiseParams{
					SubscriptionID: sub.ID, PeriodStart: r.Start, RefundedAmount: r.Refunded})
			}
			return translate(err, "subscription period refund")
		} else if !IsNotFound(err) {
			return translate(err, "subscription period refund")
		}
		_, err = q.PaymentOrderByProviderPayment(ctx, PaymentOrderByProviderPaymentParams{Provider: sub.Provider, ProviderPaymentID: &r.InvoiceID})
		if err == nil {
			return lokiz.Errorf(lokiz.ECONFLICT, "the period was paid by an order: refund the order")
		} else if !IsNotFound(err) {
			return translate(err, "payment order")
		}
		credits, _, err := grantPeriodCredits(ctx, q, sub, Period{Start: r.Start, End: r.End})
		if err != nil {
			return err
		}
		if credits > 0 {
			balance, err := q.UserCreditsForUpdate(ctx, sub.UserID)
			if err != nil {
				return translate(err, "user")
			}
			if take := min(balance, credits); take > 0 {
				extra, _ := json.Marshal(map[string]any{"subscription_id": sub.ID.String(), "reason": "payment_refunded",
					"period_start": r.Start.UTC().Format(time.RFC3339), "payment_id": r.PaymentID, "invoice_id": r.InvoiceID,
					"credits_granted": credits, "credits_taken": take})
				tx, applied, err := applyCredits(ctx, q, CreditChange{
					UserID: sub.UserID, Type: lokiz.CreditAdjustment, Delta: -take,
					Description: "Subscription payment refunded: credits taken back", ExtraData: extra,
					IdempotencyKey: subscriptionPeriodClawbackKey(sub.ID, r.Start),
				})
				if err != nil {
					return err
				}
				if applied {
					clawed = -tx.Credits
				}
			}
		}
		ref, err = q.SubscriptionPeriodRefundInsert(ctx, SubscriptionPeriodRefundInsertParams{
			SubscriptionID: sub.ID, PeriodStart: r.Start, PeriodEnd: r.End, ProviderPaymentID: r.PaymentID,
			InvoiceID: r.InvoiceID, Amount: r.Amount, RefundedAmount: r.Refunded, Currency: r.Currency,
			CreditsGranted: credits, CreditsClawedBack: clawed, RefundedAt: time.Now(),
		})
		return translate(err, "subscription period refund")
	})
	if err != nil {
		clawed = 0
	}
	return ref, clawed, err
}

// CancelSubscriptionAtPeriodEnd marks the user's live subscription to end
// with its current period: it is not renewed, and the tier stays until
// subscription_expires_at, when ExpireSubscriptions drops it. Repeating it
// is harmless. A user without a live subscription gets not found.
func (s *Store) CancelSubscriptionAtPeriodEnd(ctx context.Context, userID uuid.UUID, now time.Time) (sub Subscription, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		live, err := q.SubscriptionLiveOfUserForUpdate(ctx, userID)
		if IsNotFound(err) {
			return lokiz.Errorf(lokiz.ENOTFOUND, "you have no subscription to cancel")
		} else if err != nil {
			return err
		}
		sub, err = q.SubscriptionSetCanceling(ctx, SubscriptionSetCancelingParams{ID: live.ID, CanceledAt: &now})
		return translate(err, "subscription")
	})
	return sub, err
}

// ResumeSubscription undoes a cancellation at period end (Stripe reports
// cancel_at_period_end false again): a canceling subscription is active
// again and renews. Resuming an active subscription that is not set to end
// changes nothing; any other (past due and not canceling, expired) is a
// conflict.
func (s *Store) ResumeSubscription(ctx context.Context, subID uuid.UUID) (sub Subscription, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		locked, err := q.SubscriptionGetForUpdate(ctx, subID)
		if err != nil {
			return translate(err, "subscription")
		}
		sub = locked
		switch {
		case locked.Status == lokiz.SubActive && !locked.CancelAtPeriodEnd:
			return nil
		case locked.Status != lokiz.SubCanceling || !lokiz.SubCanMove(locked.Status, lokiz.SubActive):
			return lokiz.Errorf(lokiz.ECONFLICT, "the subscription is %s: it cannot be resumed", locked.Status)
		}
		sub, err = q.SubscriptionResume(ctx, subID)
		return translate(err, "subscription")
	})
	return sub, err
}

// MarkSubscriptionPastDue records a failed renewal: the subscription is
// past due (still charged again by the scheduler) and the tier stays until
// the paid period's end. Only an active or past-due subscription can be.
func (s *Store) MarkSubscriptionPastDue(ctx context.Context, subID uuid.UUID) (sub Subscription, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		locked, err := q.SubscriptionGetForUpdate(ctx, subID)
		if err != nil {
			return translate(err, "subscription")
		}
		if locked.Status != lokiz.SubPastDue && !lokiz.SubCanMove(locked.Status, lokiz.SubPastDue) {
			return lokiz.Errorf(lokiz.ECONFLICT, "the subscription is %s: it cannot become past due", locked.Status)
		}
		sub, err = q.SubscriptionSetPastDue(ctx, subID)
		return translate(err, "subscription")
	})
	return sub, err
}

// ExpireSubscriptions ends, up to limit at a time, the live subscriptions
// whose period ended at least grace before now and were not renewed
// (canceled at period end, past due, or simply unpaid), and drops their
// users back to the free tier, in one transaction. grace leaves a provider
// time to report a renewal made at the period's end; the tier itself
// already lapses at subscription_expires_at. It returns the subscriptions
// it expired; the caller repeats while it returns limit of them.
func (s *Store) ExpireSubscriptions(ctx context.Context, now time.Time, grace time.Duration, limit int32) (expired []Subscription, err error) {
	if limit <= 0 {
		return nil, errors.New("expire subscriptions: limit must be positive")
	}
	endedBy := now.Add(-grace)
	err = s.InTx(ctx, func(q *Queries) error {
		var err error
		expired, err = q.SubscriptionsExpireEnded(ctx, SubscriptionsExpireEndedParams{EndedBy: endedBy, ExpiredAt: &now, Lim: limit})
		if err != nil || len(expired) == 0 {
			return err
		}
		users := make([]uuid.UUID, len(expired))
		for i, sub := range expired {
			users[i] = sub.UserID
		}
		_, err = q.UsersDropEndedTier(ctx, UsersDropEndedTierParams{IDs: users, EndedBy: &endedBy})
		return err
	})
	if err != nil {
		return nil, err
	}
	return expired, nil
}

// EndSubscription ends a subscription at once (the provider deleted it: an
// immediate cancellation, a refund, unpaid renewals it gave up on): it is
// expired and its user is back on the free tier now, not at the period's
// end. Ending an expired subscription changes nothing.
func (s *Store) EndSubscription(ctx context.Context, subID uuid.UUID, now time.Time) (sub Subscription, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		locked, err := q.SubscriptionGetForUpdate(ctx, subID)
		if err != nil {
			return translate(err, "subscription")
		}
		sub = locked
		if !lokiz.SubLive(locked.Status) {
			return nil
		}
		if sub, err = q.SubscriptionEnd(ctx, SubscriptionEndParams{ID: subID, ExpiredAt: &now}); err != nil {
			return err
		}
		return q.UserDropTierNow(ctx, sub.UserID)
	})
	return sub, err
}
