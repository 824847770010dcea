package payments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DevCheckout is the development checkout: a stand-in for Stripe Checkout
// that `lokiz dev` uses when no Stripe key is configured, so a package can
// be bought on a laptop without any account. It is never built in
// production (cmd/lokiz refuses it there).
//
// It keeps its sessions in memory, shared by the api and the worker of the
// one `lokiz dev` process. Checkout answers a URL on the api
// (BaseURL + "/dev/checkout/" + session id) where a person presses "Pay" or
// "Fail"; Decide records the choice and answers the event a Stripe webhook
// would have delivered (checkout.session.completed or
// checkout.session.async_payment_failed), which the api then handles exactly
// as it handles Stripe's: the event is recorded, the order's fulfilment is
// enqueued, and the worker asks Lookup, which answers what the person chose.
// Its package orders are stored with provider "stripe": to the rest of the
// system it is Stripe. It sells plans too, as provider "dev": the first
// period is paid on the same page, and each renewal is charged by our
// scheduler with ChargeRenewal (it always pays, unless DeclineRenewals),
// as Toss billing keys are.
type DevCheckout struct {
	baseURL string

	mu       sync.Mutex
	sessions map[string]*devSession
	decline  bool
}

type devSession struct {
	order     Order
	state     string
	paymentID string
}

var _ Provider = (*DevCheckout)(nil)

// DevCheckoutPath is where the api serves the development checkout's page;
// the session id follows it.
const DevCheckoutPath = "/dev/checkout/"

// NewDevCheckout returns a development checkout whose pages are served by
// the api at baseURL (PUBLIC_BASE_URL).
func NewDevCheckout(baseURL string) *DevCheckout {
	return &DevCheckout{baseURL: strings.TrimRight(baseURL, "/"), sessions: map[string]*devSession{}}
}

// Name is Stripe: the development checkout stands in for it.
func (d *DevCheckout) Name() string { return Stripe }

// Checkout opens a development session for a package's or a plan's
// order.
func (d *DevCheckout) Checkout(_ context.Context, o Order) (Checkout, error) {
	if err := checkStripeOrder(o); err != nil {
		return Checkout{}, err
	}
	if o.Kind != KindPackage && o.Kind != KindPlan {
		return Checkout{}, fmt.Errorf("payments: the development checkout does not sell %q", o.Kind)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// One session per order, as Stripe's idempotency key makes it.
	for id, s := range d.sessions {
		if s.order.ID == o.ID {
			return Checkout{SessionID: id, URL: d.baseURL + DevCheckoutPath + id}, nil
		}
	}
	id := "devcs_" + randomHex(16)
	d.sessions[id] = &devSession{order: o, state: StatePending}
	return Checkout{SessionID: id, URL: d.baseURL + DevCheckoutPath + id}, nil
}

// DevSession is what the development checkout's page shows.
type DevSession struct {
	ID, OrderID, Name, Currency, State string
	Amount                             int64
}

// Session returns a session for its page; ok is false for an unknown id.
func (d *DevCheckout) Session(id string) (DevSession, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[id]
	if !ok {
		return DevSession{}, false
	}
	return DevSession{ID: id, OrderID: s.order.ID, Name: s.order.Name, Currency: s.order.Currency,
		State: s.state, Amount: s.order.Amount}, true
}

// Decide records the person's choice for a pending session (pay true:
// paid; false: the payment failed) and answers the webhook event Stripe
// would have sent. A session already decided keeps its first outcome and
// answers its event again (a second press is a repeated delivery).
func (d *DevCheckout) Decide(id string, pay bool) (Event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[id]
	if !ok {
		return Event{}, ErrNotFound
	}
	if s.state == StatePending {
		s.state = StateFailed
		if pay {
			s.state = StatePaid
			s.paymentID = "devpi_" + randomHex(12)
		}
	}
	typ := StripeCheckoutCompleted
	if s.state == StateFailed {
		typ = StripeAsyncPaymentFailed
	}
	return Event{
		ID:      "devevt_" + id + "_" + s.state,
		Type:    typ,
		Ref:     Ref{OrderID: s.order.ID, SessionID: id, PaymentID: s.paymentID},
		Created: time.Now().UTC(),
	}, nil
}

// ChargeRenewal charges the renewal order o of a plan bought through the
// development checkout, as a Toss billing key is charged: paid at once (a
// session of its own, decided), or declined while DeclineRenewals is set.
// Charging the same order again answers its first outcome.
func (d *DevCheckout) ChargeRenewal(_ context.Context, o Order) (Payment, error) {
	if o.ID == "" || o.Amount <= 0 || o.Kind != KindPlan {
		return Payment{}, errors.New("payments: a development renewal needs a plan order with a positive amount")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id := "devren_" + o.ID
	s, ok := d.sessions[id]
	if !ok {
		s = &devSession{order: o, state: StatePaid, paymentID: "devpi_" + randomHex(12)}
		if d.decline {
			s.state, s.paymentID = StateFailed, ""
		}
		d.sessions[id] = s
	}
	return Payment{State: s.state, Amount: s.order.Amount, Currency: s.order.Currency, PaymentID: s.paymentID}, nil
}

// DeclineRenewals makes later renewal charges fail (true) or pay (false).
func (d *DevCheckout) DeclineRenewals(decline bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.decline = decline
}

// Lookup answers what the person chose on the session's page.
func (d *DevCheckout) Lookup(_ context.Context, r Ref) (Payment, error) {
	id := r.SessionID
	if id == "" && r.OrderID != "" {
		id = "devren_" + r.OrderID // a renewal (ChargeRenewal) has no page
	}
	if id == "" {
		return Payment{}, errors.New("payments: a development checkout lookup needs the session or order id")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[id]
	if !ok {
		return Payment{}, fmt.Errorf("payments: development checkout session %s: %w", id, ErrNotFound)
	}
	p := Payment{State: s.state, Amount: s.order.Amount, Currency: s.order.Currency, PaymentID: s.paymentID}
	return p, nil
}

// ParseWebhook refuses every delivery: the development checkout's events
// come from Decide, never over HTTP.
func (d *DevCheckout) ParseWebhook(http.Header, []byte) (Event, error) {
	return Event{}, ErrBadSignature
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
