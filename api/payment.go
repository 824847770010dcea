package api

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/payments"
)

// MaxWebhookBytes caps a payment provider's webhook body: Stripe's events
// and Toss's payments are a few kilobytes.
const MaxWebhookBytes = 256 << 10

// billingOrUnavailable answers 503 when no payment provider is wired.
func (s *Server) billingOrUnavailable(c *gin.Context) (*billing.Service, bool) {
	if s.billing == nil {
		s.writeError(c, lokiz.Errorf(lokiz.EUNAVAILABLE, "Payments are not configured on this server"))
		return nil, false
	}
	return s.billing, true
}

type purchaseRequest struct {
	PackageID string `json:"package_id"`
	Provider  string `json:"provider"`
}

func (r *purchaseRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if r.PackageID == "" {
		errs = append(errs, fieldErr("is required", "body", "package_id"))
	}
	if r.Provider == "" {
		errs = append(errs, fieldErr("is required", "body", "provider"))
	}
	return errs
}

type purchaseResponse struct {
	OrderID   uuid.UUID `json:"order_id"`
	Status    string    `json:"status"`
	Provider  string    `json:"provider"`
	PackageID string    `json:"package_id"`
	Credits   int32     `json:"credits"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	OrderName string    `json:"order_name"`
	// Stripe (and the development checkout): the hosted page.
	CheckoutURL string `json:"checkout_url,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	// Toss: what the client widget needs with the order id, amount and name.
	CustomerKey string `json:"customer_key,omitempty"`
	ClientKey   string `json:"client_key,omitempty"`
}

// purchaseCredits is POST /v1/credits/purchase: it creates a pending order
// and starts its payment; the credits come only from the provider's
// confirmed payment, through the worker (B-11).
func (s *Server) purchaseCredits(c *gin.Context) {
	b, ok := s.billingOrUnavailable(c)
	if !ok {
		return
	}
	var in purchaseRequest
	if err := bindJSON(c, &in); err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c)
	u, err := s.store.UserByID(c.Request.Context(), me.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	p, err := b.Purchase(c.Request.Context(), billing.Buyer{ID: me.ID, Email: u.Email}, in.PackageID, in.Provider)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := purchaseResponse{OrderID: p.Order.ID, Status: p.Order.Status, Provider: p.Order.Provider, PackageID: p.Order.ItemID,
		Credits: p.Order.Credits, Amount: p.Order.Amount, Currency: p.Order.Currency, OrderName: p.OrderName,
		CheckoutURL: p.Checkout.URL, SessionID: p.Checkout.SessionID}
	if p.Order.Provider == payments.Toss {
		out.CustomerKey, out.ClientKey = p.CustomerKey, p.Checkout.ClientKey
	}
	c.JSON(http.StatusCreated, out)
}

type orderResponse struct {
	ID                uuid.UUID  `json:"id"`
	Kind              string     `json:"kind"`
	ItemID            string     `json:"item_id"`
	Provider          string     `json:"provider"`
	Status            string     `json:"status"`
	Amount            int64      `json:"amount"`
	Currency          string     `json:"currency"`
	Credits           int32      `json:"credits"`
	RefundedAmount    int64      `json:"refunded_amount"`
	CreditsClawedBack int32      `json:"credits_clawed_back"`
	FailureReason     *string    `json:"failure_reason"`
	CreatedAt         time.Time  `json:"created_at"`
	PaidAt            *time.Time `json:"paid_at"`
	FulfilledAt       *time.Time `json:"fulfilled_at"`
	RefundedAt        *time.Time `json:"refunded_at"`
}

func orderOut(o db.PaymentOrder) orderResponse {
	return orderResponse{ID: o.ID, Kind: o.Kind, ItemID: o.ItemID, Provider: o.Provider, Status: o.Status,
		Amount: o.Amount, Currency: o.Currency, Credits: o.Credits, RefundedAmount: o.RefundedAmount,
		CreditsClawedBack: o.CreditsClawedBack, FailureReason: o.FailureReason, CreatedAt: o.CreatedAt.UTC(),
		PaidAt: utc(o.PaidAt), FulfilledAt: utc(o.FulfilledAt), RefundedAt: utc(o.RefundedAt)}
}

// getPaymentOrder is GET /v1/payments/orders/{id}: the caller's own order;
// another user's is 404.
func (s *Server) getPaymentOrder(c *gin.Context) {
	b, ok := s.billingOrUnavailable(c)
	if !ok {
		return
	}
	id, err := pathUUID(c, "order_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	o, err := b.Order(c.Request.Context(), mustUser(c).ID, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, orderOut(o))
}

type tossConfirmRequest struct {
	PaymentKey string `json:"paymentKey"`
	OrderID    string `json:"orderId"`
	Amount     int64  `json:"amount"`
	orderID    uuid.UUID
}

func (r *tossConfirmRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if r.PaymentKey == "" || len(r.PaymentKey) > 200 {
		errs = append(errs, fieldErr("is required (at most 200 characters)", "body", "paymentKey"))
	}
	id, err := uuid.Parse(r.OrderID)
	if err != nil {
		errs = append(errs, fieldErr("must be the order's id", "body", "orderId"))
	}
	r.orderID = id
	if r.Amount <= 0 {
		errs = append(errs, fieldErr("must be positive", "body", "amount"))
	}
	return errs
}

// tossConfirm is POST /v1/payments/toss/confirm, called by the client with
// what the Toss widget's success redirect carried. Only the order's owner
// may confirm it, and only for the stored amount.
func (s *Server) tossConfirm(c *gin.Context) {
	b, ok := s.billingOrUnavailable(c)
	if !ok {
		return
	}
	var in tossConfirmRequest
	if err := bindJSON(c, &in); err != nil {
		s.writeError(c, err)
		return
	}
	o, err := b.ConfirmToss(c.Request.Context(), mustUser(c).ID, billing.TossConfirm{PaymentKey: in.PaymentKey, OrderID: in.orderID, Amount: in.Amount})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, orderOut(o))
}

// readWebhook reads a webhook body up to MaxWebhookBytes.
func (s *Server) readWebhook(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxWebhookBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeError(c, lokiz.Errorf(lokiz.ETOOLARGE, "request body is larger than %d bytes", tooBig.Limit))
			return nil, false
		}
		s.writeError(c, lokiz.Errorf(lokiz.EVALIDATION, "request body could not be read"))
		return nil, false
	}
	return body, true
}

// stripeWebhook is POST /v1/webhooks/stripe: no auth but Stripe's
// signature. A bad signature is 400 and records nothing; a duplicate event
// is 200 and dropped.
func (s *Server) stripeWebhook(c *gin.Context) {
	b, ok := s.billingOrUnavailable(c)
	if !ok {
		return
	}
	body, ok := s.readWebhook(c)
	if !ok {
		return
	}
	status, err := b.StripeWebhook(c.Request.Context(), c.Request.Header, body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": status})
}

// tossWebhook is POST /v1/webhooks/toss?token=…: no auth but the token in
// the registered URL (Toss signs no payment webhook).
func (s *Server) tossWebhook(c *gin.Context) {
	b, ok := s.billingOrUnavailable(c)
	if !ok {
		return
	}
	body, ok := s.readWebhook(c)
	if !ok {
		return
	}
	status, err := b.TossWebhook(c.Request.Context(), payments.TossWebhookHeader(c.Request), body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": status})
}

// devCheckoutPage is the development checkout's page (`lokiz dev` without a
// Stripe key): the order and two buttons. It is mounted only when the
// development checkout is configured, which production never is.
var devCheckoutPage = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LOKIZ development checkout</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
.warn{background:#fff3cd;padding:.75rem;border-radius:.5rem}button{font-size:1.1rem;padding:.5rem 1.5rem;margin-right:1rem}</style>
</head><body>
<h1>Development checkout</h1>
<p class="warn">This page stands in for Stripe Checkout because this server runs <code>lokiz dev</code> without a Stripe key. No money moves.</p>
<p><strong>{{.Name}}</strong> — {{.Price}}</p>
<p>Order <code>{{.OrderID}}</code>: <strong id="state">{{.State}}</strong></p>
{{if eq .State "pending"}}
<form method="post" action="{{.Action}}/pay" style="display:inline"><button type="submit" id="pay">Pay</button></form>
<form method="post" action="{{.Action}}/fail" style="display:inline"><button type="submit" id="fail">Fail</button></form>
{{end}}
</body></html>
`))

func (s *Server) devCheckoutShow(c *gin.Context) {
	sess, ok := s.billing.Providers().Dev.Session(c.Param("session_id"))
	if !ok {
		s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Checkout session not found"))
		return
	}
	price := fmt.Sprintf("%d %s", sess.Amount, strings.ToUpper(sess.Currency))
	if sess.Currency == lokiz.CurrencyUSD {
		price = fmt.Sprintf("US$%d.%02d", sess.Amount/100, sess.Amount%100)
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_ = devCheckoutPage.Execute(c.Writer, map[string]any{
		"Name": sess.Name, "Price": price, "OrderID": sess.OrderID, "State": sess.State,
		"Action": payments.DevCheckoutPath + sess.ID,
	})
}

// devCheckoutDecide presses "Pay" or "Fail": the choice becomes the
// provider's state, and its event takes the webhook's path (recorded, the
// fulfilment enqueued, the worker looks the payment up and grants).
func (s *Server) devCheckoutDecide(pay bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.billing.DevCheckoutDecide(c.Request.Context(), c.Param("session_id"), pay); err != nil {
			s.writeError(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, payments.DevCheckoutPath+c.Param("session_id"))
	}
}
