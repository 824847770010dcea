// Package billing is the one-time purchase flow: an order is created and
// handed to its provider's checkout, webhooks are verified and recorded and
// wake the order's fulfilment, and fulfilment asks the provider for the
// real state of the payment before it grants, fails or claws back
// anything (DESIGN.md §3.5). The api and the worker call it; it knows
// nothing of HTTP servers or queues beyond tasks.Client.
//
// Money rules: credits are granted only by Settle, after the provider's
// Lookup says paid for the order's exact amount, through db.FulfillOrder
// (the order's ledger idempotency key), so duplicate, reordered or lost
// webhooks grant once; a refund claws back through db.RefundOrder (or, for
// a Stripe renewal, which has no order, db.RefundSubscriptionPeriod: see
// SettleStripeRefund), once, never below zero.
package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/tasks"
)

// Defaults of Config.
const (
	DefaultPendingAfter = 10 * time.Minute
	// DefaultAbandonAfter is how long an order may stay unpaid before the
	// reconciler cancels it (a Stripe session expires after 24 hours; a
	// Toss widget payment must be confirmed within minutes).
	DefaultAbandonAfter = 48 * time.Hour
	// reconcileBatch bounds one reconciler run.
	reconcileBatch = 500
)

// Config tunes the flow.
type Config struct {
	// CustomerKeySecret derives each user's unguessable provider customer
	// key (Toss customerKey). Required.
	CustomerKeySecret string
	// PendingAfter is how long an order may wait for its webhook before the
	// reconciler asks its provider (PAYMENTS_RECONCILE_AFTER).
	PendingAfter time.Duration
	// AbandonAfter is when an order the provider still reports unpaid (or
	// does not know) is canceled.
	AbandonAfter time.Duration
	// Now is the subscriptions' clock (periods, renewals, expiry);
	// time.Now when nil.
	Now func() time.Time
}

// Service is the purchase flow, and the entry point of the subscription
// flows (Subscriptions) over the same providers.
type Service struct {
	store     *db.Store
	tasks     *tasks.Client
	providers payments.Providers
	subs      *Subscriptions
	cfg       Config
	log       *slog.Logger
}

// New returns the flow over store, enqueuing through tc.
func New(store *db.Store, tc *tasks.Client, providers payments.Providers, cfg Config, log *slog.Logger) (*Service, error) {
	if store == nil || tc == nil || log == nil {
		return nil, errors.New("billing: a store, a tasks client and a logger are required")
	}
	if cfg.CustomerKeySecret == "" {
		return nil, errors.New("billing: CustomerKeySecret is required")
	}
	if cfg.PendingAfter <= 0 {
		cfg.PendingAfter = DefaultPendingAfter
	}
	if cfg.AbandonAfter <= 0 {
		cfg.AbandonAfter = DefaultAbandonAfter
	}
	subs := &Subscriptions{Store: store, Providers: providers, CustomerKeySecret: []byte(cfg.CustomerKeySecret), Now: cfg.Now}
	return &Service{store: store, tasks: tc, providers: providers, subs: subs, cfg: cfg, log: log.With("component", "billing")}, nil
}

// Providers are the configured providers.
func (s *Service) Providers() payments.Providers { return s.providers }

// Subscriptions are the subscription flows over the service's providers,
// store and customer key secret, built once with the service.
func (s *Service) Subscriptions() *Subscriptions { return s.subs }

// currencyOf is the currency each provider is sold in: Stripe in US
// dollars, Toss in won.
func currencyOf(provider string) string {
	if provider == payments.Toss {
		return lokiz.CurrencyKRW
	}
	return lokiz.CurrencyUSD
}

// provider returns the configured provider called name: an unknown name is
// invalid, a known one that is not configured is unavailable.
func (s *Service) provider(name string) (payments.Provider, error) {
	if name != payments.Stripe && name != payments.Toss {
		return nil, lokiz.Errorf(lokiz.EINVALID, "Unknown payment provider %q: use %q or %q", name, payments.Stripe, payments.Toss)
	}
	p, ok := s.providers.Get(name)
	if !ok {
		return nil, lokiz.Errorf(lokiz.EUNAVAILABLE, "Payments through %s are not configured on this server", name)
	}
	return p, nil
}

// CustomerKey is the user's customer key at the providers: an HMAC of the
// user id, stable and unguessable (Toss asks that it not be a user id).
func (s *Service) CustomerKey(userID uuid.UUID) string {
	return CustomerKey([]byte(s.cfg.CustomerKeySecret), userID)
}

// Buyer is who buys.
type Buyer struct {
	ID    uuid.UUID
	Email string
}

// Purchase is a created order and what its client needs to pay it.
type Purchase struct {
	Order       db.PaymentOrder
	OrderName   string
	Checkout    payments.Checkout
	CustomerKey string
}

// Purchase creates a pending order for a credit package and starts its
// payment at the provider. It grants nothing.
func (s *Service) Purchase(ctx context.Context, b Buyer, packageID, providerName string) (Purchase, error) {
	prov, err := s.provider(providerName)
	if err != nil {
		return Purchase{}, err
	}
	pkg, ok := lokiz.PackageByID(packageID)
	if !ok {
		return Purchase{}, lokiz.Errorf(lokiz.EINVALID, "Unknown credit package %q", packageID)
	}
	order, err := s.store.CreatePaymentOrder(ctx, db.NewPaymentOrder{
		UserID: b.ID, Kind: lokiz.OrderKindPackage, ItemID: pkg.ID, Provider: providerName, Currency: currencyOf(providerName),
	})
	if err != nil {
		return Purchase{}, err
	}
	key := s.CustomerKey(b.ID)
	co, err := prov.Checkout(ctx, payments.Order{
		ID: order.ID.String(), UserID: b.ID.String(), Kind: payments.KindPackage, ItemID: pkg.ID, Name: pkg.Name,
		Amount: order.Amount, Currency: order.Currency, CustomerKey: key, Email: b.Email,
	})
	if err != nil {
		s.log.ErrorContext(ctx, "checkout failed", "order_id", order.ID, "provider", providerName, "error", err)
		if _, cerr := s.store.CancelOrder(context.WithoutCancel(ctx), order.ID, "checkout could not be started"); cerr != nil {
			s.log.ErrorContext(ctx, "cancel order after a failed checkout", "order_id", order.ID, "error", cerr)
		}
		return Purchase{}, lokiz.Errorf(lokiz.EUNAVAILABLE, "The payment provider could not start the checkout; please try again")
	}
	if co.SessionID != "" {
		if order, err = s.store.SetOrderCheckoutSession(ctx, order.ID, co.SessionID); err != nil {
			return Purchase{}, err
		}
	}
	return Purchase{Order: order, OrderName: pkg.Name, Checkout: co, CustomerKey: key}, nil
}

// Order returns one of the caller's orders; another user's is not found.
func (s *Service) Order(ctx context.Context, userID, orderID uuid.UUID) (db.PaymentOrder, error) {
	o, err := s.store.PaymentOrderGet(ctx, orderID)
	if db.IsNotFound(err) || (err == nil && o.UserID != userID) {
		return db.PaymentOrder{}, lokiz.Errorf(lokiz.ENOTFOUND, "Order not found")
	}
	return o, err
}

// TossConfirm is what the Toss widget's success redirect carries.
type TossConfirm struct {
	PaymentKey string
	OrderID    uuid.UUID
	Amount     int64
}

// ConfirmToss confirms a Toss widget payment of one of the caller's orders
// at Toss (Idempotency-Key: the order id and the payment key), for the stored order's amount:
// another amount is refused before Toss is asked, and nothing is confirmed
// or granted. The paid order's fulfilment is enqueued; the worker grants.
func (s *Service) ConfirmToss(ctx context.Context, userID uuid.UUID, c TossConfirm) (db.PaymentOrder, error) {
	o, err := s.Order(ctx, userID, c.OrderID)
	if err != nil {
		return o, err
	}
	if o.Provider != payments.Toss {
		return o, lokiz.Errorf(lokiz.EINVALID, "The order is paid through %s, not Toss", o.Provider)
	}
	if c.Amount != o.Amount {
		return o, lokiz.Errorf(lokiz.EINVALID, "The amount %d does not match the order's amount %d", c.Amount, o.Amount)
	}
	if s.providers.Toss == nil {
		return o, lokiz.Errorf(lokiz.EUNAVAILABLE, "Payments through toss are not configured on this server")
	}
	switch {
	case o.Status == lokiz.OrderPending:
	case o.ProviderPaymentID != nil && *o.ProviderPaymentID == c.PaymentKey:
		return o, nil // confirmed before: the same answer
	default:
		return o, lokiz.Errorf(lokiz.ECONFLICT, "The order is %s", o.Status)
	}
	// The Idempotency-Key is the order's and the payment's: a retry of
	// this confirmation shares it, while a later payment of the same order
	// (after Toss refused one) is not answered with the refusal again.
	p, err := s.providers.Toss.Confirm(ctx, c.PaymentKey, o.ID.String(), o.Amount, o.ID.String()+":"+c.PaymentKey)
	var te *payments.TossError
	switch {
	case errors.Is(err, payments.ErrAmountMismatch):
		return o, lokiz.Errorf(lokiz.EINVALID, "The payment's amount does not match the order's; nothing was charged")
	case errors.Is(err, payments.ErrNotFound):
		return o, lokiz.Errorf(lokiz.EINVALID, "Toss does not know that payment for this order")
	case errors.As(err, &te) && te.Status >= 400 && te.Status < 500 && te.Status != 401 && te.Status != 403 && te.Status != 429:
		return o, lokiz.Errorf(lokiz.EINVALID, "Toss refused the payment: %s", te.Message)
	case err != nil:
		s.log.ErrorContext(ctx, "toss confirm failed", "order_id", o.ID, "error", err)
		return o, lokiz.Errorf(lokiz.EUNAVAILABLE, "Toss could not be reached; please retry the confirmation")
	}
	if p.State == payments.StatePaid || p.State == payments.StateRefunded {
		o2, _, err := s.store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: p.PaymentID, Amount: p.Amount, Currency: p.Currency})
		if err != nil {
			// The worker settles it from Toss's state either way.
			s.log.ErrorContext(ctx, "mark confirmed toss order paid", "order_id", o.ID, "error", err)
		} else {
			o = o2
		}
	}
	if err := s.tasks.Enqueue(ctx, tasks.NewPaymentFulfillTask(o.ID)); err != nil {
		// The reconciler picks up paid orders not yet fulfilled.
		s.log.ErrorContext(ctx, "enqueue fulfilment", "order_id", o.ID, "error", err)
	}
	return o, nil
}

// Webhook outcomes.
const (
	WebhookAccepted  = "accepted"  // the order's (or subscription's) settlement was enqueued
	WebhookDuplicate = "duplicate" // the event was recorded before: dropped
	WebhookIgnored   = "ignored"   // verified and recorded, but about nothing we sold
)

// StripeWebhook verifies a Stripe delivery (a forged, stale or altered
// one is invalid and records nothing), records its event id (a duplicate
// is dropped), and enqueues the settlement of the order or subscription it
// names.
func (s *Service) StripeWebhook(ctx context.Context, header map[string][]string, body []byte) (string, error) {
	st := s.providers.Stripe
	if st == nil {
		return "", lokiz.Errorf(lokiz.EUNAVAILABLE, "Stripe webhooks are not configured on this server")
	}
	ev, err := st.ParseStripeWebhook(header, body)
	switch {
	case errors.Is(err, payments.ErrBadSignature):
		return "", lokiz.Errorf(lokiz.EINVALID, "The Stripe-Signature does not verify")
	case errors.Is(err, payments.ErrStripeAPIVersion):
		s.log.WarnContext(ctx, "stripe event of another API version refused", "error", err)
		return "", lokiz.Errorf(lokiz.EINVALID, "The event's API version is not the one this server reads")
	case err != nil:
		return "", lokiz.Errorf(lokiz.EINVALID, "The Stripe event could not be read")
	}
	isNew, err := s.store.RecordPaymentEvent(ctx, payments.Stripe, ev.ID, ev.Type, time.Now())
	if err != nil {
		return "", err
	}
	if !isNew {
		return WebhookDuplicate, nil
	}
	if !ev.Handled {
		return WebhookIgnored, nil
	}
	return s.handled(ctx, payments.Stripe, ev.ID, func() (string, error) {
		// A subscription's events (its checkout, invoices, changes) wake its
		// sync; a package's wake the settlement of its order.
		p, ok, err := SubscriptionEvent(ctx, s.store, ev)
		if err != nil {
			return "", err
		}
		if ok {
			if err := s.tasks.Enqueue(ctx, tasks.NewSubscriptionSyncTaskFor(p)); err != nil {
				s.log.ErrorContext(ctx, "enqueue subscription sync", "event_id", ev.ID, "subscription", ev.SubscriptionID, "error", err)
				return "", lokiz.Errorf(lokiz.EUNAVAILABLE, "The event could not be queued")
			}
			return WebhookAccepted, nil
		}
		switch ev.Type {
		case payments.StripeInvoicePaid, payments.StripeInvoicePaymentFailed,
			payments.StripeSubscriptionUpdated, payments.StripeSubscriptionDeleted:
			s.log.WarnContext(ctx, "subscription event for an unknown subscription", "event_id", ev.ID,
				"event_type", ev.Type, "subscription", ev.SubscriptionID)
			return WebhookIgnored, nil
		}
		if ev.Type == payments.StripeChargeRefunded {
			return s.chargeRefundedEvent(ctx, ev)
		}
		return s.orderEvent(ctx, payments.Stripe, ev.Event)
	})
}

// chargeRefundedEvent wakes the settlement of a refunded Stripe charge: a
// package order the charge names is settled as any order event
// (payments:fulfill); any other charge, a subscription's (which names no
// order of ours), gets payments:charge_refunded (SettleStripeRefund).
func (s *Service) chargeRefundedEvent(ctx context.Context, ev payments.StripeEvent) (string, error) {
	o, err := s.findOrder(ctx, payments.Stripe, ev.Ref)
	switch {
	case err == nil && o.Kind == lokiz.OrderKindPackage:
		return s.orderEvent(ctx, payments.Stripe, ev.Event)
	case err != nil && lokiz.ErrorCode(err) != lokiz.ENOTFOUND:
		return "", err
	}
	if err := s.tasks.Enqueue(ctx, tasks.NewStripeChargeRefundedTask(ev.ChargeID)); err != nil {
		s.log.ErrorContext(ctx, "enqueue charge refund", "charge_id", ev.ChargeID, "event_id", ev.ID, "error", err)
		return "", lokiz.Errorf(lokiz.EUNAVAILABLE, "The event could not be queued")
	}
	return WebhookAccepted, nil
}

// SettleStripeRefund takes back what a refunded Stripe charge paid for
// (the payments:charge_refunded task). The webhook is only a hint: the
// charge is read back from Stripe, and nothing happens unless Stripe says
// it is refunded (amount_refunded above zero). A charge of a subscription
// invoice is followed to the invoice, its subscription and the period it
// paid for:
//   - the first period of a Stripe subscription was paid by our plan order
//     (its payment id is the invoice's): the order is refunded
//     (db.RefundOrder), as Settle refunds any order;
//   - any later period (a renewal invoice, which has no order of ours)
//     has that period's monthly credits taken back by
//     db.RefundSubscriptionPeriod.
//
// Either way the credits are taken back once per period, never below
// zero, in full even for a partial refund (as for a package), and the
// subscription is not ended. A charge of no invoice is a package's: its
// order is settled as payments:fulfill would. A provider error, or a
// subscription not recorded yet (its start is still being synced), is
// returned to be retried.
func (s *Service) SettleStripeRefund(ctx context.Context, chargeID string) error {
	st := s.providers.Stripe
	if st == nil {
		return errors.New("charge refund: stripe is not configured")
	}
	ch, err := st.Charge(ctx, chargeID)
	if errors.Is(err, payments.ErrNotFound) {
		return fmt.Errorf("stripe does not know charge %s: %w", chargeID, ErrPermanent)
	} else if err != nil {
		return fmt.Errorf("charge %s: %w", chargeID, err)
	}
	if ch.AmountRefunded <= 0 {
		s.log.WarnContext(ctx, "charge.refunded for a charge stripe reports not refunded", "charge_id", ch.ID)
		return nil
	}
	if ch.InvoiceID == "" {
		if ch.PaymentIntentID != "" {
			o, err := s.store.PaymentOrderByProviderPayment(ctx, db.PaymentOrderByProviderPaymentParams{Provider: payments.Stripe, ProviderPaymentID: &ch.PaymentIntentID})
			if err == nil {
				return s.Settle(ctx, o.ID)
			} else if !db.IsNotFound(err) {
				return err
			}
		}
		s.log.WarnContext(ctx, "refunded charge of nothing we sold", "charge_id", ch.ID, "payment_intent", ch.PaymentIntentID)
		return nil
	}
	inv, err := st.Invoice(ctx, ch.InvoiceID)
	if errors.Is(err, payments.ErrNotFound) {
		return fmt.Errorf("stripe does not know invoice %s: %w", ch.InvoiceID, ErrPermanent)
	} else if err != nil {
		return fmt.Errorf("invoice %s: %w", ch.InvoiceID, err)
	}
	if inv.SubscriptionID == "" {
		s.log.WarnContext(ctx, "refunded charge of an invoice of no subscription", "charge_id", ch.ID, "invoice_id", inv.ID)
		return nil
	}
	// The first period: paid by our plan order, whose payment is the invoice.
	o, err := s.store.PaymentOrderByProviderPayment(ctx, db.PaymentOrderByProviderPaymentParams{Provider: payments.Stripe, ProviderPaymentID: &inv.ID})
	if err == nil {
		if o.Kind != lokiz.OrderKindPlan {
			return fmt.Errorf("order %s paid by invoice %s is not a plan's: %w", o.ID, inv.ID, ErrPermanent)
		}
		return s.refund(ctx, o, payments.Payment{Refunded: ch.AmountRefunded})
	} else if !db.IsNotFound(err) {
		return err
	}
	sub, err := s.store.SubscriptionByProviderID(ctx, db.SubscriptionByProviderIDParams{Provider: payments.Stripe, ProviderSubscriptionID: inv.SubscriptionID})
	if db.IsNotFound(err) {
		if id, perr := uuid.Parse(inv.OrderID); perr == nil {
			if _, oerr := s.store.PaymentOrderGet(ctx, id); oerr == nil {
				// Ours, but its first invoice is not synced yet: retried.
				return fmt.Errorf("stripe subscription %s of order %s is not recorded yet", inv.SubscriptionID, id)
			}
		}
		s.log.WarnContext(ctx, "refunded charge of a subscription we do not know", "charge_id", ch.ID, "subscription", inv.SubscriptionID)
		return nil
	} else if err != nil {
		return err
	}
	ref, clawed, err := s.store.RefundSubscriptionPeriod(ctx, db.PeriodRefund{
		SubscriptionID: sub.ID, Start: inv.PeriodStart, End: inv.PeriodEnd, PaymentID: ch.ID, InvoiceID: inv.ID,
		Amount: ch.Amount, Refunded: ch.AmountRefunded, Currency: ch.Currency,
	})
	if err != nil {
		return permanent(err)
	}
	s.log.InfoContext(ctx, "subscription period refunded", "subscription_id", sub.ID, "invoice_id", inv.ID,
		"period_start", ref.PeriodStart, "refunded", ref.RefundedAmount, "credits_clawed_back", clawed)
	return nil
}

// handled runs handle for an event just recorded as new. When it fails (the
// settlement could not be enqueued, the database is away) the record is
// forgotten, so the provider's retry of the delivery is handled instead of
// being dropped as a duplicate: a refund's only webhook is never lost.
func (s *Service) handled(ctx context.Context, provider, eventID string, handle func() (string, error)) (string, error) {
	out, err := handle()
	if err != nil {
		if ferr := s.store.ForgetPaymentEvent(context.WithoutCancel(ctx), provider, eventID); ferr != nil {
			s.log.ErrorContext(ctx, "forget payment event", "provider", provider, "event_id", eventID, "error", ferr)
		}
	}
	return out, err
}

// TossWebhook checks a Toss delivery's token (header carries it, see
// payments.TossWebhookHeader), records its event id and enqueues the
// settlement of the order it names. Its body is only a hint.
func (s *Service) TossWebhook(ctx context.Context, header map[string][]string, body []byte) (string, error) {
	tc := s.providers.Toss
	if tc == nil {
		return "", lokiz.Errorf(lokiz.EUNAVAILABLE, "Toss webhooks are not configured on this server")
	}
	ev, err := tc.ParseWebhook(header, body)
	switch {
	case errors.Is(err, payments.ErrBadSignature):
		return "", lokiz.Errorf(lokiz.EINVALID, "The webhook token does not match")
	case err != nil:
		return "", lokiz.Errorf(lokiz.EINVALID, "The Toss event could not be read")
	}
	isNew, err := s.store.RecordPaymentEvent(ctx, payments.Toss, ev.ID, ev.Type, time.Now())
	if err != nil {
		return "", err
	}
	if !isNew {
		return WebhookDuplicate, nil
	}
	return s.handled(ctx, payments.Toss, ev.ID, func() (string, error) {
		if ev.Ref.OrderID == "" && ev.Ref.PaymentID == "" && ev.SubscriptionID != "" {
			// A billing-key event: Toss renewals are charged by our own
			// scheduler (subscriptions:renew), which reads the answer of its
			// charge; there is nothing for a webhook to wake.
			return WebhookIgnored, nil
		}
		return s.orderEvent(ctx, payments.Toss, ev)
	})
}

// DevCheckoutDecide records the person's choice on the development
// checkout's page and delivers the event Stripe would have sent through the
// same path as a webhook.
func (s *Service) DevCheckoutDecide(ctx context.Context, sessionID string, pay bool) (db.PaymentOrder, error) {
	dev := s.providers.Dev
	if dev == nil {
		return db.PaymentOrder{}, lokiz.Errorf(lokiz.ENOTFOUND, "Not found")
	}
	ev, err := dev.Decide(sessionID, pay)
	if errors.Is(err, payments.ErrNotFound) {
		return db.PaymentOrder{}, lokiz.Errorf(lokiz.ENOTFOUND, "Checkout session not found")
	}
	if err != nil {
		return db.PaymentOrder{}, err
	}
	// A package's order is Stripe's to the rest of the system; a plan's
	// is the development checkout's own (provider dev).
	provider := payments.Stripe
	if id, err := uuid.Parse(ev.Ref.OrderID); err == nil {
		if o, err := s.store.PaymentOrderGet(ctx, id); err == nil && o.Provider == payments.Dev {
			provider = payments.Dev
		}
	}
	isNew, err := s.store.RecordPaymentEvent(ctx, payments.Stripe, ev.ID, ev.Type, time.Now())
	if err != nil {
		return db.PaymentOrder{}, err
	}
	if isNew {
		if _, err := s.handled(ctx, payments.Stripe, ev.ID, func() (string, error) { return s.orderEvent(ctx, provider, ev) }); err != nil {
			return db.PaymentOrder{}, err
		}
	}
	return s.findOrder(ctx, provider, ev.Ref)
}

// findOrder finds the order an event names: by the checkout session, the
// payment, or our order id, always of provider.
func (s *Service) findOrder(ctx context.Context, provider string, r payments.Ref) (db.PaymentOrder, error) {
	if r.SessionID != "" {
		o, err := s.store.PaymentOrderByProviderSession(ctx, db.PaymentOrderByProviderSessionParams{Provider: provider, ProviderSessionID: &r.SessionID})
		if !db.IsNotFound(err) {
			return o, err
		}
	}
	if r.PaymentID != "" {
		o, err := s.store.PaymentOrderByProviderPayment(ctx, db.PaymentOrderByProviderPaymentParams{Provider: provider, ProviderPaymentID: &r.PaymentID})
		if !db.IsNotFound(err) {
			return o, err
		}
	}
	if id, err := uuid.Parse(r.OrderID); err == nil {
		o, err := s.store.PaymentOrderGet(ctx, id)
		if err == nil && o.Provider != provider {
			return db.PaymentOrder{}, lokiz.Errorf(lokiz.ENOTFOUND, "no order of %s named by the event", provider)
		}
		if !db.IsNotFound(err) {
			return o, err
		}
	}
	return db.PaymentOrder{}, lokiz.Errorf(lokiz.ENOTFOUND, "no order of %s named by the event", provider)
}

// orderEvent enqueues the fulfilment of the order ev names; an event about
// no order of ours is logged and ignored.
func (s *Service) orderEvent(ctx context.Context, provider string, ev payments.Event) (string, error) {
	o, err := s.findOrder(ctx, provider, ev.Ref)
	if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
		s.log.WarnContext(ctx, "payment event for an unknown order", "provider", provider, "event_id", ev.ID,
			"event_type", ev.Type, "order_ref", ev.Ref.OrderID, "session_id", ev.Ref.SessionID, "payment_id", ev.Ref.PaymentID)
		return WebhookIgnored, nil
	}
	if err != nil {
		return "", err
	}
	if err := s.tasks.Enqueue(ctx, tasks.NewPaymentFulfillTask(o.ID)); err != nil {
		// The caller forgets the recorded event (see handled), so the
		// provider's retry of it is handled.
		s.log.ErrorContext(ctx, "enqueue fulfilment", "order_id", o.ID, "event_id", ev.ID, "error", err)
		return "", lokiz.Errorf(lokiz.EUNAVAILABLE, "The event could not be queued")
	}
	return WebhookAccepted, nil
}

// ErrPermanent marks a Settle failure that retrying cannot mend (an amount
// that does not match, a state the order cannot move from); the worker
// archives the task at once. It is logged for a person to look at.
var ErrPermanent = errors.New("billing: permanent")

// Settle brings one order to the state its provider reports: a paid
// package is marked paid and its credits granted once; a failed or
// canceled payment ends the order; a refund claws the credits back (never
// below zero); a pending payment changes nothing (the reconciler comes
// back). A provider error is returned to be retried.
func (s *Service) Settle(ctx context.Context, orderID uuid.UUID) error {
	o, err := s.store.PaymentOrderGet(ctx, orderID)
	if db.IsNotFound(err) {
		return fmt.Errorf("order %s does not exist: %w", orderID, ErrPermanent)
	}
	if err != nil {
		return err
	}
	if o.Status == lokiz.OrderFailed || o.Status == lokiz.OrderCanceled {
		return nil
	}
	prov, ok := s.providers.Get(o.Provider)
	if !ok {
		return fmt.Errorf("order %s: provider %s is not configured", o.ID, o.Provider)
	}
	ref := payments.Ref{OrderID: o.ID.String()}
	if o.ProviderSessionID != nil {
		ref.SessionID = *o.ProviderSessionID
	}
	if o.ProviderPaymentID != nil {
		ref.PaymentID = *o.ProviderPaymentID
	}
	if o.Provider == payments.Stripe && ref.SessionID == "" && ref.PaymentID == "" {
		// The checkout never started: nothing can have been paid.
		return s.abandonIfOld(ctx, o)
	}
	p, err := prov.Lookup(ctx, ref)
	if errors.Is(err, payments.ErrNotFound) {
		return s.abandonIfOld(ctx, o)
	}
	if err != nil {
		return fmt.Errorf("order %s: lookup at %s: %w", o.ID, o.Provider, err)
	}
	if o.Kind == lokiz.OrderKindPlan {
		// A paid plan's order is marked fulfilled by the subscription flow
		// (Subscriptions.Sync, StartTossBilling, Renew) with the period it
		// pays. One that was never paid ends here like a package's, or the
		// reconciler would ask about it every few minutes for ever; a
		// refunded one takes back its period's credits like a package's.
		switch p.State {
		case payments.StatePaid:
			if o.Provider == payments.Dev && o.ProviderSessionID != nil && o.Status != lokiz.OrderRefunded {
				// The development checkout's page was the payment of a
				// first period (a renewal's order has no page: Renew
				// applies it): its settlement starts the subscription (a
				// Stripe plan's is its subscription:sync, a Toss plan's
				// StartTossBilling).
				_, err := s.subs.StartDevPlan(ctx, o, p)
				return permanent(err)
			}
		case payments.StateRefunded:
			if o.Status == lokiz.OrderPending {
				return nil // the subscription flow records it first (a renewal's retry reads it back)
			}
			return s.refund(ctx, o, p)
		case payments.StateFailed:
			_, err := s.store.FailOrder(ctx, o.ID, "the payment failed at "+o.Provider)
			return permanent(err)
		case payments.StateCanceled:
			_, err := s.store.CancelOrder(ctx, o.ID, "the payment was canceled at "+o.Provider)
			return permanent(err)
		case payments.StatePending:
			return s.abandonIfOld(ctx, o)
		}
		s.log.InfoContext(ctx, "plan order left to the subscription flow", "order_id", o.ID, "state", p.State)
		return nil
	}
	switch p.State {
	case payments.StatePaid:
		if o.Status == lokiz.OrderFulfilled || o.Status == lokiz.OrderRefunded {
			return nil // delivered (or taken back) before: a late or repeated hint
		}
		return s.fulfil(ctx, o, p)
	case payments.StateRefunded:
		if o.Status == lokiz.OrderPending {
			// Paid and refunded before we heard of it: recorded as paid,
			// then refunded, never fulfilled.
			if _, _, err := s.store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: p.PaymentID, Amount: p.Amount, Currency: p.Currency}); err != nil {
				return permanent(err)
			}
		}
		return s.refund(ctx, o, p)
	case payments.StateFailed:
		_, err := s.store.FailOrder(ctx, o.ID, "the payment failed at "+o.Provider)
		return permanent(err)
	case payments.StateCanceled:
		_, err := s.store.CancelOrder(ctx, o.ID, "the payment was canceled at "+o.Provider)
		return permanent(err)
	}
	return s.abandonIfOld(ctx, o)
}

// refund records a refund the provider reports for a paid order and takes
// the order's credits back (db.RefundOrder: once, never below zero).
func (s *Service) refund(ctx context.Context, o db.PaymentOrder, p payments.Payment) error {
	refunded := min(p.Refunded, o.Amount)
	if refunded <= 0 || (o.Status == lokiz.OrderRefunded && refunded <= o.RefundedAmount) {
		return nil
	}
	_, clawed, err := s.store.RefundOrder(ctx, o.ID, refunded)
	if err != nil {
		return permanent(err)
	}
	s.log.InfoContext(ctx, "order refunded", "order_id", o.ID, "kind", o.Kind, "refunded", refunded, "credits_clawed_back", clawed)
	return nil
}

func (s *Service) fulfil(ctx context.Context, o db.PaymentOrder, p payments.Payment) error {
	if _, _, err := s.store.MarkOrderPaid(ctx, o.ID, db.PaidPayment{PaymentID: p.PaymentID, Amount: p.Amount, Currency: p.Currency}); err != nil {
		s.log.ErrorContext(ctx, "paid order cannot be recorded", "order_id", o.ID, "paid", p.Amount, "currency", p.Currency,
			"order_amount", o.Amount, "error", err)
		return permanent(err)
	}
	fo, granted, err := s.store.FulfillOrder(ctx, o.ID)
	if err != nil {
		return permanent(err)
	}
	if granted {
		s.log.InfoContext(ctx, "order fulfilled", "order_id", o.ID, "user_id", o.UserID, "credits", fo.Credits)
	}
	return nil
}

// abandonIfOld cancels a pending order whose payment never happened once
// it is older than AbandonAfter.
func (s *Service) abandonIfOld(ctx context.Context, o db.PaymentOrder) error {
	if o.Status != lokiz.OrderPending || time.Since(o.CreatedAt) < s.cfg.AbandonAfter {
		return nil
	}
	_, err := s.store.CancelOrder(ctx, o.ID, "not paid within "+s.cfg.AbandonAfter.String())
	return permanent(err)
}

// permanent marks a business refusal (invalid, conflict) as permanent;
// other errors are returned as they are.
func permanent(err error) error {
	switch lokiz.ErrorCode(err) {
	case lokiz.EINVALID, lokiz.ECONFLICT, lokiz.ENOTFOUND:
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	return err
}

// Reconcile enqueues the settlement of every order still pending or paid
// PendingAfter after its creation: a lost webhook delays a purchase, never
// loses it. It answers how many it enqueued.
func (s *Service) Reconcile(ctx context.Context, now time.Time) (int, error) {
	orders, err := s.store.OrdersPendingBefore(ctx, db.OrdersPendingBeforeParams{Before: now.Add(-s.cfg.PendingAfter), Lim: reconcileBatch})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range orders {
		if err := s.tasks.Enqueue(ctx, tasks.NewPaymentFulfillTask(o.ID)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
