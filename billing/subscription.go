// Package billing holds the subscription flows that span the database, the
// payment providers and the task queue: subscribing (a Stripe subscription
// Checkout, a Toss billing key, or in development the development
// checkout), cancelling at period end, bringing a Stripe subscription to
// the state Stripe reports (subscription:sync), charging the Toss billing
// keys (and development checkout plans) we renew ourselves, one plan order
// per period (subscriptions:renew), expiring the subscriptions nobody
// renewed (subscriptions:expire), and ending a subscription at its provider
// when its account is erased.
//
// The api and the worker call it; it knows nothing of HTTP or of asynq.
// Every grant goes through db's subscription transactions, whose ledger
// key is per subscription and period, so a retried or duplicated call
// grants nothing twice.
package billing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/tasks"
)

// ExpireGrace is how long after a period's end an unrenewed subscription is
// marked expired (and its user's tier column dropped): time for a provider
// to report a renewal made at the period's end. The tier itself already
// lapses at subscription_expires_at (lokiz.ActiveTier).
const ExpireGrace = time.Hour

// expireBatch is how many subscriptions one ExpireSubscriptions call ends.
const expireBatch = 100

// renewBatch is how many due subscriptions one renewal run charges.
const renewBatch = 100

// Subscriptions runs the subscription flows.
type Subscriptions struct {
	Store     *db.Store
	Providers payments.Providers
	// CustomerKeySecret derives the Toss customer key of a user (see
	// CustomerKey); the api's secret key.
	CustomerKeySecret []byte
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (s *Subscriptions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// PaidPlan returns the paid plan called id: an unknown plan or the free one
// (which is never sold) is invalid.
func PaidPlan(id string) (lokiz.Plan, error) {
	p, ok := lokiz.PlanByID(id)
	if !ok {
		return lokiz.Plan{}, lokiz.Errorf(lokiz.EINVALID, "unknown plan %q", id)
	}
	if !p.Paid() {
		return lokiz.Plan{}, lokiz.Errorf(lokiz.EINVALID, "the %s plan is not sold: it is what you have without a subscription", p.Name)
	}
	return p, nil
}

// checkNotSubscribed refuses a user who already has a live subscription.
func (s *Subscriptions) checkNotSubscribed(ctx context.Context, userID uuid.UUID) error {
	_, err := s.Store.SubscriptionLiveOfUser(ctx, userID)
	switch {
	case err == nil:
		return lokiz.Errorf(lokiz.ECONFLICT, "you already have a subscription: cancel it first, or wait for it to end")
	case db.IsNotFound(err):
		return nil
	}
	return err
}

func unavailable(provider string) error {
	return lokiz.Errorf(lokiz.EUNAVAILABLE, "payments through %s are not configured", provider)
}

// StripeCheckout is what the client needs to subscribe through Stripe.
type StripeCheckout struct {
	Order       db.PaymentOrder
	CheckoutURL string
	SessionID   string
}

// SubscribeStripe creates a plan order and a Stripe Checkout Session in
// subscription mode for it. Nothing is granted: the first invoice's
// payment starts the subscription (Sync).
func (s *Subscriptions) SubscribeStripe(ctx context.Context, user db.User, planID, successURL, cancelURL string) (StripeCheckout, error) {
	plan, err := PaidPlan(planID)
	if err != nil {
		return StripeCheckout{}, err
	}
	if s.Providers.Stripe == nil {
		return StripeCheckout{}, unavailable(payments.Stripe)
	}
	if err := s.checkNotSubscribed(ctx, user.ID); err != nil {
		return StripeCheckout{}, err
	}
	order, err := s.Store.CreatePaymentOrder(ctx, db.NewPaymentOrder{
		UserID: user.ID, Kind: lokiz.OrderKindPlan, ItemID: plan.ID, Provider: payments.Stripe, Currency: lokiz.CurrencyUSD,
	})
	if err != nil {
		return StripeCheckout{}, err
	}
	co, err := s.Providers.Stripe.Checkout(ctx, payments.Order{
		ID: order.ID.String(), UserID: user.ID.String(), Kind: payments.KindPlan, ItemID: plan.ID,
		Name: plan.Name + " plan", Amount: order.Amount, Currency: order.Currency, Email: user.Email,
		SuccessURL: successURL, CancelURL: cancelURL,
	})
	if err != nil {
		return StripeCheckout{}, providerDown(payments.Stripe, err)
	}
	if order, err = s.Store.SetOrderCheckoutSession(ctx, order.ID, co.SessionID); err != nil {
		return StripeCheckout{}, err
	}
	return StripeCheckout{Order: order, CheckoutURL: co.URL, SessionID: co.SessionID}, nil
}

// SubscribeDev creates a plan order (provider dev, in US cents) and a
// development checkout session for it (`lokiz dev` without provider keys):
// the person pays on its page, and the order's settlement starts the
// subscription (StartDevPlan). Unavailable when the development checkout
// is not enabled.
func (s *Subscriptions) SubscribeDev(ctx context.Context, user db.User, planID string) (StripeCheckout, error) {
	plan, err := PaidPlan(planID)
	if err != nil {
		return StripeCheckout{}, err
	}
	dev := s.Providers.Dev
	if dev == nil {
		return StripeCheckout{}, unavailable(payments.Dev)
	}
	if err := s.checkNotSubscribed(ctx, user.ID); err != nil {
		return StripeCheckout{}, err
	}
	order, err := s.Store.CreatePaymentOrder(ctx, db.NewPaymentOrder{
		UserID: user.ID, Kind: lokiz.OrderKindPlan, ItemID: plan.ID, Provider: payments.Dev, Currency: lokiz.CurrencyUSD,
	})
	if err != nil {
		return StripeCheckout{}, err
	}
	co, err := dev.Checkout(ctx, payments.Order{
		ID: order.ID.String(), UserID: user.ID.String(), Kind: payments.KindPlan, ItemID: plan.ID,
		Name: plan.Name + " plan", Amount: order.Amount, Currency: order.Currency, Email: user.Email,
	})
	if err != nil {
		return StripeCheckout{}, err
	}
	if order, err = s.Store.SetOrderCheckoutSession(ctx, order.ID, co.SessionID); err != nil {
		return StripeCheckout{}, err
	}
	return StripeCheckout{Order: order, CheckoutURL: co.URL, SessionID: co.SessionID}, nil
}

// StartDevPlan starts the subscription a development checkout plan order
// paid for (p is the checkout's answer, paid): the order is marked paid and
// the subscription (provider dev) starts with a month from the payment, its
// credits granted once; a retry finds the same payment time and grants
// nothing more.
func (s *Subscriptions) StartDevPlan(ctx context.Context, order db.PaymentOrder, p payments.Payment) (db.Subscription, error) {
	if order.Kind != lokiz.OrderKindPlan || order.Provider != payments.Dev {
		return db.Subscription{}, lokiz.Errorf(lokiz.EINVALID, "order %s is not a development checkout plan order", order.ID)
	}
	paid, _, err := s.Store.MarkOrderPaid(ctx, order.ID, db.PaidPayment{PaymentID: p.PaymentID, Amount: p.Amount, Currency: p.Currency})
	if err != nil {
		return db.Subscription{}, err
	}
	if paid.PaidAt == nil {
		return db.Subscription{}, fmt.Errorf("order %s is paid without a payment time", order.ID)
	}
	start := paid.PaidAt.UTC().Truncate(time.Second)
	sub, _, err := s.Store.StartSubscription(ctx, db.NewSubscription{
		UserID: order.UserID, Plan: order.ItemID, Provider: payments.Dev, ProviderSubscriptionID: tossRef("devsub", order.ID),
		Period: db.Period{Start: start, End: monthAfter(start), OrderID: &order.ID},
	})
	return sub, err
}

// providerDown reports a provider call that failed for a reason of the
// provider's (network, 5xx, a refused key): 503 to the client, with the
// cause kept for the log.
func providerDown(provider string, err error) error {
	return &lokiz.Error{Code: lokiz.EUNAVAILABLE, Message: "the payment provider " + provider + " did not answer: try again later",
		Reason: "provider_error"}
}

// CustomerKey is the Toss customer key of a user: derived from the user id
// with a server secret, so it is stable (the billing widget and the
// billing-key call must name the same one), unguessable to others (Toss asks
// that it not be a public identifier), and checked without storing it.
func CustomerKey(secret []byte, userID uuid.UUID) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("toss-customer-key:" + userID.String()))
	return "ck_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:32]
}

// TossBillingStart is what the Toss billing widget needs.
type TossBillingStart struct {
	Plan        lokiz.Plan
	Amount      int64
	CustomerKey string
	ClientKey   string
}

// SubscribeToss checks that the user may subscribe to planID through Toss
// and answers what the billing widget needs; the widget's authKey then goes
// to StartTossBilling.
func (s *Subscriptions) SubscribeToss(ctx context.Context, user db.User, planID string) (TossBillingStart, error) {
	plan, err := PaidPlan(planID)
	if err != nil {
		return TossBillingStart{}, err
	}
	if s.Providers.Toss == nil {
		return TossBillingStart{}, unavailable(payments.Toss)
	}
	if err := s.checkNotSubscribed(ctx, user.ID); err != nil {
		return TossBillingStart{}, err
	}
	amount, ok := plan.Price(lokiz.CurrencyKRW)
	if !ok {
		return TossBillingStart{}, lokiz.Errorf(lokiz.EINVALID, "the %s plan is not sold in won", plan.Name)
	}
	key := CustomerKey(s.CustomerKeySecret, user.ID)
	co, err := s.Providers.Toss.Checkout(ctx, payments.Order{
		ID: tossRef("plan", user.ID), UserID: user.ID.String(), Kind: payments.KindPlan, ItemID: plan.ID,
		Name: plan.Name + " plan", Amount: amount, Currency: lokiz.CurrencyKRW, CustomerKey: key,
	})
	if err != nil {
		return TossBillingStart{}, err
	}
	return TossBillingStart{Plan: plan, Amount: amount, CustomerKey: key, ClientKey: co.ClientKey}, nil
}

// tossRef is a Toss-safe reference (6-64 of [A-Za-z0-9_-]) made of a
// prefix and an id.
func tossRef(prefix string, id uuid.UUID) string { return prefix + "-" + id.String() }

// monthAfter is the end of a monthly period that starts at start.
func monthAfter(start time.Time) time.Time { return start.AddDate(0, 1, 0) }

// StartTossBilling turns the billing widget's authKey into a billing key,
// charges the plan's first period with it and starts the subscription,
// granting the period's credits once. customerKey must be the user's own
// (CustomerKey). A declined card is 400 (reason card_declined) and starts
// nothing.
func (s *Subscriptions) StartTossBilling(ctx context.Context, user db.User, planID, authKey, customerKey string) (db.Subscription, error) {
	plan, err := PaidPlan(planID)
	if err != nil {
		return db.Subscription{}, err
	}
	toss := s.Providers.Toss
	if toss == nil {
		return db.Subscription{}, unavailable(payments.Toss)
	}
	if !hmac.Equal([]byte(customerKey), []byte(CustomerKey(s.CustomerKeySecret, user.ID))) {
		return db.Subscription{}, lokiz.Errorf(lokiz.EFORBIDDEN, "the customer key is not yours")
	}
	if err := s.checkNotSubscribed(ctx, user.ID); err != nil {
		return db.Subscription{}, err
	}
	order, err := s.Store.CreatePaymentOrder(ctx, db.NewPaymentOrder{
		UserID: user.ID, Kind: lokiz.OrderKindPlan, ItemID: plan.ID, Provider: payments.Toss, Currency: lokiz.CurrencyKRW,
	})
	if err != nil {
		return db.Subscription{}, err
	}
	bk, err := toss.IssueBillingKey(ctx, authKey, customerKey)
	if err != nil {
		_, _ = s.Store.FailOrder(ctx, order.ID, "billing key not issued")
		return db.Subscription{}, tossCallErr(err, "the card was not registered")
	}
	// The charge's orderId is the order's id, as for a package, so a
	// webhook about it (a refund) finds the order and Settle's lookup
	// matches; the subscription is named after the order.
	tossOrder := tossRef("plan", order.ID)
	paid, err := toss.ChargeBilling(ctx, bk.BillingKey, customerKey, order.Amount, order.ID.String(), plan.Name+" plan", order.ID.String())
	if err != nil {
		_, _ = s.Store.FailOrder(ctx, order.ID, "first charge refused")
		return db.Subscription{}, tossCallErr(err, "the card was declined")
	}
	if paid.State != payments.StatePaid {
		_, _ = s.Store.FailOrder(ctx, order.ID, "first charge "+paid.State)
		return db.Subscription{}, &lokiz.Error{Code: lokiz.EINVALID, Message: "the card was not charged (" + paid.State + ")", Reason: "card_declined"}
	}
	if _, _, err := s.Store.MarkOrderPaid(ctx, order.ID, db.PaidPayment{PaymentID: paid.PaymentID, Amount: paid.Amount, Currency: lokiz.CurrencyKRW}); err != nil {
		return db.Subscription{}, err
	}
	start := paid.PeriodStart
	if start.IsZero() {
		start = s.now()
	}
	start = start.UTC().Truncate(time.Second)
	billingKey, custKey := bk.BillingKey, customerKey
	sub, _, err := s.Store.StartSubscription(ctx, db.NewSubscription{
		UserID: user.ID, Plan: plan.ID, Provider: payments.Toss,
		ProviderSubscriptionID: tossOrder, BillingKey: &billingKey, CustomerKey: &custKey,
		Period: db.Period{Start: start, End: monthAfter(start), OrderID: &order.ID},
	})
	return sub, err
}

// tossCallErr maps a Toss error to the client: a refusal of the card or
// of the request (4xx) is 400 with reason card_declined and Toss's
// message; anything else means Toss is unreachable, 503.
func tossCallErr(err error, msg string) error {
	var te *payments.TossError
	if errors.As(err, &te) && te.Status >= 400 && te.Status < 500 && te.Status != 401 && te.Status != 429 {
		return &lokiz.Error{Code: lokiz.EINVALID, Message: msg + ": " + te.Message, Reason: "card_declined"}
	}
	return providerDown(payments.Toss, err)
}

// Cancel cancels the user's live subscription at its period's end: Stripe
// is told not to renew it (first, so a failure there changes nothing
// here); a Toss subscription is simply no longer charged. The tier stays
// until subscription_expires_at. A user without a live subscription gets
// not found; cancelling twice is harmless.
func (s *Subscriptions) Cancel(ctx context.Context, userID uuid.UUID) (db.Subscription, error) {
	live, err := s.Store.SubscriptionLiveOfUser(ctx, userID)
	if db.IsNotFound(err) {
		return db.Subscription{}, lokiz.Errorf(lokiz.ENOTFOUND, "you have no subscription to cancel")
	} else if err != nil {
		return db.Subscription{}, err
	}
	if live.Provider == payments.Stripe && !live.CancelAtPeriodEnd {
		if s.Providers.Stripe == nil {
			return db.Subscription{}, unavailable(payments.Stripe)
		}
		if _, err := s.Providers.Stripe.CancelAtPeriodEnd(ctx, live.ProviderSubscriptionID); err != nil {
			return db.Subscription{}, providerDown(payments.Stripe, err)
		}
	}
	return s.Store.CancelSubscriptionAtPeriodEnd(ctx, userID, s.now())
}

// EndForErasure ends the user's live subscription at once because the
// account is being erased, so no provider charges it again: a Stripe
// subscription is canceled at Stripe immediately, not at the period's end
// (first, so that a failure there leaves it live here and the erasure is
// retried); a Toss one we charge ourselves is expired, which the renewal
// scan skips, so its billing key is never used again. Nothing is refunded.
// A user without a live subscription, and a retry after Stripe already
// canceled it, are success.
func (s *Subscriptions) EndForErasure(ctx context.Context, userID uuid.UUID) error {
	live, err := s.Store.SubscriptionLiveOfUser(ctx, userID)
	if db.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if live.Provider == payments.Stripe {
		if s.Providers.Stripe == nil {
			return fmt.Errorf("stripe subscription %s cannot be canceled: stripe is not configured", live.ProviderSubscriptionID)
		}
		if _, err := s.Providers.Stripe.CancelNow(ctx, live.ProviderSubscriptionID, "account erased"); err != nil {
			return fmt.Errorf("cancel stripe subscription %s: %w", live.ProviderSubscriptionID, err)
		}
	}
	_, err = s.Store.EndSubscription(ctx, live.ID, s.now())
	return err
}

// SubscriptionEvent maps a verified Stripe webhook event about a
// subscription or its invoice (and the checkout session that created one)
// to the subscription:sync task that settles it: ok is false for an event
// that is not about a subscription, or about one we cannot tie to our
// records (no subscription of ours, no order in its metadata). The event is
// a hint only; the task reads the subscription and the invoice back from
// Stripe. Enqueue the answer with tasks.NewSubscriptionSyncTaskFor.
func SubscriptionEvent(ctx context.Context, store *db.Store, ev payments.StripeEvent) (p tasks.SubscriptionPayload, ok bool, err error) {
	if ev.SubscriptionID == "" || !ev.Handled {
		return p, false, nil
	}
	switch ev.Type {
	case payments.StripeInvoicePaid, payments.StripeInvoicePaymentFailed, payments.StripeCheckoutCompleted,
		payments.StripeAsyncPaymentSucceeded:
		p.InvoiceID = ev.InvoiceID
	case payments.StripeSubscriptionUpdated, payments.StripeSubscriptionDeleted, payments.StripeAsyncPaymentFailed:
	default:
		return p, false, nil
	}
	sub, err := store.SubscriptionByProviderID(ctx, db.SubscriptionByProviderIDParams{Provider: payments.Stripe, ProviderSubscriptionID: ev.SubscriptionID})
	switch {
	case err == nil:
		p.SubscriptionID = sub.ID
		return p, true, nil
	case !db.IsNotFound(err):
		return p, false, err
	}
	orderID, perr := uuid.Parse(ev.Ref.OrderID)
	if perr != nil {
		return p, false, nil
	}
	p.OrderID, p.ProviderSubscriptionID = orderID, ev.SubscriptionID
	return p, true, nil
}

// Sync brings one subscription to the state Stripe reports (the
// subscription:sync task): a paid invoice's period is applied (its
// credits granted once), a subscription Stripe reports past due is marked
// so, one cancelled at period end stops renewing, one whose cancellation
// was undone (cancel_at_period_end false again) is active again, one
// Stripe deleted ends now. For a subscription we have not recorded yet (its first invoice),
// p names the plan order and Stripe's subscription id: the order is marked
// paid and the subscription started with the invoice's period.
func (s *Subscriptions) Sync(ctx context.Context, p tasks.SubscriptionPayload) error {
	stripe := s.Providers.Stripe
	var sub db.Subscription
	var err error
	if p.SubscriptionID != uuid.Nil {
		if sub, err = s.Store.SubscriptionGet(ctx, p.SubscriptionID); err != nil {
			return permanentIfNotFound(err, "subscription")
		}
		if sub.Provider != payments.Stripe {
			return nil // Toss subscriptions are charged by us (Renew): nothing to read back
		}
	} else {
		sub, err = s.Store.SubscriptionByProviderID(ctx, db.SubscriptionByProviderIDParams{Provider: payments.Stripe, ProviderSubscriptionID: p.ProviderSubscriptionID})
		if err != nil && !db.IsNotFound(err) {
			return err
		}
	}
	if stripe == nil {
		return errors.New("subscription sync: stripe is not configured")
	}
	providerID := sub.ProviderSubscriptionID
	if providerID == "" {
		providerID = p.ProviderSubscriptionID
	}
	ss, err := stripe.Subscription(ctx, providerID)
	if errors.Is(err, payments.ErrNotFound) {
		if sub.ID == uuid.Nil {
			return Permanent(fmt.Errorf("stripe does not know subscription %s", providerID))
		}
		_, err = s.Store.EndSubscription(ctx, sub.ID, s.now())
		return err
	} else if err != nil {
		return err
	}
	if sub.ID == uuid.Nil {
		if sub, err = s.startStripe(ctx, p, ss); err != nil || sub.ID == uuid.Nil {
			return err
		}
	} else if p.InvoiceID != "" {
		if err := s.applyInvoice(ctx, sub, p.InvoiceID); err != nil {
			return err
		}
	}
	return s.applyStripeState(ctx, sub, ss)
}

// startStripe starts a subscription from its first paid invoice; a zero
// subscription (and no error) when the invoice is not paid yet.
func (s *Subscriptions) startStripe(ctx context.Context, p tasks.SubscriptionPayload, ss payments.StripeSubscription) (db.Subscription, error) {
	if ss.OrderID != p.OrderID.String() {
		return db.Subscription{}, Permanent(fmt.Errorf("stripe subscription %s belongs to order %q, not %s", ss.ID, ss.OrderID, p.OrderID))
	}
	order, err := s.Store.PaymentOrderGet(ctx, p.OrderID)
	if err != nil {
		return db.Subscription{}, permanentIfNotFound(err, "order")
	}
	if order.Kind != lokiz.OrderKindPlan || order.Provider != payments.Stripe || order.UserID.String() != ss.UserID || order.ItemID != ss.PlanID {
		return db.Subscription{}, Permanent(fmt.Errorf("order %s is not the plan order of stripe subscription %s", order.ID, ss.ID))
	}
	invoiceID := p.InvoiceID
	if invoiceID == "" {
		invoiceID = ss.LatestInvoiceID
	}
	if invoiceID == "" {
		return db.Subscription{}, nil
	}
	inv, err := s.Providers.Stripe.Invoice(ctx, invoiceID)
	if err != nil {
		return db.Subscription{}, err
	}
	if inv.SubscriptionID != ss.ID {
		return db.Subscription{}, Permanent(fmt.Errorf("invoice %s is not of subscription %s", inv.ID, ss.ID))
	}
	if !inv.Paid {
		return db.Subscription{}, nil // its invoice.paid comes later
	}
	if _, _, err := s.Store.MarkOrderPaid(ctx, order.ID, db.PaidPayment{PaymentID: inv.ID, Amount: inv.AmountPaid, Currency: inv.Currency}); err != nil {
		return db.Subscription{}, err
	}
	sub, _, err := s.Store.StartSubscription(ctx, db.NewSubscription{
		UserID: order.UserID, Plan: order.ItemID, Provider: payments.Stripe, ProviderSubscriptionID: ss.ID,
		Period: db.Period{Start: inv.PeriodStart, End: inv.PeriodEnd, OrderID: &order.ID},
	})
	return sub, err
}

// applyInvoice applies the period a paid invoice of sub pays for.
func (s *Subscriptions) applyInvoice(ctx context.Context, sub db.Subscription, invoiceID string) error {
	inv, err := s.Providers.Stripe.Invoice(ctx, invoiceID)
	if errors.Is(err, payments.ErrNotFound) {
		return Permanent(err)
	} else if err != nil {
		return err
	}
	if inv.SubscriptionID != sub.ProviderSubscriptionID {
		return Permanent(fmt.Errorf("invoice %s is not of subscription %s", inv.ID, sub.ProviderSubscriptionID))
	}
	if !inv.Paid {
		return nil // a failed payment: the subscription's status tells past_due
	}
	_, _, err = s.Store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, db.Period{Start: inv.PeriodStart, End: inv.PeriodEnd})
	return err
}

// applyStripeState moves sub to what Stripe's subscription says.
func (s *Subscriptions) applyStripeState(ctx context.Context, sub db.Subscription, ss payments.StripeSubscription) error {
	switch {
	case ss.Status == "canceled" || ss.Status == "incomplete_expired" || !ss.EndedAt.IsZero():
		_, err := s.Store.EndSubscription(ctx, sub.ID, s.now())
		return err
	case !lokiz.SubLive(sub.Status):
		return nil
	case ss.CancelAtPeriodEnd && !sub.CancelAtPeriodEnd:
		_, err := s.Store.CancelSubscriptionAtPeriodEnd(ctx, sub.UserID, s.now())
		return err
	case !ss.CancelAtPeriodEnd && sub.Status == lokiz.SubCanceling:
		// Resumed at Stripe (the subscriber undid the cancellation before
		// the period ended): it renews again.
		resumed, err := s.Store.ResumeSubscription(ctx, sub.ID)
		if err != nil || (ss.Status != "past_due" && ss.Status != "unpaid") {
			return err
		}
		_, err = s.Store.MarkSubscriptionPastDue(ctx, resumed.ID)
		return err
	case (ss.Status == "past_due" || ss.Status == "unpaid") && sub.Status == lokiz.SubActive:
		_, err := s.Store.MarkSubscriptionPastDue(ctx, sub.ID)
		return err
	}
	return nil
}

// RenewResult counts what one renewal run did.
type RenewResult struct {
	Renewed, Declined, Failed int
}

// Renew charges the Toss subscriptions whose period has ended (the
// subscriptions:renew task). Each charge is a plan order (payment_orders,
// kind plan, provider toss) created before the card is charged, with an id
// derived from the subscription and the period it pays for
// (RenewalOrderID): the order's id is Toss's orderId and the charge's
// Idempotency-Key, so two runs at once, or a run retried after Toss's
// answer was lost, charge the card once. The paid order then applies the
// period (its credits granted once) and is fulfilled with it, and a refund
// of it at Toss takes that period's credits back (Service.Settle). A
// declined card fails the order and makes the subscription past due (the
// tier stays until the paid period's end, when subscriptions:expire ends
// it). Other failures are left for the next run.
func (s *Subscriptions) Renew(ctx context.Context) (RenewResult, error) {
	var res RenewResult
	if s.Providers.Toss == nil && s.Providers.Dev == nil {
		return res, nil
	}
	now := s.now()
	due, err := s.Store.SubscriptionsDueForRenewal(ctx, db.SubscriptionsDueForRenewalParams{Before: now, Lim: renewBatch})
	if err != nil {
		return res, err
	}
	var errs []error
	for _, sub := range due {
		switch err := s.renewOne(ctx, sub, now); {
		case err == nil:
			res.Renewed++
		case errors.Is(err, errDeclined):
			res.Declined++
		default:
			res.Failed++
			errs = append(errs, fmt.Errorf("renew subscription %s: %w", sub.ID, err))
		}
	}
	return res, errors.Join(errs...)
}

var errDeclined = errors.New("the card was declined")

// renewalNamespace names the UUIDs of renewal orders (RenewalOrderID).
var renewalNamespace = uuid.MustParse("5d0f5a52-0b8e-4c47-9d5e-7c1b2f6a9e31")

// RenewalOrderID is the id of the plan order that charges subscription
// sub's period starting at periodStart, at attempt (0 for the first
// charge of the period; a past-due subscription's later attempts count
// the days since the period started). The same subscription, period and
// attempt always give the same id, so a retried renewal finds its order
// instead of charging again.
func RenewalOrderID(sub uuid.UUID, periodStart time.Time, attempt int) uuid.UUID {
	return uuid.NewSHA1(renewalNamespace, []byte(sub.String()+":"+strconv.FormatInt(periodStart.Unix(), 10)+":"+strconv.Itoa(attempt)))
}

// renewalCharge charges a renewal order at the subscription's provider.
type renewalCharge func(ctx context.Context, order db.PaymentOrder, name string) (payments.Payment, error)

// charger is how sub's renewals are charged, in which currency.
func (s *Subscriptions) charger(sub db.Subscription) (renewalCharge, string, error) {
	switch {
	case sub.Provider == payments.Toss && s.Providers.Toss != nil:
		if sub.BillingKey == nil || sub.CustomerKey == nil {
			return nil, "", errors.New("the billing key is missing")
		}
		toss, bk, ck := s.Providers.Toss, *sub.BillingKey, *sub.CustomerKey
		return func(ctx context.Context, o db.PaymentOrder, name string) (payments.Payment, error) {
			return toss.ChargeBilling(ctx, bk, ck, o.Amount, o.ID.String(), name, o.ID.String())
		}, lokiz.CurrencyKRW, nil
	case sub.Provider == payments.Dev && s.Providers.Dev != nil:
		dev := s.Providers.Dev
		return func(ctx context.Context, o db.PaymentOrder, name string) (payments.Payment, error) {
			return dev.ChargeRenewal(ctx, payments.Order{ID: o.ID.String(), UserID: o.UserID.String(), Kind: payments.KindPlan,
				ItemID: o.ItemID, Name: name, Amount: o.Amount, Currency: o.Currency})
		}, lokiz.CurrencyUSD, nil
	}
	return nil, "", fmt.Errorf("provider %s is not configured", sub.Provider)
}

func (s *Subscriptions) renewOne(ctx context.Context, sub db.Subscription, now time.Time) error {
	plan, ok := lokiz.PlanByID(sub.Plan)
	charge, currency, err := s.charger(sub)
	if err != nil {
		return err
	}
	if _, priced := plan.Price(currency); !ok || !priced {
		return fmt.Errorf("plan %q is not sold in %s", sub.Plan, currency)
	}
	start := sub.CurrentPeriodEnd.UTC()
	period := db.Period{Start: start, End: monthAfter(start)}
	// One charge per subscription and period; a past-due one is tried
	// again once a day (a new order each day: Toss answers an orderId and
	// an Idempotency-Key it has seen with its first answer).
	attempt := 0
	if sub.Status == lokiz.SubPastDue {
		attempt = int(now.Sub(start)/(24*time.Hour)) + 1
	}
	order, err := s.Store.CreatePaymentOrder(ctx, db.NewPaymentOrder{
		ID: RenewalOrderID(sub.ID, start, attempt), UserID: sub.UserID, Kind: lokiz.OrderKindPlan, ItemID: sub.Plan,
		Provider: sub.Provider, Currency: currency,
	})
	if err != nil {
		return err
	}
	switch order.Status {
	case lokiz.OrderPaid, lokiz.OrderFulfilled:
		// Charged before (a run that stopped after Toss's answer): apply
		// the period, which fulfils the order, without charging again.
		period.OrderID = &order.ID
		_, _, err = s.Store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, period)
		return err
	case lokiz.OrderFailed, lokiz.OrderCanceled:
		return fmt.Errorf("%w: the order of this attempt is %s", errDeclined, order.Status)
	case lokiz.OrderRefunded:
		return nil // paid and refunded before it was applied: nothing to grant
	}
	paid, err := charge(ctx, order, plan.Name+" plan")
	var te *payments.TossError
	if err == nil && paid.State != payments.StatePaid {
		err = fmt.Errorf("the charge is %s", paid.State)
		te = &payments.TossError{Status: 400}
	}
	if err != nil {
		if te != nil || (errors.As(err, &te) && te.Status >= 400 && te.Status < 500 && te.Status != 401 && te.Status != 429) {
			if _, ferr := s.Store.FailOrder(ctx, order.ID, "renewal declined: "+err.Error()); ferr != nil {
				return ferr
			}
			if sub.Status != lokiz.SubPastDue {
				if _, perr := s.Store.MarkSubscriptionPastDue(ctx, sub.ID); perr != nil {
					return perr
				}
			}
			return fmt.Errorf("%w: %w", errDeclined, err)
		}
		return err
	}
	if _, _, err := s.Store.MarkOrderPaid(ctx, order.ID, db.PaidPayment{PaymentID: paid.PaymentID, Amount: paid.Amount, Currency: currency}); err != nil {
		return err
	}
	period.OrderID = &order.ID
	_, _, err = s.Store.StartOrRenewSubscriptionPeriod(ctx, sub.ID, period)
	return err
}

// Expire ends the subscriptions whose period ended ExpireGrace ago without a
// renewal, and drops their users to the free tier (subscriptions:expire).
func (s *Subscriptions) Expire(ctx context.Context) (int, error) {
	total := 0
	for {
		ended, err := s.Store.ExpireSubscriptions(ctx, s.now(), ExpireGrace, expireBatch)
		total += len(ended)
		if err != nil || len(ended) < expireBatch {
			return total, err
		}
	}
}

// PermanentError is a sync that can never succeed (the task should not be
// retried): a subscription or invoice that is not ours.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError.
func Permanent(err error) error { return &PermanentError{Err: err} }

func permanentIfNotFound(err error, what string) error {
	if db.IsNotFound(err) {
		return Permanent(fmt.Errorf("%s: %w", what, err))
	}
	return err
}
