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
// Its orders are stored with provider "stripe": to the rest of the system
// it is Stripe.
type DevCheckout struct {
	baseURL string

	mu       sync.Mutex
	sessions map[string]*devSession
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

// Checkout opens a development session for a package order (plans are not
// sold through it).
func (d *DevCheckout) Checkout(_ context.Context, o Order) (Checkout, error) {
	if err := checkStripeOrder(o); err != nil {
		return Checkout{}, err
	}
	if o.Kind != KindPackage {
		return Checkout{}, errors.New("payments: the development checkout sells packages only")
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

// Lookup answers what the person chose on the session's page.
func (d *DevCheckout) Lookup(_ context.Context, r Ref) (Payment, error) {
	if r.SessionID == "" {
		return Payment{}, errors.New("payments: a development checkout lookup needs the session id")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[r.SessionID]
	if !ok {
		return Payment{}, fmt.Errorf("payments: development checkout session %s: %w", r.SessionID, ErrNotFound)
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
