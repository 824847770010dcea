package payments

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultTossBaseURL is Toss Payments' API host; paths start with /v1.
const DefaultTossBaseURL = "https://api.tosspayments.com"

// DefaultTossHosts are the hosts a TossClient may reach over https when
// TossConfig.AllowedHosts is empty.
var DefaultTossHosts = []string{"api.tosspayments.com"}

// TossWebhookTokenHeader carries the webhook token to ParseWebhook. Toss
// cannot send custom headers, so the token is part of the webhook URL
// registered with Toss (…/v1/webhooks/toss?token=…), and the route moves it
// here with TossWebhookHeader before it calls ParseWebhook.
const TossWebhookTokenHeader = "Lokiz-Toss-Webhook-Token"

// Toss payment statuses, as Toss spells them.
const (
	TossReady             = "READY"
	TossInProgress        = "IN_PROGRESS"
	TossWaitingForDeposit = "WAITING_FOR_DEPOSIT"
	TossDone              = "DONE"
	TossCanceled          = "CANCELED"
	TossPartialCanceled   = "PARTIAL_CANCELED"
	TossAborted           = "ABORTED"
	TossExpired           = "EXPIRED"
)

// Toss webhook event types LOKIZ reads. DEPOSIT_CALLBACK bodies carry no
// eventType; ParseWebhook names them so.
const (
	TossEventPaymentStatusChanged = "PAYMENT_STATUS_CHANGED"
	TossEventDepositCallback      = "DEPOSIT_CALLBACK"
)

var (
	// ErrTossUnauthorized is Toss refusing the secret key.
	ErrTossUnauthorized = errors.New("payments: toss refused the secret key")
	// ErrTossMalformedWebhook is a webhook body that is not a Toss event.
	ErrTossMalformedWebhook = errors.New("payments: malformed toss webhook")
)

// TossError is an error answer of the Toss API: its HTTP status and the
// {code, message} body. errors.Is matches ErrNotFound for the not-found
// codes and ErrTossUnauthorized for a refused key.
type TossError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *TossError) Error() string {
	return fmt.Sprintf("payments: toss answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Is reports whether e is one of the package's sentinel errors.
func (e *TossError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		switch e.Code {
		case "NOT_FOUND_PAYMENT", "NOT_FOUND_PAYMENT_SESSION", "NOT_FOUND", "NOT_FOUND_BILLING_KEY":
			return true
		}
	case ErrTossUnauthorized:
		return e.Status == http.StatusUnauthorized ||
			slices.Contains([]string{"UNAUTHORIZED_KEY", "INVALID_API_KEY", "INCORRECT_BASIC_AUTH_FORMAT"}, e.Code)
	}
	return false
}

// TossConfig configures a TossClient.
type TossConfig struct {
	// SecretKey authenticates the server's calls (HTTP Basic user, empty
	// password). Required.
	SecretKey string
	// ClientKey is the public key of the client widget, handed out by
	// Checkout. Required.
	ClientKey string
	// BaseURL is the API root without /v1. Defaults to DefaultTossBaseURL.
	// It must be https on a host in AllowedHosts, or http(s) on a loopback
	// host (the simulator).
	BaseURL string
	// AllowedHosts are the https hosts BaseURL may name. Defaults to
	// DefaultTossHosts.
	AllowedHosts []string
	// WebhookToken, when set, must arrive with every webhook (see
	// TossWebhookTokenHeader); a delivery without it is ErrBadSignature.
	WebhookToken string
	// HTTPClient makes the requests; redirects are never followed. Defaults
	// to a client with a 30 second timeout.
	HTTPClient *http.Client
	// MaxRetries is how often a GET, or a POST with an Idempotency-Key, is
	// tried again after a network error, a 429 or a 5xx. Defaults to 2;
	// negative means never.
	MaxRetries int
}

// TossClient talks to Toss Payments over its REST API. It implements
// Provider and adds Toss's confirm, cancel and billing calls. It is safe for
// concurrent use.
type TossClient struct {
	cfg  TossConfig
	base string
	hc   *http.Client
	auth string
}

var _ Provider = (*TossClient)(nil)

// NewToss returns a TossClient for cfg.
func NewToss(cfg TossConfig) (*TossClient, error) {
	var problems []error
	if cfg.SecretKey == "" {
		problems = append(problems, errors.New("a secret key is required"))
	}
	if cfg.ClientKey == "" {
		problems = append(problems, errors.New("a client key is required"))
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultTossBaseURL
	}
	if len(cfg.AllowedHosts) == 0 {
		cfg.AllowedHosts = DefaultTossHosts
	}
	base, err := checkTossBase(cfg.BaseURL, cfg.AllowedHosts)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("payments: toss: %w", errors.Join(problems...))
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &TossClient{
		cfg:  cfg,
		base: base,
		hc:   hc,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.SecretKey+":")),
	}, nil
}

// checkTossBase returns the API root without a trailing slash, or why it
// may not be used: the outbound allow-list is https to an allowed host, or a
// loopback host (the simulator) over http or https.
func checkTossBase(raw string, hosts []string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("base URL: %w", err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return "", fmt.Errorf("base URL %q: want scheme://host[:port][/path] and nothing else", raw)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	switch {
	case (u.Scheme == "http" || u.Scheme == "https") && loopbackHost(host):
	case u.Scheme != "https":
		return "", fmt.Errorf("base URL %q: the scheme must be https (http only on a loopback host)", raw)
	case !slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, host) }):
		return "", fmt.Errorf("base URL %q: host %q is not on the allow-list %v", raw, host, hosts)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name is Toss.
func (c *TossClient) Name() string { return Toss }

// Toss's rules for the ids the widget is given.
var (
	tossOrderID     = regexp.MustCompile(`^[A-Za-z0-9_-]{6,64}$`)
	tossCustomerKey = regexp.MustCompile(`^[A-Za-z0-9_=.@-]{2,300}$`)
)

// Checkout makes no call: the Toss widget pays in the client, with the
// order's id, amount, name and customer key (all from o) and the client key
// returned here. The payment is then confirmed with Confirm.
func (c *TossClient) Checkout(_ context.Context, o Order) (Checkout, error) {
	switch {
	case !tossOrderID.MatchString(o.ID):
		return Checkout{}, fmt.Errorf("payments: toss: order id %q is not 6-64 letters, digits, - or _", o.ID)
	case o.Amount <= 0:
		return Checkout{}, fmt.Errorf("payments: toss: amount %d is not positive", o.Amount)
	case !strings.EqualFold(o.Currency, "krw"):
		return Checkout{}, fmt.Errorf("payments: toss: currency %q is not krw", o.Currency)
	case o.Name == "":
		return Checkout{}, errors.New("payments: toss: the order needs a name")
	case !tossCustomerKey.MatchString(o.CustomerKey):
		return Checkout{}, errors.New("payments: toss: the customer key is not 2-300 letters, digits or -_=.@")
	}
	return Checkout{ClientKey: c.cfg.ClientKey}, nil
}

// Lookup reads a payment back: by Ref.PaymentID (the paymentKey) when known,
// otherwise by Ref.OrderID. When both are set and Toss's payment belongs to
// another order, the answer is ErrNotFound: a paymentKey named by a webhook
// or a client never stands for an order it was not paid for.
func (c *TossClient) Lookup(ctx context.Context, r Ref) (Payment, error) {
	p, err := c.get(ctx, r)
	if err != nil {
		return Payment{}, err
	}
	return p.payment(), nil
}

func (c *TossClient) get(ctx context.Context, r Ref) (tossPayment, error) {
	var p tossPayment
	switch {
	case r.PaymentID != "":
		if err := c.do(ctx, http.MethodGet, "/v1/payments/"+url.PathEscape(r.PaymentID), "", nil, &p); err != nil {
			return p, err
		}
		if r.OrderID != "" && p.OrderID != r.OrderID {
			return tossPayment{}, fmt.Errorf("payments: toss payment %s is for order %q, not %q: %w",
				r.PaymentID, p.OrderID, r.OrderID, ErrNotFound)
		}
	case r.OrderID != "":
		if err := c.do(ctx, http.MethodGet, "/v1/payments/orders/"+url.PathEscape(r.OrderID), "", nil, &p); err != nil {
			return p, err
		}
	default:
		return p, errors.New("payments: toss lookup needs a payment key or an order id")
	}
	return p, nil
}

// Confirm asks Toss to approve the payment the widget made, for amount: the
// stored order's amount, never the one the client sent. A payment whose
// widget amount differs is refused by Toss, and Confirm then answers
// ErrAmountMismatch (with Toss's error): nothing was paid. Confirming a
// payment Toss has already approved for this order and amount answers the
// payment as it is now (paid, or refunded since), so a retried confirm is
// harmless; callers act on the answer's State. idempotencyKey should be stable
// across retries of one confirmation (the order id works); when empty one is
// made for this call.
func (c *TossClient) Confirm(ctx context.Context, paymentKey, orderID string, amount int64, idempotencyKey string) (Payment, error) {
	if paymentKey == "" || orderID == "" || amount <= 0 {
		return Payment{}, errors.New("payments: toss confirm needs a payment key, an order id and a positive amount")
	}
	body := map[string]any{"paymentKey": paymentKey, "orderId": orderID, "amount": amount}
	var p tossPayment
	err := c.do(ctx, http.MethodPost, "/v1/payments/confirm", idemKey(idempotencyKey), body, &p)
	var te *TossError
	switch {
	case err == nil:
		if p.OrderID != orderID || p.PaymentKey != paymentKey {
			return Payment{}, fmt.Errorf("payments: toss confirmed payment %s of order %q, not %s of %q",
				p.PaymentKey, p.OrderID, paymentKey, orderID)
		}
		if p.TotalAmount != amount {
			return Payment{}, fmt.Errorf("payments: toss confirmed %d, not %d: %w", p.TotalAmount, amount, ErrAmountMismatch)
		}
		return p.payment(), nil
	case !errors.As(err, &te) || te.Status == http.StatusUnauthorized || te.Status == http.StatusForbidden || te.Status >= 500:
		return Payment{}, err
	}
	// A refusal: read the payment to say why in our terms.
	cur, gerr := c.get(ctx, Ref{PaymentID: paymentKey, OrderID: orderID})
	if gerr != nil {
		return Payment{}, err
	}
	if cur.TotalAmount != amount {
		return Payment{}, fmt.Errorf("payments: toss payment %s is for %d, not %d: %w (%w)",
			paymentKey, cur.TotalAmount, amount, ErrAmountMismatch, err)
	}
	if te.Code == "ALREADY_PROCESSED_PAYMENT" {
		if p := cur.payment(); p.State == StatePaid || p.State == StateRefunded {
			return p, nil
		}
	}
	return Payment{}, err
}

// Cancel refunds a payment: amount won of it, or all that is left when
// amount is 0. reason is required by Toss and shown to the payer.
func (c *TossClient) Cancel(ctx context.Context, paymentKey, reason string, amount int64, idempotencyKey string) (Payment, error) {
	if paymentKey == "" || reason == "" || amount < 0 {
		return Payment{}, errors.New("payments: toss cancel needs a payment key, a reason and an amount of 0 (all) or more")
	}
	body := map[string]any{"cancelReason": reason}
	if amount > 0 {
		body["cancelAmount"] = amount
	}
	var p tossPayment
	if err := c.do(ctx, http.MethodPost, "/v1/payments/"+url.PathEscape(paymentKey)+"/cancel", idemKey(idempotencyKey), body, &p); err != nil {
		return Payment{}, err
	}
	return p.payment(), nil
}

// TossBillingKey is a card registered for recurring charges.
type TossBillingKey struct {
	// BillingKey charges the card; keep it as secret as the secret key.
	BillingKey  string
	CustomerKey string
	Method      string
	CardCompany string
	CardNumber  string // masked
	// AuthenticatedAt is when the payer authenticated the card.
	AuthenticatedAt time.Time
}

// IssueBillingKey exchanges the authKey the billing widget returned, with the
// payer's customerKey, for a billing key.
func (c *TossClient) IssueBillingKey(ctx context.Context, authKey, customerKey string) (TossBillingKey, error) {
	if authKey == "" || customerKey == "" {
		return TossBillingKey{}, errors.New("payments: toss billing key issue needs an auth key and a customer key")
	}
	var b struct {
		BillingKey      string `json:"billingKey"`
		CustomerKey     string `json:"customerKey"`
		Method          string `json:"method"`
		CardCompany     string `json:"cardCompany"`
		CardNumber      string `json:"cardNumber"`
		AuthenticatedAt string `json:"authenticatedAt"`
	}
	body := map[string]string{"authKey": authKey, "customerKey": customerKey}
	if err := c.do(ctx, http.MethodPost, "/v1/billing/authorizations/issue", idemKey(""), body, &b); err != nil {
		return TossBillingKey{}, err
	}
	if b.BillingKey == "" || b.CustomerKey != customerKey {
		return TossBillingKey{}, fmt.Errorf("payments: toss issued billing key %q for customer %q, want customer %q",
			b.BillingKey, b.CustomerKey, customerKey)
	}
	return TossBillingKey{
		BillingKey: b.BillingKey, CustomerKey: b.CustomerKey, Method: b.Method,
		CardCompany: b.CardCompany, CardNumber: b.CardNumber, AuthenticatedAt: parseTossTime(b.AuthenticatedAt),
	}, nil
}

// ChargeBilling charges amount won to the card behind billingKey for the
// order orderID (a new id per charge: Toss refuses one it has seen). The
// answer's SubscriptionID is billingKey. idempotencyKey should be stable
// across retries of one charge (the order id works).
func (c *TossClient) ChargeBilling(ctx context.Context, billingKey, customerKey string, amount int64, orderID, orderName, idempotencyKey string) (Payment, error) {
	if billingKey == "" || customerKey == "" || amount <= 0 || orderID == "" || orderName == "" {
		return Payment{}, errors.New("payments: toss billing charge needs a billing key, a customer key, a positive amount, an order id and name")
	}
	body := map[string]any{"customerKey": customerKey, "amount": amount, "orderId": orderID, "orderName": orderName}
	var p tossPayment
	if err := c.do(ctx, http.MethodPost, "/v1/billing/"+url.PathEscape(billingKey), idemKey(idempotencyKey), body, &p); err != nil {
		return Payment{}, err
	}
	if p.OrderID != orderID || p.TotalAmount != amount {
		return Payment{}, fmt.Errorf("payments: toss charged %d for order %q, not %d for %q: %w",
			p.TotalAmount, p.OrderID, amount, orderID, ErrAmountMismatch)
	}
	out := p.payment()
	out.SubscriptionID = billingKey
	return out, nil
}

// TossWebhookHeader returns the headers of a Toss webhook request for
// ParseWebhook, with TossWebhookTokenHeader set from the URL's "token" query
// parameter (and never from a header the sender chose).
func TossWebhookHeader(r *http.Request) http.Header {
	h := r.Header.Clone()
	h.Del(TossWebhookTokenHeader)
	if tok := r.URL.Query().Get("token"); tok != "" {
		h.Set(TossWebhookTokenHeader, tok)
	}
	return h
}

// ParseWebhook decodes a Toss webhook. Toss signs no payment webhook, so the
// origin is proved only by the configured WebhookToken (ErrBadSignature when
// it is set and the delivery does not carry it; see TossWebhookHeader), and
// the body is a hint: the worker acts on Lookup, never on it. Event.ID is
// derived from the body's payment, status and transaction, so Toss's
// retries of one change share it and two changes do not.
func (c *TossClient) ParseWebhook(header http.Header, body []byte) (Event, error) {
	if c.cfg.WebhookToken != "" {
		got := header.Get(TossWebhookTokenHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(c.cfg.WebhookToken)) != 1 {
			return Event{}, ErrBadSignature
		}
	}
	return ParseTossWebhook(body)
}

// ParseTossWebhook decodes a Toss webhook body without any origin check.
func ParseTossWebhook(body []byte) (Event, error) {
	var env struct {
		EventType string          `json:"eventType"`
		CreatedAt string          `json:"createdAt"`
		Data      json.RawMessage `json:"data"`
		// DEPOSIT_CALLBACK is flat and has no eventType.
		OrderID        string `json:"orderId"`
		Status         string `json:"status"`
		TransactionKey string `json:"transactionKey"`
		// BILLING_DELETED and the like name a billing key.
		BillingKey string `json:"billingKey"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrTossMalformedWebhook, err)
	}
	ev := Event{Type: env.EventType, Created: parseTossTime(env.CreatedAt), SubscriptionID: env.BillingKey}
	switch {
	case env.EventType == "" && env.OrderID != "" && env.Status != "" && env.TransactionKey != "":
		ev.Type = TossEventDepositCallback
		ev.Ref = Ref{OrderID: env.OrderID}
		ev.ID = tossEventID(ev.Type, env.OrderID, env.Status, env.TransactionKey)
		return ev, nil
	case env.EventType == "":
		return Event{}, fmt.Errorf("%w: no eventType", ErrTossMalformedWebhook)
	}
	var data struct {
		PaymentKey         string `json:"paymentKey"`
		OrderID            string `json:"orderId"`
		Status             string `json:"status"`
		LastTransactionKey string `json:"lastTransactionKey"`
		BillingKey         string `json:"billingKey"`
	}
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &data); err != nil {
			return Event{}, fmt.Errorf("%w: data: %w", ErrTossMalformedWebhook, err)
		}
	}
	if env.EventType == TossEventPaymentStatusChanged &&
		(data.PaymentKey == "" || data.OrderID == "" || data.Status == "") {
		return Event{}, fmt.Errorf("%w: %s without paymentKey, orderId and status", ErrTossMalformedWebhook, env.EventType)
	}
	ev.Ref = Ref{OrderID: data.OrderID, PaymentID: data.PaymentKey}
	if ev.SubscriptionID == "" {
		ev.SubscriptionID = data.BillingKey
	}
	if data.PaymentKey != "" {
		ev.ID = tossEventID(env.EventType, data.PaymentKey, data.OrderID, data.Status, data.LastTransactionKey)
	} else {
		// Another kind of event: a retry repeats the body exactly.
		ev.ID = tossEventID(string(body))
	}
	return ev, nil
}

func tossEventID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "toss_" + hex.EncodeToString(h.Sum(nil))[:40]
}

// kst is Korea's time zone, which Toss's zone-less timestamps are in.
var kst = time.FixedZone("KST", 9*60*60)

// parseTossTime reads an ISO 8601 time, with or without a zone (then in
// KST); zero when empty or unreadable.
func parseTossTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, kst); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// tossPayment is the part of Toss's Payment object LOKIZ reads.
type tossPayment struct {
	PaymentKey    string       `json:"paymentKey"`
	OrderID       string       `json:"orderId"`
	OrderName     string       `json:"orderName"`
	Status        string       `json:"status"`
	Type          string       `json:"type"`
	Method        string       `json:"method"`
	Currency      string       `json:"currency"`
	TotalAmount   int64        `json:"totalAmount"`
	BalanceAmount int64        `json:"balanceAmount"`
	ApprovedAt    string       `json:"approvedAt"`
	Cancels       []tossCancel `json:"cancels"`
}

type tossCancel struct {
	CancelAmount int64  `json:"cancelAmount"`
	CancelStatus string `json:"cancelStatus"`
}

// payment maps Toss's statuses to ours: DONE is paid; CANCELED and
// PARTIAL_CANCELED are refunded (Refunded says how much); ABORTED and
// EXPIRED failed; READY, IN_PROGRESS, WAITING_FOR_DEPOSIT and anything
// unknown are pending, which acts on nothing.
func (p tossPayment) payment() Payment {
	out := Payment{Currency: strings.ToLower(p.Currency), PaymentID: p.PaymentKey, State: StatePending}
	switch p.Status {
	case TossDone:
		out.State, out.Amount = StatePaid, p.TotalAmount
	case TossCanceled, TossPartialCanceled:
		out.State, out.Amount = StateRefunded, p.TotalAmount
		for _, c := range p.Cancels {
			if c.CancelStatus == "" || c.CancelStatus == "DONE" {
				out.Refunded += c.CancelAmount
			}
		}
		if out.Refunded == 0 {
			out.Refunded = p.TotalAmount - p.BalanceAmount
		}
	case TossAborted, TossExpired:
		out.State = StateFailed
	}
	return out
}

// idemKey is key, or a fresh one so that the client's own retries of this
// call are safe.
func idemKey(key string) string {
	if key != "" {
		return key
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "lokiz-" + hex.EncodeToString(b)
}

// do sends one API call and decodes its answer into out. A GET, or a POST
// with an Idempotency-Key, is retried after a network error, a 429 or a 5xx.
func (c *TossClient) do(ctx context.Context, method, path, idempotencyKey string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("payments: toss: %w", err)
		}
	}
	retryable := method == http.MethodGet || idempotencyKey != ""
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, idempotencyKey, payload, out)
		if err == nil {
			return nil
		}
		var te *TossError
		transient := ctx.Err() == nil &&
			(!errors.As(err, &te) || te.Status == http.StatusTooManyRequests || te.Status >= 500)
		if !retryable || !transient || attempt >= c.cfg.MaxRetries {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (c *TossClient) once(ctx context.Context, method, path, idempotencyKey string, payload []byte, out any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("payments: toss: %w", err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lokiz")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("payments: toss %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("payments: toss %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		te := &TossError{Status: resp.StatusCode}
		if json.Unmarshal(raw, te) != nil || te.Code == "" {
			te.Code = fmt.Sprintf("HTTP_%d", resp.StatusCode)
			te.Message = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		}
		return te
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("payments: toss %s %s: decode answer: %w", method, path, err)
	}
	return nil
}
