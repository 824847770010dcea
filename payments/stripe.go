package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// The Stripe event types the adapter maps to a Ref. Any other type is still
// verified and returned (ID, Type, Created) but with an empty Ref:
// StripeEventHandled says whether the caller should act on it; the webhook
// route records such an event, answers 200 and enqueues nothing.
const (
	StripeCheckoutCompleted     = "checkout.session.completed"
	StripeAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded"
	StripeAsyncPaymentFailed    = "checkout.session.async_payment_failed"
	StripeInvoicePaid           = "invoice.paid"
	StripeInvoicePaymentFailed  = "invoice.payment_failed"
	StripeSubscriptionUpdated   = "customer.subscription.updated"
	StripeSubscriptionDeleted   = "customer.subscription.deleted"
	StripeChargeRefunded        = "charge.refunded"
)

// StripeEventHandled reports whether an event type is one the adapter maps
// to a payment, an invoice or a subscription.
func StripeEventHandled(eventType string) bool {
	switch eventType {
	case StripeCheckoutCompleted, StripeAsyncPaymentSucceeded, StripeAsyncPaymentFailed,
		StripeInvoicePaid, StripeInvoicePaymentFailed,
		StripeSubscriptionUpdated, StripeSubscriptionDeleted,
		StripeChargeRefunded:
		return true
	}
	return false
}

// StripeAPIBase is Stripe's API root, the default StripeConfig.APIBase.
const StripeAPIBase = stripe.APIURL

// Metadata keys the adapter writes on Checkout Sessions, PaymentIntents and
// subscriptions, and reads back from webhook objects.
const (
	stripeMetaOrderID     = "order_id"
	stripeMetaKind        = "kind"
	stripeMetaItem        = "item"
	stripeMetaUserID      = "user_id"
	stripeMetaCustomerKey = "customer_key"
)

// ErrStripeAPIVersion is a correctly signed event rendered in another Stripe
// API release train than the one stripe-go v82 decodes (see ParseWebhook).
var ErrStripeAPIVersion = errors.New("payments: stripe event has another API version")

// StripeConfig configures the Stripe provider.
type StripeConfig struct {
	// SecretKey is the account's secret (sk_…) or restricted (rk_…) key.
	SecretKey string
	// WebhookSecret is the signing secret (whsec_…) of the webhook endpoint.
	WebhookSecret string
	// APIBase is the root the client talks to; StripeAPIBase when empty.
	// It must be https, or http on a loopback address (stripe-mock in tests).
	APIBase string
	// SuccessURL and CancelURL are used when an Order has none. Stripe
	// replaces {CHECKOUT_SESSION_ID} in the success URL with the session id.
	SuccessURL string
	CancelURL  string
	// Locale is the hosted checkout's language ("ko", "en", "auto"…);
	// Stripe's default ("auto", the browser's) when empty. Stripe refuses a
	// value outside its list, and so does stripe-mock.
	Locale string
	// HTTPClient is the client stripe-go uses; a client with a 30 s timeout
	// when nil.
	HTTPClient *http.Client
	// WebhookTolerance is how old a signature may be; webhook.DefaultTolerance
	// (300 s) when zero.
	WebhookTolerance time.Duration
}

// StripeProvider is the Stripe adapter: Checkout Sessions through
// stripe-go's v82 Client, webhook verification through its webhook package.
type StripeProvider struct {
	client    *stripe.Client
	cfg       StripeConfig
	tolerance time.Duration
}

var _ Provider = (*StripeProvider)(nil)

// CheckAPIBase is the outbound allow-list of a provider's API root: https
// anywhere, plain http only to a loopback address (a local mock in tests and
// development). No credentials, query or fragment in the URL.
func CheckAPIBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("payments: API base %q: %w", raw, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("payments: API base %q must be a bare scheme://host[:port][/path]", raw)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("payments: API base %q must be https (plain http only to a loopback address)", raw)
	}
	return nil, fmt.Errorf("payments: API base %q must be https", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewStripe checks the configuration and builds the provider.
func NewStripe(cfg StripeConfig) (*StripeProvider, error) {
	if !strings.HasPrefix(cfg.SecretKey, "sk_") && !strings.HasPrefix(cfg.SecretKey, "rk_") {
		return nil, errors.New("payments: the Stripe secret key must be a secret (sk_…) or restricted (rk_…) key")
	}
	if cfg.WebhookSecret == "" {
		return nil, errors.New("payments: the Stripe webhook signing secret is required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = StripeAPIBase
	}
	base, err := CheckAPIBase(cfg.APIBase)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	tolerance := cfg.WebhookTolerance
	if tolerance <= 0 {
		tolerance = webhook.DefaultTolerance
	}
	// stripe-go appends "/v1/…" to the backend URL.
	apiURL := strings.TrimRight(base.String(), "/")
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:        stripe.String(apiURL),
		HTTPClient: cfg.HTTPClient,
		// Errors are returned to the caller, who logs them with the order;
		// the library's own logger would print them a second time.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	client := stripe.NewClient(cfg.SecretKey, stripe.WithBackends(&stripe.Backends{
		API:         backend,
		Connect:     backend,
		Uploads:     backend,
		MeterEvents: backend,
	}))
	return &StripeProvider{client: client, cfg: cfg, tolerance: tolerance}, nil
}

// Name is "stripe".
func (s *StripeProvider) Name() string { return Stripe }

// Checkout creates a hosted Checkout Session: payment mode for a package,
// subscription mode (a monthly recurring price) for a plan. The price is
// inline (price_data) so the catalogue lives in our configuration, not in
// the Stripe dashboard. The order id travels as client_reference_id and in
// the metadata of the session and of the PaymentIntent or subscription it
// creates, so every later webhook object names the order. The request's
// idempotency key is derived from the order, so a retried create returns
// the same session instead of a second one.
func (s *StripeProvider) Checkout(ctx context.Context, o Order) (Checkout, error) {
	if err := checkStripeOrder(o); err != nil {
		return Checkout{}, err
	}
	success := o.SuccessURL
	if success == "" {
		success = s.cfg.SuccessURL
	}
	cancel := o.CancelURL
	if cancel == "" {
		cancel = s.cfg.CancelURL
	}
	if success == "" || cancel == "" {
		return Checkout{}, errors.New("payments: stripe checkout needs a success and a cancel URL")
	}
	meta := map[string]string{
		stripeMetaOrderID: o.ID,
		stripeMetaKind:    o.Kind,
		stripeMetaItem:    o.ItemID,
	}
	if o.UserID != "" {
		meta[stripeMetaUserID] = o.UserID
	}
	if o.CustomerKey != "" {
		meta[stripeMetaCustomerKey] = o.CustomerKey
	}
	price := &stripe.CheckoutSessionCreateLineItemPriceDataParams{
		Currency:    stripe.String(o.Currency),
		UnitAmount:  stripe.Int64(o.Amount),
		ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(o.Name)},
	}
	params := &stripe.CheckoutSessionCreateParams{
		ClientReferenceID: stripe.String(o.ID),
		SuccessURL:        stripe.String(success),
		CancelURL:         stripe.String(cancel),
		Metadata:          meta,
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			PriceData: price,
			Quantity:  stripe.Int64(1),
		}},
	}
	if s.cfg.Locale != "" {
		params.Locale = stripe.String(s.cfg.Locale)
	}
	if o.Email != "" {
		params.CustomerEmail = stripe.String(o.Email)
	}
	switch o.Kind {
	case KindPackage:
		params.Mode = stripe.String(string(stripe.CheckoutSessionModePayment))
		params.PaymentIntentData = &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: copyMeta(meta)}
	case KindPlan:
		params.Mode = stripe.String(string(stripe.CheckoutSessionModeSubscription))
		price.Recurring = &stripe.CheckoutSessionCreateLineItemPriceDataRecurringParams{
			Interval:      stripe.String(string(stripe.PriceRecurringIntervalMonth)),
			IntervalCount: stripe.Int64(1),
		}
		params.SubscriptionData = &stripe.CheckoutSessionCreateSubscriptionDataParams{Metadata: copyMeta(meta)}
	}
	params.SetIdempotencyKey("checkout-" + o.ID)
	sess, err := s.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return Checkout{}, stripeErr("create checkout session", err)
	}
	return Checkout{SessionID: sess.ID, URL: sess.URL}, nil
}

func checkStripeOrder(o Order) error {
	switch {
	case o.ID == "":
		return errors.New("payments: order without an id")
	case o.Kind != KindPackage && o.Kind != KindPlan:
		return fmt.Errorf("payments: order kind %q is neither %q nor %q", o.Kind, KindPackage, KindPlan)
	case o.ItemID == "" || o.Name == "":
		return errors.New("payments: order without an item id or a name")
	case o.Amount <= 0:
		return fmt.Errorf("payments: order amount %d is not positive", o.Amount)
	case len(o.Currency) != 3 || strings.ToLower(o.Currency) != o.Currency:
		return fmt.Errorf("payments: currency %q is not a lower-case ISO 4217 code", o.Currency)
	}
	return nil
}

func copyMeta(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// stripeErr wraps a stripe-go error; a missing object is ErrNotFound.
func stripeErr(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && (se.HTTPStatusCode == http.StatusNotFound || se.Code == stripe.ErrorCodeResourceMissing) {
		return fmt.Errorf("payments: stripe %s: %w: %s", op, ErrNotFound, se.Msg)
	}
	return fmt.Errorf("payments: stripe %s: %w", op, err)
}

// Lookup asks Stripe for the real state of a payment. With a SessionID it
// reads the Checkout Session (its PaymentIntent and latest charge, or its
// subscription, expanded); with only a PaymentID (charge.refunded names the
// PaymentIntent) it reads the PaymentIntent and its latest charge. Stripe
// cannot find a session by our order id, so OrderID alone is not enough:
// the caller stores the session id it got from Checkout.
//
// States: paid only when the session's payment_status is "paid" (or the
// PaymentIntent succeeded); refunded, with Refunded set, once the charge
// shows amount_refunded; failed when the session expired unpaid or a
// delayed payment failed; canceled when the PaymentIntent was canceled;
// pending otherwise (open, processing, or "no_payment_required", which our
// sessions never are: every line has a positive price).
func (s *StripeProvider) Lookup(ctx context.Context, r Ref) (Payment, error) {
	switch {
	case r.SessionID != "":
		return s.lookupSession(ctx, r.SessionID)
	case r.PaymentID != "":
		return s.lookupPaymentIntent(ctx, r.PaymentID)
	}
	return Payment{}, errors.New("payments: a stripe lookup needs the session id or the PaymentIntent id")
}

func (s *StripeProvider) lookupSession(ctx context.Context, id string) (Payment, error) {
	params := &stripe.CheckoutSessionRetrieveParams{}
	params.AddExpand("payment_intent.latest_charge")
	params.AddExpand("subscription")
	sess, err := s.client.V1CheckoutSessions.Retrieve(ctx, id, params)
	if err != nil {
		return Payment{}, stripeErr("retrieve checkout session", err)
	}
	p := Payment{
		State:    StatePending,
		Amount:   sess.AmountTotal,
		Currency: string(sess.Currency),
	}
	pi := sess.PaymentIntent
	if pi != nil {
		p.PaymentID = pi.ID
	}
	// Only a subscription-mode session has a subscription (a payment-mode
	// one answers null); the mode is checked so nothing else is taken for a
	// plan's period.
	if sub := sess.Subscription; sub != nil && sess.Mode == stripe.CheckoutSessionModeSubscription {
		p.SubscriptionID = sub.ID
		p.PeriodStart, p.PeriodEnd = subscriptionPeriod(sub)
	}
	switch {
	case sess.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid:
		p.State = StatePaid
		if pi != nil && pi.LatestCharge != nil && pi.LatestCharge.AmountRefunded > 0 {
			p.State = StateRefunded
			p.Refunded = pi.LatestCharge.AmountRefunded
		}
	case sess.Status == stripe.CheckoutSessionStatusExpired:
		p.State = StateFailed
	case pi != nil && pi.Status == stripe.PaymentIntentStatusCanceled:
		p.State = StateCanceled
	case sess.Status == stripe.CheckoutSessionStatusComplete && pi != nil &&
		pi.Status == stripe.PaymentIntentStatusRequiresPaymentMethod:
		// A completed session whose delayed payment (bank debit…) failed:
		// checkout.session.async_payment_failed; the intent wants another
		// payment method the payer will never give through this session.
		p.State = StateFailed
	}
	return p, nil
}

func (s *StripeProvider) lookupPaymentIntent(ctx context.Context, id string) (Payment, error) {
	params := &stripe.PaymentIntentRetrieveParams{}
	params.AddExpand("latest_charge")
	pi, err := s.client.V1PaymentIntents.Retrieve(ctx, id, params)
	if err != nil {
		return Payment{}, stripeErr("retrieve payment intent", err)
	}
	p := Payment{
		State:     StatePending,
		Amount:    pi.Amount,
		Currency:  string(pi.Currency),
		PaymentID: pi.ID,
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		p.State = StatePaid
		p.Amount = pi.AmountReceived
		if c := pi.LatestCharge; c != nil && c.AmountRefunded > 0 {
			p.State = StateRefunded
			p.Refunded = c.AmountRefunded
		}
	case stripe.PaymentIntentStatusCanceled:
		p.State = StateCanceled
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		if pi.LastPaymentError != nil {
			p.State = StateFailed
		}
	}
	return p, nil
}

// subscriptionPeriod is the current period of a subscription. Since API
// version 2025-03-31 (basil) the period lives on the subscription items; our
// subscriptions have one item, and with several the widest span is taken.
func subscriptionPeriod(sub *stripe.Subscription) (start, end time.Time) {
	if sub.Items == nil {
		return time.Time{}, time.Time{}
	}
	var lo, hi int64
	for _, it := range sub.Items.Data {
		if it == nil {
			continue
		}
		if it.CurrentPeriodStart > 0 && (lo == 0 || it.CurrentPeriodStart < lo) {
			lo = it.CurrentPeriodStart
		}
		if it.CurrentPeriodEnd > hi {
			hi = it.CurrentPeriodEnd
		}
	}
	return unixTime(lo), unixTime(hi)
}

func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// StripeSubscription is a Stripe subscription as the worker needs it.
type StripeSubscription struct {
	ID string
	// Status is Stripe's: active, past_due, unpaid, canceled, incomplete,
	// incomplete_expired, trialing, paused.
	Status                      string
	CurrentPeriodStart          time.Time
	CurrentPeriodEnd            time.Time
	CancelAtPeriodEnd           bool
	CanceledAt, EndedAt         time.Time
	OrderID, PlanID, UserID     string // from the metadata Checkout wrote
	LatestInvoiceID, CustomerID string
	Currency                    string
	Livemode                    bool
}

// Active reports whether the subscription entitles its owner to the plan
// now: Stripe's active or trialing. past_due keeps retrying the renewal;
// the tier then lasts until CurrentPeriodEnd and no longer.
func (s StripeSubscription) Active() bool {
	return s.Status == string(stripe.SubscriptionStatusActive) || s.Status == string(stripe.SubscriptionStatusTrialing)
}

func toStripeSubscription(sub *stripe.Subscription) StripeSubscription {
	out := StripeSubscription{
		ID:                sub.ID,
		Status:            string(sub.Status),
		CancelAtPeriodEnd: sub.CancelAtPeriodEnd,
		CanceledAt:        unixTime(sub.CanceledAt),
		EndedAt:           unixTime(sub.EndedAt),
		OrderID:           sub.Metadata[stripeMetaOrderID],
		PlanID:            sub.Metadata[stripeMetaItem],
		UserID:            sub.Metadata[stripeMetaUserID],
		Currency:          string(sub.Currency),
		Livemode:          sub.Livemode,
	}
	out.CurrentPeriodStart, out.CurrentPeriodEnd = subscriptionPeriod(sub)
	if sub.LatestInvoice != nil {
		out.LatestInvoiceID = sub.LatestInvoice.ID
	}
	if sub.Customer != nil {
		out.CustomerID = sub.Customer.ID
	}
	return out
}

// Subscription reads a subscription: status, current period,
// cancel_at_period_end.
func (s *StripeProvider) Subscription(ctx context.Context, id string) (StripeSubscription, error) {
	if id == "" {
		return StripeSubscription{}, errors.New("payments: stripe subscription id is empty")
	}
	sub, err := s.client.V1Subscriptions.Retrieve(ctx, id, nil)
	if err != nil {
		return StripeSubscription{}, stripeErr("retrieve subscription", err)
	}
	return toStripeSubscription(sub), nil
}

// CancelAtPeriodEnd asks Stripe to end the subscription when the current
// period ends (no refund, no renewal); the tier lasts until then. Calling it
// twice is harmless.
func (s *StripeProvider) CancelAtPeriodEnd(ctx context.Context, id string) (StripeSubscription, error) {
	if id == "" {
		return StripeSubscription{}, errors.New("payments: stripe subscription id is empty")
	}
	// No idempotency key: the update is idempotent by itself, and a cached
	// answer could hide a later change of the subscription.
	params := &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(true)}
	sub, err := s.client.V1Subscriptions.Update(ctx, id, params)
	if err != nil {
		return StripeSubscription{}, stripeErr("cancel subscription at period end", err)
	}
	return toStripeSubscription(sub), nil
}

// CancelNow ends the subscription at Stripe at once (not at the period's
// end): nothing more is charged, and no proration is refunded. A
// subscription that has already ended (canceled, or one Stripe no longer
// knows) is success: a retried cancellation is harmless. The answer is
// the subscription as Stripe has it afterwards (zero when Stripe does not
// know it).
func (s *StripeProvider) CancelNow(ctx context.Context, id, comment string) (StripeSubscription, error) {
	if id == "" {
		return StripeSubscription{}, errors.New("payments: stripe subscription id is empty")
	}
	params := &stripe.SubscriptionCancelParams{}
	if comment != "" {
		params.CancellationDetails = &stripe.SubscriptionCancelCancellationDetailsParams{Comment: stripe.String(comment)}
	}
	sub, err := s.client.V1Subscriptions.Cancel(ctx, id, params)
	if err == nil {
		return toStripeSubscription(sub), nil
	}
	cerr := stripeErr("cancel subscription", err)
	var se *stripe.Error
	if !errors.Is(cerr, ErrNotFound) && !(errors.As(err, &se) && se.Type == stripe.ErrorTypeInvalidRequest) {
		return StripeSubscription{}, cerr // Stripe unreachable, the key refused: try again
	}
	// Refused or unknown: ended before (Stripe refuses to cancel a canceled
	// subscription) is success; anything else is the refusal.
	cur, gerr := s.Subscription(ctx, id)
	switch {
	case errors.Is(gerr, ErrNotFound):
		return StripeSubscription{ID: id}, nil
	case gerr != nil:
		return StripeSubscription{}, cerr
	case cur.Status == string(stripe.SubscriptionStatusCanceled) || cur.Status == string(stripe.SubscriptionStatusIncompleteExpired):
		return cur, nil
	}
	return StripeSubscription{}, cerr
}

// StripeInvoice is a subscription invoice as the worker needs it to grant a
// period's credits once.
type StripeInvoice struct {
	ID             string
	SubscriptionID string
	// Status is Stripe's: draft, open, paid, uncollectible, void.
	Status     string
	Paid       bool  // Status is "paid" (API basil has no boolean paid)
	AmountPaid int64 // minor units
	Currency   string
	// PeriodStart and PeriodEnd are the service period the invoice pays
	// for: the subscription line's period. (The invoice's own
	// period_start/period_end is the window in which items were added,
	// which for a renewal is the period before.)
	PeriodStart, PeriodEnd time.Time
	// OrderID, PlanID and UserID come from the subscription's metadata as
	// Stripe copies it onto the invoice (parent.subscription_details).
	OrderID, PlanID, UserID string
	// BillingReason: subscription_create for the first period,
	// subscription_cycle for a renewal.
	BillingReason string
}

// Invoice reads an invoice and the period it pays for.
func (s *StripeProvider) Invoice(ctx context.Context, id string) (StripeInvoice, error) {
	if id == "" {
		return StripeInvoice{}, errors.New("payments: stripe invoice id is empty")
	}
	inv, err := s.client.V1Invoices.Retrieve(ctx, id, nil)
	if err != nil {
		return StripeInvoice{}, stripeErr("retrieve invoice", err)
	}
	out := StripeInvoice{
		ID:            inv.ID,
		Status:        string(inv.Status),
		Paid:          inv.Status == stripe.InvoiceStatusPaid,
		AmountPaid:    inv.AmountPaid,
		Currency:      string(inv.Currency),
		PeriodStart:   unixTime(inv.PeriodStart),
		PeriodEnd:     unixTime(inv.PeriodEnd),
		BillingReason: string(inv.BillingReason),
	}
	if d := invoiceSubscription(inv); d != nil {
		if d.Subscription != nil {
			out.SubscriptionID = d.Subscription.ID
		}
		out.OrderID = d.Metadata[stripeMetaOrderID]
		out.PlanID = d.Metadata[stripeMetaItem]
		out.UserID = d.Metadata[stripeMetaUserID]
	}
	if inv.Lines != nil {
		for _, l := range inv.Lines.Data {
			if l == nil || l.Period == nil || l.Parent == nil ||
				l.Parent.Type != stripe.InvoiceLineItemParentTypeSubscriptionItemDetails {
				continue
			}
			out.PeriodStart, out.PeriodEnd = unixTime(l.Period.Start), unixTime(l.Period.End)
			break
		}
	}
	return out, nil
}

// StripeCharge is a charge as the worker needs it to take a refunded
// subscription payment's credits back.
type StripeCharge struct {
	ID string
	// Paid is Stripe's status succeeded; Refunded is true once it is
	// refunded in full, AmountRefunded counts partial refunds too.
	Paid, Refunded         bool
	Amount, AmountRefunded int64 // minor units
	Currency               string
	PaymentIntentID        string
	// InvoiceID is the invoice the charge paid, found through Stripe's
	// invoice payments (since API basil a charge no longer names its
	// invoice); empty for a charge of no invoice (a package's).
	InvoiceID string
}

// Charge reads a charge and the invoice it paid.
func (s *StripeProvider) Charge(ctx context.Context, id string) (StripeCharge, error) {
	if id == "" {
		return StripeCharge{}, errors.New("payments: stripe charge id is empty")
	}
	ch, err := s.client.V1Charges.Retrieve(ctx, id, nil)
	if err != nil {
		return StripeCharge{}, stripeErr("retrieve charge", err)
	}
	out := StripeCharge{
		ID:             ch.ID,
		Paid:           ch.Status == stripe.ChargeStatusSucceeded,
		Refunded:       ch.Refunded,
		Amount:         ch.Amount,
		AmountRefunded: ch.AmountRefunded,
		Currency:       string(ch.Currency),
	}
	if ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" {
		return out, nil
	}
	out.PaymentIntentID = ch.PaymentIntent.ID
	params := &stripe.InvoicePaymentListParams{Payment: &stripe.InvoicePaymentListPaymentParams{
		Type: stripe.String(string(stripe.InvoicePaymentPaymentTypePaymentIntent)), PaymentIntent: stripe.String(out.PaymentIntentID),
	}}
	params.Limit = stripe.Int64(10)
	for ip, err := range s.client.V1InvoicePayments.List(ctx, params) {
		if err != nil {
			return StripeCharge{}, stripeErr("list invoice payments", err)
		}
		if ip.Invoice == nil || ip.Invoice.ID == "" || ip.Payment == nil || ip.Payment.PaymentIntent == nil ||
			ip.Payment.PaymentIntent.ID != out.PaymentIntentID {
			continue
		}
		out.InvoiceID = ip.Invoice.ID
		break
	}
	return out, nil
}

func invoiceSubscription(inv *stripe.Invoice) *stripe.InvoiceParentSubscriptionDetails {
	if inv.Parent == nil {
		return nil
	}
	return inv.Parent.SubscriptionDetails
}

// StripeEvent is a verified Stripe event with the ids the generic Event has
// no field for.
type StripeEvent struct {
	Event
	// ObjectID is the id of data.object (cs_…, in_…, sub_…, ch_…).
	ObjectID string
	// InvoiceID is set on invoice events (and on checkout sessions of
	// subscriptions, for the first invoice).
	InvoiceID string
	// ChargeID is set on charge events.
	ChargeID   string
	CustomerID string
	Livemode   bool
	// Handled is StripeEventHandled(Type).
	Handled bool
}

// ParseWebhook verifies and decodes a Stripe webhook delivery; see
// ParseStripeWebhook.
func (s *StripeProvider) ParseWebhook(header http.Header, body []byte) (Event, error) {
	ev, err := s.ParseStripeWebhook(header, body)
	return ev.Event, err
}

// ParseStripeWebhook verifies the Stripe-Signature header with stripe-go's
// webhook package (HMAC-SHA256 of the timestamp and the body with the
// endpoint's secret, timestamp within the tolerance, 300 s by default): a
// missing, malformed, forged or stale signature, or a body altered after
// signing, is ErrBadSignature.
//
// API versions: stripe-go refuses an event rendered in another release
// train than its own (v82: basil), because its structs would misread the
// object (the invoice's subscription, for one, moved between trains). We
// keep that check, reported as ErrStripeAPIVersion, rather than setting
// IgnoreAPIVersionMismatch: the webhook endpoint must be created with the
// library's API version (stripe.APIVersion), and test payloads are signed
// with that version too, so nothing legitimate trips it. A refused event is
// answered with an error (Stripe retries it), and the reconciler still
// finds the payment through Lookup.
func (s *StripeProvider) ParseStripeWebhook(header http.Header, body []byte) (StripeEvent, error) {
	sig := header.Get("Stripe-Signature")
	// The signature first, on its own, so every failure of it is told
	// apart from a body that does not decode.
	if err := webhook.ValidatePayloadWithTolerance(body, sig, s.cfg.WebhookSecret, s.tolerance); err != nil {
		return StripeEvent{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	raw, err := webhook.ConstructEventWithOptions(body, sig, s.cfg.WebhookSecret, webhook.ConstructEventOptions{
		Tolerance: s.tolerance,
		// Checked below, to report it as ErrStripeAPIVersion.
		IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		if isSignatureErr(err) {
			return StripeEvent{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		return StripeEvent{}, fmt.Errorf("payments: stripe event: %w", err)
	}
	if releaseTrain(raw.APIVersion) != releaseTrain(stripe.APIVersion) {
		return StripeEvent{}, fmt.Errorf("%w: event %s is %q, stripe-go expects %q", ErrStripeAPIVersion, raw.ID, raw.APIVersion, stripe.APIVersion)
	}
	if raw.ID == "" || raw.Type == "" || raw.Data == nil {
		return StripeEvent{}, errors.New("payments: stripe event without an id, a type or data")
	}
	ev := StripeEvent{
		Event: Event{
			ID:      raw.ID,
			Type:    string(raw.Type),
			Created: unixTime(raw.Created),
		},
		Livemode: raw.Livemode,
		Handled:  StripeEventHandled(string(raw.Type)),
	}
	if !ev.Handled {
		return ev, nil
	}
	if err := mapStripeObject(&ev, raw.Data.Raw); err != nil {
		return StripeEvent{}, fmt.Errorf("payments: stripe event %s (%s): %w", raw.ID, raw.Type, err)
	}
	return ev, nil
}

func isSignatureErr(err error) bool {
	return errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) ||
		errors.Is(err, webhook.ErrNoValidSignature) || errors.Is(err, webhook.ErrTooOld)
}

// releaseTrain is the part after the dot of "2025-08-27.basil"; an API
// version from before release trains has none.
func releaseTrain(v string) string {
	_, train, ok := strings.Cut(v, ".")
	if !ok {
		return ""
	}
	return train
}

// mapStripeObject fills the Ref and ids of a handled event from its
// data.object, decoded into stripe-go's own types.
func mapStripeObject(ev *StripeEvent, obj json.RawMessage) error {
	switch ev.Type {
	case StripeCheckoutCompleted, StripeAsyncPaymentSucceeded, StripeAsyncPaymentFailed:
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(obj, &cs); err != nil {
			return err
		}
		ev.ObjectID = cs.ID
		ev.Ref = Ref{OrderID: orderIDOf(cs.ClientReferenceID, cs.Metadata), SessionID: cs.ID}
		if cs.PaymentIntent != nil {
			ev.Ref.PaymentID = cs.PaymentIntent.ID
		}
		if cs.Subscription != nil {
			ev.SubscriptionID = cs.Subscription.ID
		}
		if cs.Invoice != nil {
			ev.InvoiceID = cs.Invoice.ID
		}
		if cs.Customer != nil {
			ev.CustomerID = cs.Customer.ID
		}
	case StripeInvoicePaid, StripeInvoicePaymentFailed:
		var inv stripe.Invoice
		if err := json.Unmarshal(obj, &inv); err != nil {
			return err
		}
		ev.ObjectID, ev.InvoiceID = inv.ID, inv.ID
		if d := invoiceSubscription(&inv); d != nil {
			if d.Subscription != nil {
				ev.SubscriptionID = d.Subscription.ID
			}
			ev.Ref.OrderID = d.Metadata[stripeMetaOrderID]
		}
		if inv.Customer != nil {
			ev.CustomerID = inv.Customer.ID
		}
	case StripeSubscriptionUpdated, StripeSubscriptionDeleted:
		var sub stripe.Subscription
		if err := json.Unmarshal(obj, &sub); err != nil {
			return err
		}
		ev.ObjectID, ev.SubscriptionID = sub.ID, sub.ID
		ev.Ref.OrderID = sub.Metadata[stripeMetaOrderID]
		if sub.Customer != nil {
			ev.CustomerID = sub.Customer.ID
		}
	case StripeChargeRefunded:
		var ch stripe.Charge
		if err := json.Unmarshal(obj, &ch); err != nil {
			return err
		}
		ev.ObjectID, ev.ChargeID = ch.ID, ch.ID
		ev.Ref.OrderID = ch.Metadata[stripeMetaOrderID]
		if ch.PaymentIntent != nil {
			ev.Ref.PaymentID = ch.PaymentIntent.ID
		}
		if ch.Customer != nil {
			ev.CustomerID = ch.Customer.ID
		}
	}
	if ev.ObjectID == "" {
		return errors.New("data.object has no id")
	}
	return nil
}

func orderIDOf(clientRef string, meta map[string]string) string {
	if clientRef != "" {
		return clientRef
	}
	return meta[stripeMetaOrderID]
}
