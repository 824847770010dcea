package tosssim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments/tosssim"
)

// call sends a raw request with the secret key (when secret is not empty)
// and decodes the JSON answer.
func call(t *testing.T, base, secret, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
	require.NoError(t, err)
	if secret != "" {
		req.SetBasicAuth(secret, "")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func start(t *testing.T, opts tosssim.Options) *tosssim.Server {
	t.Helper()
	s, err := tosssim.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := start(t, tosssim.Options{SecretKey: "test_sk_a"})
	for name, set := range map[string]func(*http.Request){
		"None":     func(*http.Request) {},
		"Wrong":    func(r *http.Request) { r.SetBasicAuth("test_sk_b", "") },
		"Password": func(r *http.Request) { r.SetBasicAuth("test_sk_a", "x") },
		"Bearer":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer test_sk_a") },
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/v1/payments/orders/x", nil)
		require.NoError(t, err)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var e map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		_ = resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
		require.Equal(t, "UNAUTHORIZED_KEY", e["code"], name)
	}
	status, e := call(t, s.URL(), "test_sk_a", http.MethodGet, "/v1/payments/orders/x", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "NOT_FOUND_PAYMENT", e["code"])
	status, e = call(t, s.URL(), "test_sk_a", http.MethodGet, "/v1/nothing", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "NOT_FOUND", e["code"])
}

func TestPaymentShape(t *testing.T) {
	t.Parallel()
	s := start(t, tosssim.Options{})
	r, err := s.PayWidget(tosssim.WidgetOrder{OrderID: "order_shape_1", OrderName: "Starter Pack", Amount: 15000})
	require.NoError(t, err)
	require.Equal(t, "order_shape_1", r.OrderID)
	require.Equal(t, int64(15000), r.Amount)

	status, p := call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/confirm",
		`{"paymentKey":"`+r.PaymentKey+`","orderId":"order_shape_1","amount":15000}`, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "DONE", p["status"])
	require.Equal(t, "KRW", p["currency"])
	require.Equal(t, "카드", p["method"])
	require.Equal(t, "NORMAL", p["type"])
	require.EqualValues(t, 15000, p["totalAmount"])
	require.EqualValues(t, 15000, p["balanceAmount"])
	require.EqualValues(t, 1364, p["vat"])
	require.EqualValues(t, 13636, p["suppliedAmount"])
	approved, err := time.Parse(time.RFC3339, p["approvedAt"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), approved, time.Minute)
	require.True(t, strings.HasSuffix(p["approvedAt"].(string), "+09:00"))
	require.Nil(t, p["cancels"])
	require.NotEmpty(t, p["lastTransactionKey"])
	_, err = s.PayWidget(tosssim.WidgetOrder{OrderID: "order_shape_1", OrderName: "Starter Pack", Amount: 15000})
	require.ErrorContains(t, err, "DUPLICATED_ORDER_ID", "a paid order is not paid again")

	status, p = call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/"+r.PaymentKey+"/cancel",
		`{"cancelReason":"part","cancelAmount":5000}`, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "PARTIAL_CANCELED", p["status"])
	require.EqualValues(t, 10000, p["balanceAmount"])
	cancels := p["cancels"].([]any)
	require.Len(t, cancels, 1)
	c := cancels[0].(map[string]any)
	require.EqualValues(t, 5000, c["cancelAmount"])
	require.EqualValues(t, 10000, c["refundableAmount"])
	require.Equal(t, "DONE", c["cancelStatus"])
	require.Equal(t, "part", c["cancelReason"])

	_, byOrder := call(t, s.URL(), s.SecretKey(), http.MethodGet, "/v1/payments/orders/order_shape_1", "", nil)
	require.Equal(t, p, byOrder)
	_, byKey := call(t, s.URL(), s.SecretKey(), http.MethodGet, "/v1/payments/"+r.PaymentKey, "", nil)
	require.Equal(t, p, byKey)
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	s := start(t, tosssim.Options{})
	for name, tc := range map[string]struct{ path, body, code string }{
		"NotJSON":        {"/v1/payments/confirm", `paymentKey=1`, "INVALID_REQUEST"},
		"MissingAmount":  {"/v1/payments/confirm", `{"paymentKey":"k","orderId":"o"}`, "INVALID_REQUEST"},
		"AmountAsText":   {"/v1/payments/confirm", `{"paymentKey":"k","orderId":"o","amount":"ten"}`, "INVALID_REQUEST"},
		"UnknownPayment": {"/v1/payments/confirm", `{"paymentKey":"k","orderId":"o","amount":10}`, "NOT_FOUND_PAYMENT"},
		"CancelUnknown":  {"/v1/payments/k/cancel", `{"cancelReason":"x"}`, "NOT_FOUND_PAYMENT"},
		"IssueEmpty":     {"/v1/billing/authorizations/issue", `{}`, "INVALID_REQUEST"},
		"IssueUnknown":   {"/v1/billing/authorizations/issue", `{"authKey":"a","customerKey":"c"}`, "INVALID_REQUEST"},
		"ChargeUnknown":  {"/v1/billing/bk", `{"customerKey":"c","amount":1,"orderId":"o","orderName":"n"}`, "NOT_FOUND_BILLING_KEY"},
	} {
		status, e := call(t, s.URL(), s.SecretKey(), http.MethodPost, tc.path, tc.body, nil)
		require.Equal(t, tc.code, e["code"], name)
		require.NotEmpty(t, e["message"], name)
		require.True(t, status == http.StatusBadRequest || status == http.StatusNotFound, name)
	}
	status, e := call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/confirm", `{}`,
		map[string]string{"Idempotency-Key": strings.Repeat("k", 301)})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "INVALID_REQUEST", e["code"])
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	s := start(t, tosssim.Options{})
	r, err := s.PayWidget(tosssim.WidgetOrder{OrderID: "order_idem_1", OrderName: "Pack", Amount: 1000})
	require.NoError(t, err)
	body := `{"paymentKey":"` + r.PaymentKey + `","orderId":"order_idem_1","amount":1000}`
	key := map[string]string{"Idempotency-Key": "idem-1"}

	var wg sync.WaitGroup
	answers := make([]map[string]any, 8)
	for i := range answers {
		wg.Go(func() {
			status, p := call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/confirm", body, key)
			require.Equal(t, http.StatusOK, status)
			answers[i] = p
		})
	}
	wg.Wait()
	for _, a := range answers {
		require.Equal(t, answers[0], a)
	}
	snap, _ := s.Payment(r.PaymentKey)
	require.Equal(t, 1, snap.Approvals)

	// Without the key the second confirm is refused as processed.
	status, e := call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/confirm", body, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "ALREADY_PROCESSED_PAYMENT", e["code"])
	// The key on another route is refused.
	status, e = call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/"+r.PaymentKey+"/cancel",
		`{"cancelReason":"x"}`, key)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "INVALID_REQUEST", e["code"])
	snap, _ = s.Payment(r.PaymentKey)
	require.Equal(t, "DONE", snap.Status)
	// An error answer is repeated too, and changes nothing.
	errKey := map[string]string{"Idempotency-Key": "idem-2"}
	for range 2 {
		status, e = call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/"+r.PaymentKey+"/cancel",
			`{"cancelReason":"x","cancelAmount":5000}`, errKey)
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "NOT_CANCELABLE_AMOUNT", e["code"])
	}
}

func TestControlsRefuse(t *testing.T) {
	t.Parallel()
	s := start(t, tosssim.Options{})
	require.Error(t, s.FailPayment("nope"))
	require.Error(t, s.ExpirePayment("nope"))
	require.Error(t, s.Refund("nope", 0, "x"))
	require.Error(t, s.DeclineCard("nope", true))
	require.Error(t, s.SendWebhook("nope"))
	_, err := s.AuthorizeCard("")
	require.Error(t, err)
	_, err = s.PayWidget(tosssim.WidgetOrder{})
	require.Error(t, err)
	r, err := s.PayWidget(tosssim.WidgetOrder{OrderID: "order_ctl_1", OrderName: "Pack", Amount: 1000})
	require.NoError(t, err)
	require.Error(t, s.Refund(r.PaymentKey, 0, "not paid"))
	require.Error(t, s.SendWebhook(r.PaymentKey), "no webhook URL")
	require.NoError(t, s.FailPayment(r.PaymentKey))
	require.Error(t, s.FailPayment(r.PaymentKey), "already ended")
	// A failed order may be paid again by the widget.
	again, err := s.PayWidget(tosssim.WidgetOrder{OrderID: "order_ctl_1", OrderName: "Pack", Amount: 1000})
	require.NoError(t, err)
	require.NotEqual(t, r.PaymentKey, again.PaymentKey)
	require.Len(t, s.Payments(), 2)
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []map[string]any
	got := make(chan struct{}, 8)
	tries := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		if tries == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		bodies = append(bodies, b)
		got <- struct{}{}
	}))
	t.Cleanup(hook.Close)
	s := start(t, tosssim.Options{WebhookURL: hook.URL, WebhookRetryDelay: 10 * time.Millisecond})
	r, err := s.PayWidget(tosssim.WidgetOrder{OrderID: "order_hook_1", OrderName: "Pack", Amount: 1000})
	require.NoError(t, err)
	require.NoError(t, s.ExpirePayment(r.PaymentKey))
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 2, tries)
	require.Equal(t, "PAYMENT_STATUS_CHANGED", bodies[0]["eventType"])
	_, err = time.Parse("2006-01-02T15:04:05.000000", bodies[0]["createdAt"].(string))
	require.NoError(t, err)
	data := bodies[0]["data"].(map[string]any)
	require.Equal(t, "EXPIRED", data["status"])
	require.Equal(t, "order_hook_1", data["orderId"])
	require.Equal(t, "NOT_FOUND_PAYMENT_SESSION", data["failure"].(map[string]any)["code"])
}

// TestBillingWebhooks: a billing charge sends no webhook (its caller has
// the answer); its later cancel does, like a one-time payment's.
func TestBillingWebhooks(t *testing.T) {
	t.Parallel()
	bodies := make(chan map[string]any, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		bodies <- b
	}))
	t.Cleanup(hook.Close)
	s := start(t, tosssim.Options{SecretKey: "test_sk_bh", WebhookURL: hook.URL})
	auth, err := s.AuthorizeCard("ck_billing_hooks")
	require.NoError(t, err)
	status, bk := call(t, s.URL(), "test_sk_bh", "POST", "/v1/billing/authorizations/issue",
		`{"authKey":"`+auth.AuthKey+`","customerKey":"ck_billing_hooks"}`, nil)
	require.Equal(t, http.StatusOK, status, "%v", bk)
	status, paid := call(t, s.URL(), "test_sk_bh", "POST", "/v1/billing/"+bk["billingKey"].(string),
		`{"customerKey":"ck_billing_hooks","amount":12900,"orderId":"order_bill_1","orderName":"Basic plan"}`, nil)
	require.Equal(t, http.StatusOK, status, "%v", paid)
	require.Equal(t, "DONE", paid["status"])
	select {
	case b := <-bodies:
		t.Fatalf("a billing charge sent a webhook: %v", b)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, s.Refund(paid["paymentKey"].(string), 2900, "partial"))
	select {
	case b := <-bodies:
		data := b["data"].(map[string]any)
		require.Equal(t, "PARTIAL_CANCELED", data["status"])
		require.Equal(t, "order_bill_1", data["orderId"])
		require.Equal(t, "BILLING", data["type"])
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook for the cancel")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	s := tosssim.New(tosssim.Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	require.NoError(t, s.Close())
	status, e := call(t, srv.URL, s.SecretKey(), http.MethodGet, "/v1/payments/x", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.NotEmpty(t, e["code"])
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- tosssim.ListenAndServe(ctx, "127.0.0.1:0", tosssim.Options{}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return")
	}
	require.Error(t, tosssim.ListenAndServe(t.Context(), "256.0.0.1:1", tosssim.Options{}))
}

func TestConcurrentReadsAndCancels(t *testing.T) {
	t.Parallel()
	s := start(t, tosssim.Options{})
	r, err := s.PayWidget(tosssim.WidgetOrder{OrderID: "order_race_1", OrderName: "Pack", Amount: 10000})
	require.NoError(t, err)
	status, _ := call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/confirm",
		`{"paymentKey":"`+r.PaymentKey+`","orderId":"order_race_1","amount":10000}`, nil)
	require.Equal(t, http.StatusOK, status)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			status, _ := call(t, s.URL(), s.SecretKey(), http.MethodPost, "/v1/payments/"+r.PaymentKey+"/cancel",
				`{"cancelReason":"part","cancelAmount":1000}`, nil)
			require.Equal(t, http.StatusOK, status)
		})
		wg.Go(func() {
			status, p := call(t, s.URL(), s.SecretKey(), http.MethodGet, "/v1/payments/orders/order_race_1", "", nil)
			require.Equal(t, http.StatusOK, status)
			require.NotEmpty(t, p["lastTransactionKey"])
		})
	}
	wg.Wait()
	snap, _ := s.Payment(r.PaymentKey)
	require.Equal(t, "CANCELED", snap.Status)
	require.Equal(t, 10, snap.Cancels)
	require.Zero(t, snap.BalanceAmount)
}
