package tosssim

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value works.
type Options struct {
	// SecretKey is the only secret key accepted. Defaults to
	// "test_sk_lokiz_sim".
	SecretKey string
	// ClientKey is the widget's key the simulator reports. Defaults to
	// "test_ck_lokiz_sim".
	ClientKey string
	// WebhookURL receives PAYMENT_STATUS_CHANGED events; empty sends none
	// until SetWebhookURL.
	WebhookURL string
	// WebhookRetries is how many times a failed delivery is tried again.
	// Defaults to 3; negative means never.
	WebhookRetries int
	// WebhookRetryDelay is the wait before the first retry, doubled for each
	// next one. Defaults to 100ms.
	WebhookRetryDelay time.Duration
	// HTTPClient delivers webhooks. Defaults to a client with a 10 second
	// timeout.
	HTTPClient *http.Client
	// NowFunc is the clock of timestamps. Defaults to time.Now.
	NowFunc func() time.Time
	// Logger receives a line per state change and failed webhook. Defaults
	// to discarding.
	Logger *slog.Logger
}

// Faults disturb the webhooks of the status changes that happen while they
// are set (SetFaults).
type Faults struct {
	// Drop sends nothing.
	Drop bool
	// Duplicate sends each event this many extra times.
	Duplicate int
	// Delay waits this long before sending, while later events go out, so
	// they arrive first.
	Delay time.Duration
	// Hold keeps the events until FlushWebhooks.
	Hold bool
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	opts    Options
	handler http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	srv    *http.Server // set by Start
	url    string

	mu         sync.Mutex
	closed     bool
	payments   map[string]*payment // by paymentKey
	byOrder    map[string]string   // orderId → latest paymentKey
	order      []string            // paymentKeys, oldest first
	auths      map[string]*authorization
	billings   map[string]*billing
	idem       map[string]idemAnswer
	webhookURL string
	faults     Faults
	queue      []hookEvent // waiting for the delivery goroutine
	held       []hookEvent // held by Faults.Hold
}

type payment struct {
	key, orderID, orderName, customerKey string
	typ                                  string // NORMAL or BILLING
	status                               string
	total, balance                       int64
	requestedAt, approvedAt              time.Time
	lastTx                               string
	cancels                              []cancel
	failure                              *apiError
	approvals                            int // times it was approved: more than 1 is a double charge
	billingKey                           string
}

type cancel struct {
	amount int64
	reason string
	at     time.Time
	tx     string
}

type authorization struct {
	customerKey string
	used        bool
}

type billing struct {
	key, customerKey string
	authenticatedAt  time.Time
	declined         bool
}

type idemAnswer struct {
	route  string
	status int
	body   []byte
}

// New returns a Server with opts, defaults filled in. Serve its Handler, or
// use Start. Call Close when done.
func New(opts Options) *Server {
	if opts.SecretKey == "" {
		opts.SecretKey = "test_sk_lokiz_sim"
	}
	if opts.ClientKey == "" {
		opts.ClientKey = "test_ck_lokiz_sim"
	}
	if opts.WebhookRetries == 0 {
		opts.WebhookRetries = 3
	}
	if opts.WebhookRetryDelay <= 0 {
		opts.WebhookRetryDelay = 100 * time.Millisecond
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:       opts,
		ctx:        ctx,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		payments:   map[string]*payment{},
		byOrder:    map[string]string{},
		auths:      map[string]*authorization{},
		billings:   map[string]*billing{},
		idem:       map[string]idemAnswer{},
		webhookURL: opts.WebhookURL,
	}
	s.handler = s.routes()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliverLoop()
	}()
	return s
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.handler }

// SecretKey is the secret key the server accepts.
func (s *Server) SecretKey() string { return s.opts.SecretKey }

// ClientKey is the widget key the server reports.
func (s *Server) ClientKey() string { return s.opts.ClientKey }

// URL is the root a client's base URL is, once Start has run.
func (s *Server) URL() string { return s.url }

// Close stops the HTTP server (when Start ran) and the webhook deliveries
// and waits for them. Requests after Close answer 503.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.srv.Shutdown(ctx)
		cancel()
	}
	s.cancel()
	s.wg.Wait()
	return err
}

// SetWebhookURL sets where the next events go; "" sends none.
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
}

// SetFaults sets the faults of the events of later status changes.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

func (s *Server) now() time.Time { return s.opts.NowFunc() }

// newKey returns prefix and n random lowercase letters and digits.
func newKey(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
}

func newTxKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// WidgetOrder is what the client widget pays: the order as our server
// handed it out, except that a tampering client may change the amount.
type WidgetOrder struct {
	OrderID     string
	OrderName   string
	Amount      int64
	CustomerKey string
}

// Redirect is what the widget's success redirect carries to our client.
type Redirect struct {
	PaymentKey string
	OrderID    string
	Amount     int64
}

// PayWidget plays the widget and the payer: the card is authenticated and
// the payment waits IN_PROGRESS for its confirmation. An order that already
// has a confirmed payment cannot be paid again.
func (s *Server) PayWidget(o WidgetOrder) (Redirect, error) {
	if o.OrderID == "" || o.OrderName == "" || o.Amount <= 0 {
		return Redirect{}, errors.New("tosssim: the widget needs an order id, a name and a positive amount")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key, ok := s.byOrder[o.OrderID]; ok {
		switch s.payments[key].status {
		case "READY", "IN_PROGRESS", "ABORTED", "EXPIRED":
		default:
			return Redirect{}, fmt.Errorf("tosssim: order %s is already paid (DUPLICATED_ORDER_ID)", o.OrderID)
		}
	}
	p := &payment{
		key: newKey("tsim", 30), orderID: o.OrderID, orderName: o.OrderName, customerKey: o.CustomerKey,
		typ: "NORMAL", status: "IN_PROGRESS", total: o.Amount, balance: o.Amount, requestedAt: s.now(),
	}
	s.addLocked(p)
	return Redirect{PaymentKey: p.key, OrderID: p.orderID, Amount: p.total}, nil
}

func (s *Server) addLocked(p *payment) {
	s.payments[p.key] = p
	s.byOrder[p.orderID] = p.key
	s.order = append(s.order, p.key)
}

// BillingAuth is what the billing widget's success redirect carries.
type BillingAuth struct {
	AuthKey     string
	CustomerKey string
}

// AuthorizeCard plays the billing widget: the payer registers a card for
// customerKey; the authKey can be exchanged once for a billing key.
func (s *Server) AuthorizeCard(customerKey string) (BillingAuth, error) {
	if customerKey == "" {
		return BillingAuth{}, errors.New("tosssim: a customer key is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := newKey("bln_", 24)
	s.auths[key] = &authorization{customerKey: customerKey}
	return BillingAuth{AuthKey: key, CustomerKey: customerKey}, nil
}

// FailPayment ends an unconfirmed payment as ABORTED (the card was
// refused), which sends its webhook.
func (s *Server) FailPayment(paymentKey string) error {
	return s.end(paymentKey, "ABORTED", &apiError{Code: "REJECT_CARD_PAYMENT", Message: "The card issuer refused the payment."})
}

// ExpirePayment ends an unconfirmed payment as EXPIRED (not confirmed in
// time), which sends its webhook.
func (s *Server) ExpirePayment(paymentKey string) error {
	return s.end(paymentKey, "EXPIRED", &apiError{Code: "NOT_FOUND_PAYMENT_SESSION", Message: "The payment session has expired."})
}

func (s *Server) end(paymentKey, status string, failure *apiError) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[paymentKey]
	if !ok {
		return fmt.Errorf("tosssim: no payment %s", paymentKey)
	}
	if p.status != "READY" && p.status != "IN_PROGRESS" {
		return fmt.Errorf("tosssim: payment %s is %s, not waiting for its confirmation", paymentKey, p.status)
	}
	p.status, p.failure = status, failure
	s.emitLocked(p)
	return nil
}

// Refund cancels amount won of a payment (all that is left when 0) from the
// provider's side, as a merchant does in Toss's dashboard, and sends its
// webhook.
func (s *Server) Refund(paymentKey string, amount int64, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[paymentKey]
	if !ok {
		return fmt.Errorf("tosssim: no payment %s", paymentKey)
	}
	if e := s.cancelLocked(p, amount, reason); e != nil {
		return fmt.Errorf("tosssim: refund %s: %s: %s", paymentKey, e.Code, e.Message)
	}
	return nil
}

// DeclineCard makes the billing key's later charges fail (declined true) or
// succeed again (false).
func (s *Server) DeclineCard(billingKey string, declined bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.billings[billingKey]
	if !ok {
		return fmt.Errorf("tosssim: no billing key %s", billingKey)
	}
	b.declined = declined
	return nil
}

// Snapshot is a payment as the simulator holds it.
type Snapshot struct {
	PaymentKey    string
	OrderID       string
	Type          string // NORMAL or BILLING
	Status        string
	TotalAmount   int64
	BalanceAmount int64
	// Approvals counts the approvals: 1 once paid, never more.
	Approvals  int
	Cancels    int
	BillingKey string
}

// Payment returns the payment with paymentKey; ok is false when there is
// none.
func (s *Server) Payment(paymentKey string) (snap Snapshot, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[paymentKey]
	if !ok {
		return Snapshot{}, false
	}
	return snapshotOf(p), true
}

// Payments returns every payment, oldest first.
func (s *Server) Payments() []Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Snapshot, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, snapshotOf(s.payments[k]))
	}
	return out
}

func snapshotOf(p *payment) Snapshot {
	return Snapshot{
		PaymentKey: p.key, OrderID: p.orderID, Type: p.typ, Status: p.status, TotalAmount: p.total,
		BalanceAmount: p.balance, Approvals: p.approvals, Cancels: len(p.cancels), BillingKey: p.billingKey,
	}
}

// cancelLocked cancels amount (0: the balance) of p; an error is Toss's.
func (s *Server) cancelLocked(p *payment, amount int64, reason string) *apiError {
	switch {
	case reason == "":
		return &apiError{http.StatusBadRequest, "INVALID_REQUEST", "cancelReason is required."}
	case amount < 0:
		return &apiError{http.StatusBadRequest, "INVALID_REQUEST", "cancelAmount must not be negative."}
	case p.status == "CANCELED":
		return &apiError{http.StatusBadRequest, "ALREADY_CANCELED_PAYMENT", "The payment has already been canceled."}
	case p.status != "DONE" && p.status != "PARTIAL_CANCELED":
		return &apiError{http.StatusForbidden, "NOT_CANCELABLE_PAYMENT", "The payment cannot be canceled."}
	}
	if amount == 0 {
		amount = p.balance
	}
	if amount > p.balance {
		return &apiError{http.StatusForbidden, "NOT_CANCELABLE_AMOUNT", "The amount is more than what can be canceled."}
	}
	tx := newTxKey()
	p.cancels = append(p.cancels, cancel{amount: amount, reason: reason, at: s.now(), tx: tx})
	p.balance -= amount
	p.lastTx = tx
	p.status = "PARTIAL_CANCELED"
	if p.balance == 0 {
		p.status = "CANCELED"
	}
	s.emitLocked(p)
	return nil
}

// kst is Korea's time zone, which Toss reports times in.
var kst = time.FixedZone("KST", 9*60*60)

func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.In(kst).Format("2006-01-02T15:04:05-07:00")
}
