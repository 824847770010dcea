package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
)

// Stripe in the chaos run: stripe-go (in the api and worker processes) →
// stripeFront → paymenttest.StripeOverlay → stripe-mock. stripe-mock is
// stateless and answers every Checkout Session create with the same
// fixture id, while payment_orders keeps one order per (provider, session
// id): stripeFront gives each created session its own id, derived from the
// order it is for (client_reference_id), and takes 100–500 ms over a
// session read, as a remote API does, so a payments:fulfill task is
// running long enough for a worker kill to land in it. The overlay holds
// what Stripe says about the sessions the driver "paid".

// stripeFront is the Stripe API base the lokiz processes use.
type stripeFront struct {
	upstream string
	client   *http.Client
	h        *harness
}

func startStripe(t *testing.T, h *harness) (*paymenttest.StripeOverlay, string) {
	t.Helper()
	overlay := paymenttest.NewStripeOverlay(t, paymenttest.StartStripeMock(t).URL)
	f := &stripeFront{upstream: overlay.URL, client: &http.Client{Timeout: 30 * time.Second}, h: h}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return overlay, srv.URL
}

// chaosSessionID is the session id stripeFront gives the session of order.
func chaosSessionID(orderID string) string {
	return "cs_test_chaos" + strings.ReplaceAll(orderID, "-", "")
}

func (f *stripeFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/checkout/sessions/") {
		time.Sleep(time.Duration(100+f.h.intn(400)) * time.Millisecond)
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, f.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	req.Header.Del("Accept-Encoding")
	resp, err := f.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions" && resp.StatusCode == http.StatusOK {
		form, _ := url.ParseQuery(string(body))
		if ref := form.Get("client_reference_id"); ref != "" {
			var obj map[string]any
			if json.Unmarshal(out, &obj) == nil {
				obj["id"] = chaosSessionID(ref)
				out, _ = json.Marshal(obj)
			}
		}
	}
	for k, vs := range resp.Header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// stripeModes are what happens to a Stripe order's webhooks after the
// payer pays: one checkout.session.completed; the same event 3–5 times in
// parallel; async_payment_succeeded before completed (reordered, the
// second 0.5–2.5 s later); none at all (payments:reconcile must find the
// payment); and an abandoned checkout, never paid and never announced.
var stripeModes = []string{"once", "duplicated", "reordered", "dropped", "abandoned"}

// stripePurchase buys credits through Stripe Checkout: the order through
// the api, the payment played on the overlay (Stripe now says the session
// is paid), then the webhooks in one of stripeModes, delivered through the
// public address as Stripe would, retried on a failed delivery.
func (h *harness) stripePurchase(u *account) {
	status, buy := h.call(h.api(), "POST", "/v1/credits/purchase", u.token, map[string]any{"package_id": "starter_100", "provider": "stripe"})
	if status != http.StatusCreated {
		return
	}
	orderID, _ := buy["order_id"].(string)
	sess, _ := buy["session_id"].(string)
	amount, _ := buy["amount"].(float64)
	require.Equal(h.t, chaosSessionID(orderID), sess, "the order keeps its own session")
	mode := stripeModes[h.intn(len(stripeModes))]
	h.mu.Lock()
	h.stripeCounts[mode]++
	if mode == "abandoned" {
		h.stripeAbandoned = append(h.stripeAbandoned, orderID)
	} else {
		h.stripePaid = append(h.stripePaid, orderID)
	}
	h.mu.Unlock()
	if mode == "abandoned" {
		return
	}
	hex := strings.ReplaceAll(orderID, "-", "") // the whole id: UUIDv7s of one millisecond share their start
	pi := "pi_" + hex
	h.stripe.Set(sess, map[string]any{
		"status": "complete", "payment_status": "paid", "mode": "payment", "amount_total": int64(amount), "currency": "usd",
		"client_reference_id": orderID, "subscription": nil,
		"payment_intent": map[string]any{"id": pi, "status": "succeeded", "amount_received": int64(amount)},
	})
	h.stripe.Set(pi, map[string]any{"latest_charge": map[string]any{"id": "ch_" + pi[3:]}})
	h.stripe.Set("ch_"+pi[3:], map[string]any{"amount": int64(amount), "amount_refunded": 0})

	event := func(typ string) []byte {
		return paymenttest.StripeEventJSON(h.t, "evt_"+hex+"_"+typ[len("checkout.session."):],
			typ, map[string]any{"id": sess, "object": "checkout.session", "client_reference_id": orderID, "mode": "payment",
				"payment_status": "paid", "status": "complete"})
	}
	completed := event(payments.StripeCheckoutCompleted)
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		switch mode {
		case "once":
			h.deliverStripe(completed)
		case "duplicated":
			var wg sync.WaitGroup
			for range 3 + h.intn(3) {
				wg.Add(1)
				go func() { defer wg.Done(); h.deliverStripe(completed) }()
			}
			wg.Wait()
		case "reordered":
			h.deliverStripe(event(payments.StripeAsyncPaymentSucceeded))
			time.Sleep(time.Duration(500+h.intn(2000)) * time.Millisecond)
			h.deliverStripe(completed)
		}
	}()
}

// deliverStripe posts a signed event to the public webhook address, as
// Stripe does: a failed delivery (no answer, or not 2xx) is tried again,
// up to four times in all, each signed anew.
func (h *harness) deliverStripe(body []byte) {
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * time.Second)
		}
		req, _ := http.NewRequest(http.MethodPost, h.public+"/v1/webhooks/stripe", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now()))
		status := h.send("webhook POST /v1/webhooks/stripe", req)
		if status >= 200 && status < 300 {
			return
		}
	}
}

// stripeInvariants: every order the driver paid at Stripe is fulfilled,
// whatever happened to its webhooks; an abandoned checkout is neither
// fulfilled nor granted anything.
func (h *harness) stripeInvariants(conn *pgx.Conn) []string {
	h.mu.Lock()
	paid, abandoned := h.stripePaid, h.stripeAbandoned
	h.mu.Unlock()
	v := h.queryViolations(conn, "stripe order paid at Stripe but not fulfilled",
		`SELECT id::text, status FROM payment_orders WHERE id = ANY($1::uuid[]) AND status <> 'fulfilled'`, paid)
	v = append(v, h.queryViolations(conn, "stripe order never paid but settled or granted (id, status, grants)",
		`SELECT o.id::text, o.status, (SELECT count(*) FROM credit_transactions WHERE idempotency_key = 'payment:' || o.id)
		   FROM payment_orders o
		  WHERE o.id = ANY($1::uuid[])
		    AND (o.status NOT IN ('pending', 'canceled', 'failed')
		         OR EXISTS (SELECT 1 FROM credit_transactions WHERE idempotency_key = 'payment:' || o.id))`, abandoned)...)
	return v
}

// ordersFulfilledOnce: every fulfilled package order (Toss or Stripe) has
// exactly one purchase grant, keyed by the order, for its credits; an
// order never paid has none.
func (h *harness) ordersFulfilledOnce(conn *pgx.Conn) []string {
	v := h.queryViolations(conn, "order fulfilled but not granted exactly once (id, provider, grants, granted, credits)",
		`SELECT o.id::text, o.provider, count(ct.id), COALESCE(sum(ct.credits), 0), o.credits
		   FROM payment_orders o LEFT JOIN credit_transactions ct
		     ON ct.idempotency_key = 'payment:' || o.id AND ct.transaction_type = 'purchase'
		  WHERE o.status = 'fulfilled' AND o.kind = 'package'
		  GROUP BY o.id, o.provider, o.credits HAVING count(ct.id) <> 1 OR COALESCE(sum(ct.credits), 0) <> o.credits`)
	v = append(v, h.queryViolations(conn, "order never paid but granted (id, provider, status)",
		`SELECT o.id::text, o.provider, o.status FROM payment_orders o
		  WHERE o.status IN ('pending', 'canceled', 'failed')
		    AND EXISTS (SELECT 1 FROM credit_transactions WHERE idempotency_key = 'payment:' || o.id)`)...)
	return v
}

// stripeOpen counts the paid Stripe orders settle still waits for.
func (h *harness) stripeOpen(ctx context.Context, conn *pgx.Conn) (int, error) {
	h.mu.Lock()
	paid := h.stripePaid
	h.mu.Unlock()
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM payment_orders WHERE id = ANY($1::uuid[]) AND status <> 'fulfilled'`, paid).Scan(&n)
	return n, err
}

// stripeSummaryLocked counts the Stripe orders by mode; h.mu must be held.
func (h *harness) stripeSummaryLocked() string {
	parts := make([]string, 0, len(stripeModes))
	for _, m := range stripeModes {
		parts = append(parts, fmt.Sprintf("%s=%d", m, h.stripeCounts[m]))
	}
	return strings.Join(parts, " ")
}
