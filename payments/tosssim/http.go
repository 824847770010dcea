package tosssim

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// apiError is Toss's error answer.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payments/confirm", s.post(s.confirm))
	mux.HandleFunc("GET /v1/payments/orders/{orderId}", s.getByOrder)
	mux.HandleFunc("GET /v1/payments/{paymentKey}", s.getByKey)
	mux.HandleFunc("POST /v1/payments/{paymentKey}/cancel", s.post(s.cancelPayment))
	mux.HandleFunc("POST /v1/billing/authorizations/issue", s.post(s.issueBillingKey))
	mux.HandleFunc("POST /v1/billing/{billingKey}", s.post(s.chargeBilling))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist."})
	})
	return s.open(s.authorize(mux))
}

// open answers 503 once the server is closed.
func (s *Server) open(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			writeError(w, &apiError{http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "The simulator is shutting down."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorize wants Basic auth with the secret key and an empty password.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || pass != "" || subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.SecretKey)) != 1 {
			writeError(w, &apiError{http.StatusUnauthorized, "UNAUTHORIZED_KEY", "The secret key or client key is not authorized."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// post runs a state-changing handler under the server's lock, once per
// Idempotency-Key: a repeat of the key on the same route gets the stored
// answer.
func (s *Server) post(h func(r *http.Request, body []byte) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
		if err != nil {
			writeError(w, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "The request body is too large or unreadable."})
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if len(key) > 300 {
			writeError(w, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "The Idempotency-Key is longer than 300 characters."})
			return
		}
		route := r.Method + " " + r.URL.Path
		s.mu.Lock()
		if prev, ok := s.idem[key]; key != "" && ok {
			s.mu.Unlock()
			if prev.route != route {
				writeError(w, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "The Idempotency-Key was used for another request."})
				return
			}
			writeRaw(w, prev.status, prev.body)
			return
		}
		status, v := h(r, body)
		if e, ok := v.(*apiError); ok {
			status = e.status
		}
		out, _ := json.Marshal(v)
		if key != "" {
			s.idem[key] = idemAnswer{route: route, status: status, body: out}
		}
		s.mu.Unlock()
		writeRaw(w, status, out)
	}
}

func decode(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return &apiError{http.StatusBadRequest, "INVALID_REQUEST", "The request body is not valid JSON: " + err.Error()}
	}
	return nil
}

func (s *Server) confirm(_ *http.Request, body []byte) (int, any) {
	var req struct {
		PaymentKey string `json:"paymentKey"`
		OrderID    string `json:"orderId"`
		Amount     int64  `json:"amount"`
	}
	if e := decode(body, &req); e != nil {
		return 0, e
	}
	if req.PaymentKey == "" || req.OrderID == "" || req.Amount <= 0 {
		return 0, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "paymentKey, orderId and a positive amount are required."}
	}
	p, ok := s.payments[req.PaymentKey]
	switch {
	case !ok:
		return 0, &apiError{http.StatusNotFound, "NOT_FOUND_PAYMENT", "The payment does not exist."}
	case p.orderID != req.OrderID || p.status == "EXPIRED":
		return 0, &apiError{http.StatusNotFound, "NOT_FOUND_PAYMENT_SESSION", "No payment session for this payment and order."}
	case p.status == "ABORTED":
		return 0, &apiError{http.StatusBadRequest, p.failure.Code, p.failure.Message}
	case p.status != "READY" && p.status != "IN_PROGRESS":
		return 0, &apiError{http.StatusBadRequest, "ALREADY_PROCESSED_PAYMENT", "The payment has already been processed."}
	case p.total != req.Amount:
		return 0, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "The amount does not match the amount of the payment request."}
	}
	p.status, p.approvedAt, p.lastTx = "DONE", s.now(), newTxKey()
	p.approvals++
	s.emitLocked(p)
	return http.StatusOK, s.viewLocked(p)
}

func (s *Server) cancelPayment(r *http.Request, body []byte) (int, any) {
	var req struct {
		CancelReason string `json:"cancelReason"`
		CancelAmount int64  `json:"cancelAmount"`
	}
	if e := decode(body, &req); e != nil {
		return 0, e
	}
	p, ok := s.payments[r.PathValue("paymentKey")]
	if !ok {
		return 0, &apiError{http.StatusNotFound, "NOT_FOUND_PAYMENT", "The payment does not exist."}
	}
	if e := s.cancelLocked(p, req.CancelAmount, req.CancelReason); e != nil {
		return 0, e
	}
	return http.StatusOK, s.viewLocked(p)
}

func (s *Server) issueBillingKey(_ *http.Request, body []byte) (int, any) {
	var req struct {
		AuthKey     string `json:"authKey"`
		CustomerKey string `json:"customerKey"`
	}
	if e := decode(body, &req); e != nil {
		return 0, e
	}
	if req.AuthKey == "" || req.CustomerKey == "" {
		return 0, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "authKey and customerKey are required."}
	}
	a, ok := s.auths[req.AuthKey]
	switch {
	case !ok || a.used:
		return 0, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "The authKey is unknown or already used."}
	case a.customerKey != req.CustomerKey:
		return 0, &apiError{http.StatusBadRequest, "NOT_MATCHES_CUSTOMER_KEY", "The customerKey is not the one the card was authorized for."}
	}
	a.used = true
	b := &billing{key: newKey("", 40), customerKey: req.CustomerKey, authenticatedAt: s.now()}
	s.billings[b.key] = b
	return http.StatusOK, map[string]any{
		"mId":             "tosssim",
		"customerKey":     b.customerKey,
		"authenticatedAt": formatTime(b.authenticatedAt),
		"method":          "카드",
		"billingKey":      b.key,
		"cardCompany":     "신한",
		"cardNumber":      "43301234****123*",
		"card": map[string]any{
			"issuerCode": "4V", "acquirerCode": "41", "number": "43301234****123*", "cardType": "신용", "ownerType": "개인",
		},
	}
}

func (s *Server) chargeBilling(r *http.Request, body []byte) (int, any) {
	var req struct {
		CustomerKey string `json:"customerKey"`
		Amount      int64  `json:"amount"`
		OrderID     string `json:"orderId"`
		OrderName   string `json:"orderName"`
	}
	if e := decode(body, &req); e != nil {
		return 0, e
	}
	b, ok := s.billings[r.PathValue("billingKey")]
	switch {
	case !ok:
		return 0, &apiError{http.StatusNotFound, "NOT_FOUND_BILLING_KEY", "The billing key does not exist."}
	case req.CustomerKey == "" || req.Amount <= 0 || req.OrderID == "" || req.OrderName == "":
		return 0, &apiError{http.StatusBadRequest, "INVALID_REQUEST", "customerKey, a positive amount, orderId and orderName are required."}
	case req.CustomerKey != b.customerKey:
		return 0, &apiError{http.StatusBadRequest, "NOT_MATCHES_CUSTOMER_KEY", "The customerKey is not the billing key's."}
	case s.byOrder[req.OrderID] != "":
		return 0, &apiError{http.StatusBadRequest, "DUPLICATED_ORDER_ID", "The orderId has already been used."}
	case b.declined:
		return 0, &apiError{http.StatusBadRequest, "REJECT_CARD_PAYMENT", "The card issuer refused the payment."}
	}
	now := s.now()
	p := &payment{
		key: newKey("tsim", 30), orderID: req.OrderID, orderName: req.OrderName, customerKey: req.CustomerKey,
		typ: "BILLING", status: "DONE", total: req.Amount, balance: req.Amount, requestedAt: now, approvedAt: now,
		lastTx: newTxKey(), approvals: 1, billingKey: b.key,
	}
	s.addLocked(p)
	return http.StatusOK, s.viewLocked(p)
}

func (s *Server) getByKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.payments[r.PathValue("paymentKey")]
	s.writeFound(w, p, ok)
}

func (s *Server) getByOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.payments[s.byOrder[r.PathValue("orderId")]]
	s.writeFound(w, p, ok)
}

// writeFound writes p and unlocks s.mu.
func (s *Server) writeFound(w http.ResponseWriter, p *payment, ok bool) {
	if !ok {
		s.mu.Unlock()
		writeError(w, &apiError{http.StatusNotFound, "NOT_FOUND_PAYMENT", "The payment does not exist."})
		return
	}
	v := s.viewLocked(p)
	s.mu.Unlock()
	out, _ := json.Marshal(v)
	writeRaw(w, http.StatusOK, out)
}

// paymentJSON is Toss's Payment object (version 2022-11-16), in part.
type paymentJSON struct {
	MID                 string       `json:"mId"`
	Version             string       `json:"version"`
	LastTransactionKey  *string      `json:"lastTransactionKey"`
	PaymentKey          string       `json:"paymentKey"`
	OrderID             string       `json:"orderId"`
	OrderName           string       `json:"orderName"`
	TaxExemptionAmount  int64        `json:"taxExemptionAmount"`
	Status              string       `json:"status"`
	RequestedAt         any          `json:"requestedAt"`
	ApprovedAt          any          `json:"approvedAt"`
	UseEscrow           bool         `json:"useEscrow"`
	CultureExpense      bool         `json:"cultureExpense"`
	Card                any          `json:"card"`
	Cancels             []cancelJSON `json:"cancels"`
	Secret              *string      `json:"secret"`
	Type                string       `json:"type"`
	Country             string       `json:"country"`
	Failure             *apiError    `json:"failure"`
	IsPartialCancelable bool         `json:"isPartialCancelable"`
	Receipt             any          `json:"receipt"`
	Checkout            any          `json:"checkout"`
	Currency            string       `json:"currency"`
	TotalAmount         int64        `json:"totalAmount"`
	BalanceAmount       int64        `json:"balanceAmount"`
	SuppliedAmount      int64        `json:"suppliedAmount"`
	VAT                 int64        `json:"vat"`
	TaxFreeAmount       int64        `json:"taxFreeAmount"`
	Method              *string      `json:"method"`
	Metadata            *struct{}    `json:"metadata"`
	CustomerKey         *string      `json:"customerKey,omitempty"`
	EasyPay             *struct{}    `json:"easyPay"`
	VirtualAccount      *struct{}    `json:"virtualAccount"`
	Transfer            *struct{}    `json:"transfer"`
	MobilePhone         *struct{}    `json:"mobilePhone"`
	GiftCertificate     *struct{}    `json:"giftCertificate"`
	CashReceipt         *struct{}    `json:"cashReceipt"`
	Discount            *struct{}    `json:"discount"`
}

type cancelJSON struct {
	TransactionKey     string `json:"transactionKey"`
	CancelReason       string `json:"cancelReason"`
	TaxExemptionAmount int64  `json:"taxExemptionAmount"`
	CanceledAt         any    `json:"canceledAt"`
	CancelAmount       int64  `json:"cancelAmount"`
	TaxFreeAmount      int64  `json:"taxFreeAmount"`
	RefundableAmount   int64  `json:"refundableAmount"`
	CancelStatus       string `json:"cancelStatus"`
}

// viewLocked renders p as Toss does; s.mu must be held.
func (s *Server) viewLocked(p *payment) paymentJSON {
	v := paymentJSON{
		MID: "tosssim", Version: "2022-11-16", PaymentKey: p.key, OrderID: p.orderID, OrderName: p.orderName,
		Status: p.status, RequestedAt: formatTime(p.requestedAt), ApprovedAt: formatTime(p.approvedAt),
		Type: p.typ, Country: "KR", Failure: p.failure, IsPartialCancelable: true, Currency: "KRW",
		TotalAmount: p.total, BalanceAmount: p.balance,
	}
	v.VAT = (p.balance*10 + 55) / 110 // a tenth of the supplied amount, rounded
	v.SuppliedAmount = p.balance - v.VAT
	if p.lastTx != "" {
		tx := p.lastTx // a copy: the view is encoded after s.mu is released
		v.LastTransactionKey = &tx
	}
	if p.status != "READY" {
		method := "카드"
		v.Method = &method
		v.Card = map[string]any{
			"amount": p.total, "issuerCode": "4V", "acquirerCode": "41", "number": "43301234****123*",
			"installmentPlanMonths": 0, "approveNo": "00000000", "useCardPoint": false, "cardType": "신용",
			"ownerType": "개인", "acquireStatus": "READY", "isInterestFree": false,
		}
	}
	if p.typ == "BILLING" {
		ck := p.customerKey
		v.CustomerKey = &ck
	}
	if p.approvedAt.IsZero() {
		v.Card = nil
	} else {
		v.Receipt = map[string]string{"url": "https://dashboard.tosspayments.com/receipt/redirection?transactionId=" + p.key}
	}
	v.Checkout = map[string]string{"url": "https://api.tosspayments.com/v1/payments/" + p.key + "/checkout"}
	if len(p.cancels) > 0 {
		left := p.total
		for _, c := range p.cancels {
			left -= c.amount
			v.Cancels = append(v.Cancels, cancelJSON{
				TransactionKey: c.tx, CancelReason: c.reason, CanceledAt: formatTime(c.at), CancelAmount: c.amount,
				RefundableAmount: left, CancelStatus: "DONE",
			})
		}
	}
	return v
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	out, _ := json.Marshal(e)
	writeRaw(w, e.status, out)
}

// Start runs a new Server with opts on a free loopback port; URL returns
// its root, the base URL of a client. Close stops it.
func Start(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := New(opts)
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ListenAndServe runs a simulator on addr (such as "127.0.0.1:8091") until
// ctx is done, then shuts it down.
func ListenAndServe(ctx context.Context, addr string, opts Options) error {
	s := New(opts)
	defer s.Close()
	srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.opts.Logger.Info("tosssim: toss payments simulator listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
