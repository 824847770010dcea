package payments_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/tosssim"
)

type tossBundle struct {
	sim    *tosssim.Server
	client *payments.TossClient
}

func setupToss(t *testing.T, opts tosssim.Options) *tossBundle {
	t.Helper()
	sim, err := tosssim.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	client, err := payments.NewToss(payments.TossConfig{
		SecretKey: sim.SecretKey(), ClientKey: sim.ClientKey(), BaseURL: sim.URL(), WebhookToken: "hook-token",
	})
	require.NoError(t, err)
	return &tossBundle{sim: sim, client: client}
}

// paid makes an order, lets the widget pay amount for it and returns the
// redirect.
func (b *tossBundle) pay(t *testing.T, amount int64) tosssim.Redirect {
	t.Helper()
	r, err := b.sim.PayWidget(tosssim.WidgetOrder{
		OrderID: uuid.NewString(), OrderName: "Starter Pack", Amount: amount, CustomerKey: uuid.NewString(),
	})
	require.NoError(t, err)
	return r
}

func TestTossNew(t *testing.T) {
	t.Parallel()
	ok := func(base string) error {
		_, err := payments.NewToss(payments.TossConfig{SecretKey: "sk", ClientKey: "ck", BaseURL: base})
		return err
	}
	require.NoError(t, ok(""))
	require.NoError(t, ok("https://api.tosspayments.com"))
	require.NoError(t, ok("https://API.tosspayments.com/"))
	require.NoError(t, ok("http://127.0.0.1:9999"))
	require.NoError(t, ok("http://localhost:9999"))
	require.NoError(t, ok("http://[::1]:9999"))
	require.ErrorContains(t, ok("http://api.tosspayments.com"), "https")
	require.ErrorContains(t, ok("http://10.0.0.1"), "https")
	require.ErrorContains(t, ok("https://evil.example.com"), "allow-list")
	require.ErrorContains(t, ok("https://api.tosspayments.com.evil.example"), "allow-list")
	require.Error(t, ok("https://user:pw@api.tosspayments.com"))
	require.Error(t, ok("https://api.tosspayments.com?x=1"))
	require.Error(t, ok("ftp://127.0.0.1"))

	_, err := payments.NewToss(payments.TossConfig{BaseURL: "https://api.tosspayments.com"})
	require.ErrorContains(t, err, "secret key")
	require.ErrorContains(t, err, "client key")

	c, err := payments.NewToss(payments.TossConfig{SecretKey: "sk", ClientKey: "ck",
		BaseURL: "https://pg.example.kr", AllowedHosts: []string{"pg.example.kr"}})
	require.NoError(t, err)
	require.Equal(t, payments.Toss, c.Name())
}

func TestTossCheckout(t *testing.T) {
	t.Parallel()
	b := setupToss(t, tosssim.Options{ClientKey: "test_ck_widget"})
	o := payments.Order{ID: uuid.NewString(), UserID: uuid.NewString(), Kind: payments.KindPackage, ItemID: "starter",
		Name: "Starter Pack", Amount: 5900, Currency: "krw", CustomerKey: uuid.NewString()}
	co, err := b.client.Checkout(t.Context(), o)
	require.NoError(t, err)
	require.Equal(t, payments.Checkout{ClientKey: "test_ck_widget"}, co)
	require.Empty(t, b.sim.Payments(), "Checkout calls nothing")

	for name, mut := range map[string]func(*payments.Order){
		"ShortID":     func(o *payments.Order) { o.ID = "abc" },
		"BadID":       func(o *payments.Order) { o.ID = "order/../1234" },
		"ZeroAmount":  func(o *payments.Order) { o.Amount = 0 },
		"USD":         func(o *payments.Order) { o.Currency = "usd" },
		"NoName":      func(o *payments.Order) { o.Name = "" },
		"NoCustomer":  func(o *payments.Order) { o.CustomerKey = "" },
		"BadCustomer": func(o *payments.Order) { o.CustomerKey = "a b" },
	} {
		bad := o
		mut(&bad)
		_, err := b.client.Checkout(t.Context(), bad)
		require.Error(t, err, name)
	}
}

func TestTossConfirm(t *testing.T) {
	t.Parallel()

	t.Run("PaysAndLooksUp", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 5900)
		before, err := b.client.Lookup(t.Context(), payments.Ref{OrderID: r.OrderID})
		require.NoError(t, err)
		require.Equal(t, payments.StatePending, before.State)
		require.Zero(t, before.Amount)

		p, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, r.OrderID)
		require.NoError(t, err)
		require.Equal(t, payments.Payment{State: payments.StatePaid, Amount: 5900, Currency: "krw", PaymentID: r.PaymentKey}, p)

		for _, ref := range []payments.Ref{{OrderID: r.OrderID}, {PaymentID: r.PaymentKey}, {OrderID: r.OrderID, PaymentID: r.PaymentKey}} {
			got, err := b.client.Lookup(t.Context(), ref)
			require.NoError(t, err)
			require.Equal(t, p, got)
		}
	})

	t.Run("TamperedAmountIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		// The client paid 100 won for a 5900 won order; the server confirms
		// the stored amount.
		r := b.pay(t, 100)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, r.OrderID)
		require.ErrorIs(t, err, payments.ErrAmountMismatch)
		var te *payments.TossError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "INVALID_REQUEST", te.Code)
		snap, ok := b.sim.Payment(r.PaymentKey)
		require.True(t, ok)
		require.Equal(t, "IN_PROGRESS", snap.Status)
		require.Zero(t, snap.Approvals)
		got, err := b.client.Lookup(t.Context(), payments.Ref{OrderID: r.OrderID})
		require.NoError(t, err)
		require.Equal(t, payments.StatePending, got.State)
	})

	t.Run("TwiceIsOnePayment", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 5900)
		var wg sync.WaitGroup
		results := make([]payments.Payment, 10)
		errs := make([]error, 10)
		for i := range 10 {
			wg.Go(func() {
				results[i], errs[i] = b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "confirm-"+r.OrderID)
			})
		}
		wg.Wait()
		for i := range 10 {
			require.NoError(t, errs[i])
			require.Equal(t, results[0], results[i])
			require.Equal(t, payments.StatePaid, results[i].State)
		}
		// Another key (a retry after a crash that lost the key): Toss says
		// ALREADY_PROCESSED_PAYMENT and the client answers the payment.
		again, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
		require.NoError(t, err)
		require.Equal(t, results[0], again)
		// But not for another amount.
		_, err = b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 6000, "")
		require.ErrorIs(t, err, payments.ErrAmountMismatch)
		snap, _ := b.sim.Payment(r.PaymentKey)
		require.Equal(t, 1, snap.Approvals)
		require.Len(t, b.sim.Payments(), 1)
	})

	t.Run("OtherOrderIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 5900)
		other := b.pay(t, 5900)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, other.OrderID, 5900, "")
		require.ErrorIs(t, err, payments.ErrNotFound)
		_, err = b.client.Confirm(t.Context(), "no-such-key", r.OrderID, 5900, "")
		require.ErrorIs(t, err, payments.ErrNotFound)
		snap, _ := b.sim.Payment(r.PaymentKey)
		require.Equal(t, "IN_PROGRESS", snap.Status)
	})

	t.Run("FailedPaymentIsNotConfirmed", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 5900)
		require.NoError(t, b.sim.FailPayment(r.PaymentKey))
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
		var te *payments.TossError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "REJECT_CARD_PAYMENT", te.Code)
		got, err := b.client.Lookup(t.Context(), payments.Ref{PaymentID: r.PaymentKey})
		require.NoError(t, err)
		require.Equal(t, payments.StateFailed, got.State)

		e := b.pay(t, 5900)
		require.NoError(t, b.sim.ExpirePayment(e.PaymentKey))
		_, err = b.client.Confirm(t.Context(), e.PaymentKey, e.OrderID, 5900, "")
		require.ErrorIs(t, err, payments.ErrNotFound)
		got, err = b.client.Lookup(t.Context(), payments.Ref{OrderID: e.OrderID})
		require.NoError(t, err)
		require.Equal(t, payments.StateFailed, got.State)
	})

	t.Run("BadArguments", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		_, err := b.client.Confirm(t.Context(), "", "order-1", 100, "")
		require.Error(t, err)
		_, err = b.client.Confirm(t.Context(), "key", "order-1", 0, "")
		require.Error(t, err)
	})
}

func TestTossWrongSecret(t *testing.T) {
	t.Parallel()
	b := setupToss(t, tosssim.Options{SecretKey: "test_sk_right"})
	r := b.pay(t, 5900)
	wrong, err := payments.NewToss(payments.TossConfig{SecretKey: "test_sk_wrong", ClientKey: "ck", BaseURL: b.sim.URL()})
	require.NoError(t, err)
	_, err = wrong.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
	require.ErrorIs(t, err, payments.ErrTossUnauthorized)
	_, err = wrong.Lookup(t.Context(), payments.Ref{OrderID: r.OrderID})
	require.ErrorIs(t, err, payments.ErrTossUnauthorized)
	require.NotErrorIs(t, err, payments.ErrNotFound)
	_, err = wrong.IssueBillingKey(t.Context(), "auth", "customer")
	require.ErrorIs(t, err, payments.ErrTossUnauthorized)
	snap, _ := b.sim.Payment(r.PaymentKey)
	require.Equal(t, "IN_PROGRESS", snap.Status)
}

func TestTossLookupNotFound(t *testing.T) {
	t.Parallel()
	b := setupToss(t, tosssim.Options{})
	_, err := b.client.Lookup(t.Context(), payments.Ref{PaymentID: "no-such-key"})
	require.ErrorIs(t, err, payments.ErrNotFound)
	_, err = b.client.Lookup(t.Context(), payments.Ref{OrderID: uuid.NewString()})
	require.ErrorIs(t, err, payments.ErrNotFound)
	// A paymentKey of another order never stands for this one.
	r := b.pay(t, 5900)
	_, err = b.client.Lookup(t.Context(), payments.Ref{PaymentID: r.PaymentKey, OrderID: uuid.NewString()})
	require.ErrorIs(t, err, payments.ErrNotFound)
	_, err = b.client.Lookup(t.Context(), payments.Ref{})
	require.Error(t, err)
}

func TestTossCancel(t *testing.T) {
	t.Parallel()

	t.Run("Full", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 5900)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
		require.NoError(t, err)
		p, err := b.client.Cancel(t.Context(), r.PaymentKey, "requested by the payer", 0, "cancel-1")
		require.NoError(t, err)
		want := payments.Payment{State: payments.StateRefunded, Amount: 5900, Refunded: 5900, Currency: "krw", PaymentID: r.PaymentKey}
		require.Equal(t, want, p)
		again, err := b.client.Cancel(t.Context(), r.PaymentKey, "requested by the payer", 0, "cancel-1")
		require.NoError(t, err)
		require.Equal(t, want, again)
		got, err := b.client.Lookup(t.Context(), payments.Ref{OrderID: r.OrderID})
		require.NoError(t, err)
		require.Equal(t, want, got)
		snap, _ := b.sim.Payment(r.PaymentKey)
		require.Equal(t, 1, snap.Cancels)
		_, err = b.client.Cancel(t.Context(), r.PaymentKey, "again", 0, "")
		var te *payments.TossError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "ALREADY_CANCELED_PAYMENT", te.Code)
	})

	t.Run("Partial", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 10000)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 10000, "")
		require.NoError(t, err)
		p, err := b.client.Cancel(t.Context(), r.PaymentKey, "part", 3000, "")
		require.NoError(t, err)
		require.Equal(t, payments.StateRefunded, p.State)
		require.Equal(t, int64(3000), p.Refunded)
		_, err = b.client.Cancel(t.Context(), r.PaymentKey, "too much", 7001, "")
		var te *payments.TossError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "NOT_CANCELABLE_AMOUNT", te.Code)
		// From the provider's side: the rest.
		require.NoError(t, b.sim.Refund(r.PaymentKey, 0, "dashboard"))
		got, err := b.client.Lookup(t.Context(), payments.Ref{PaymentID: r.PaymentKey})
		require.NoError(t, err)
		require.Equal(t, int64(10000), got.Refunded)
		snap, _ := b.sim.Payment(r.PaymentKey)
		require.Equal(t, "CANCELED", snap.Status)
		require.Zero(t, snap.BalanceAmount)
	})

	t.Run("Unpaid", func(t *testing.T) {
		t.Parallel()
		b := setupToss(t, tosssim.Options{})
		r := b.pay(t, 5900)
		_, err := b.client.Cancel(t.Context(), r.PaymentKey, "nothing to cancel", 0, "")
		var te *payments.TossError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "NOT_CANCELABLE_PAYMENT", te.Code)
		_, err = b.client.Cancel(t.Context(), r.PaymentKey, "", 0, "")
		require.Error(t, err)
		_, err = b.client.Cancel(t.Context(), "no-such-key", "x", 0, "")
		require.ErrorIs(t, err, payments.ErrNotFound)
	})
}

func TestTossBilling(t *testing.T) {
	t.Parallel()
	b := setupToss(t, tosssim.Options{})
	customer := uuid.NewString()
	auth, err := b.sim.AuthorizeCard(customer)
	require.NoError(t, err)

	_, err = b.client.IssueBillingKey(t.Context(), auth.AuthKey, uuid.NewString())
	var te *payments.TossError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "NOT_MATCHES_CUSTOMER_KEY", te.Code)

	key, err := b.client.IssueBillingKey(t.Context(), auth.AuthKey, auth.CustomerKey)
	require.NoError(t, err)
	require.NotEmpty(t, key.BillingKey)
	require.Equal(t, customer, key.CustomerKey)
	require.False(t, key.AuthenticatedAt.IsZero())
	_, err = b.client.IssueBillingKey(t.Context(), auth.AuthKey, auth.CustomerKey)
	require.Error(t, err, "an authKey is used once")

	order := uuid.NewString()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			p, err := b.client.ChargeBilling(t.Context(), key.BillingKey, customer, 9900, order, "Pro plan", "charge-"+order)
			require.NoError(t, err)
			require.Equal(t, payments.StatePaid, p.State)
			require.Equal(t, int64(9900), p.Amount)
			require.Equal(t, key.BillingKey, p.SubscriptionID)
		})
	}
	wg.Wait()
	require.Len(t, b.sim.Payments(), 1, "one charge for one idempotency key")
	got, err := b.client.Lookup(t.Context(), payments.Ref{OrderID: order})
	require.NoError(t, err)
	require.Equal(t, payments.StatePaid, got.State)

	_, err = b.client.ChargeBilling(t.Context(), key.BillingKey, customer, 9900, order, "Pro plan", "")
	require.ErrorAs(t, err, &te)
	require.Equal(t, "DUPLICATED_ORDER_ID", te.Code)
	_, err = b.client.ChargeBilling(t.Context(), key.BillingKey, uuid.NewString(), 9900, uuid.NewString(), "Pro plan", "")
	require.ErrorAs(t, err, &te)
	require.Equal(t, "NOT_MATCHES_CUSTOMER_KEY", te.Code)
	_, err = b.client.ChargeBilling(t.Context(), "no-such-billing-key", customer, 9900, uuid.NewString(), "Pro plan", "")
	require.ErrorIs(t, err, payments.ErrNotFound)

	require.NoError(t, b.sim.DeclineCard(key.BillingKey, true))
	declined := uuid.NewString()
	_, err = b.client.ChargeBilling(t.Context(), key.BillingKey, customer, 9900, declined, "Pro plan", "")
	require.ErrorAs(t, err, &te)
	require.Equal(t, "REJECT_CARD_PAYMENT", te.Code)
	require.NoError(t, b.sim.DeclineCard(key.BillingKey, false))
	_, err = b.client.ChargeBilling(t.Context(), key.BillingKey, customer, 9900, declined, "Pro plan", "")
	require.NoError(t, err, "a declined order id may be charged again")
	require.Len(t, b.sim.Payments(), 2)
}

// flaky fails the first n requests with a 500 before the simulator sees
// them.
type flaky struct {
	next  http.Handler
	fails atomic.Int32
	seen  atomic.Int32
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.seen.Add(1)
	if f.fails.Add(-1) >= 0 {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"code":"FAILED_INTERNAL_SYSTEM_PROCESSING","message":"try again"}`)
		return
	}
	f.next.ServeHTTP(w, r)
}

func TestTossRetries(t *testing.T) {
	t.Parallel()
	sim := tosssim.New(tosssim.Options{})
	t.Cleanup(func() { _ = sim.Close() })
	f := &flaky{next: sim.Handler()}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client, err := payments.NewToss(payments.TossConfig{SecretKey: sim.SecretKey(), ClientKey: "ck", BaseURL: srv.URL})
	require.NoError(t, err)
	r, err := sim.PayWidget(tosssim.WidgetOrder{OrderID: uuid.NewString(), OrderName: "Pack", Amount: 1000})
	require.NoError(t, err)

	f.fails.Store(2)
	p, err := client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 1000, "k1")
	require.NoError(t, err)
	require.Equal(t, payments.StatePaid, p.State)
	require.Equal(t, int32(3), f.seen.Load())

	f.fails.Store(5)
	_, err = client.Lookup(t.Context(), payments.Ref{PaymentID: r.PaymentKey})
	var te *payments.TossError
	require.ErrorAs(t, err, &te)
	require.Equal(t, http.StatusInternalServerError, te.Status)
	require.Equal(t, int32(6), f.seen.Load(), "one try and two retries")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = client.Lookup(ctx, payments.Ref{PaymentID: r.PaymentKey})
	require.ErrorIs(t, err, context.Canceled)
}

// hookRecorder is our webhook route in miniature: it parses each delivery
// with the client and records the events.
type hookRecorder struct {
	client *payments.TossClient
	url    string
	mu     sync.Mutex
	events []payments.Event
	errs   []error
	got    chan struct{}
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := h.client.ParseWebhook(payments.TossWebhookHeader(r), body)
	h.mu.Lock()
	if err != nil {
		h.errs = append(h.errs, err)
	} else {
		h.events = append(h.events, ev)
	}
	h.mu.Unlock()
	h.got <- struct{}{}
	if errors.Is(err, payments.ErrBadSignature) {
		w.WriteHeader(http.StatusUnauthorized)
	}
}

func (h *hookRecorder) wait(t *testing.T, n int) []payments.Event {
	t.Helper()
	for range n {
		select {
		case <-h.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("waited for %d webhooks", n)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Empty(t, h.errs)
	out := h.events
	h.events = nil
	return out
}

func (h *hookRecorder) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-h.got:
		t.Fatal("an unexpected webhook arrived")
	case <-time.After(d):
	}
}

func setupHooks(t *testing.T) (*tossBundle, *hookRecorder) {
	t.Helper()
	b := setupToss(t, tosssim.Options{})
	h := &hookRecorder{client: b.client, got: make(chan struct{}, 64)}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/v1/webhooks/toss"
	b.sim.SetWebhookURL(h.url + "?token=hook-token")
	return b, h
}

func TestTossWebhooks(t *testing.T) {
	t.Parallel()

	t.Run("StatusChangesThenLookup", func(t *testing.T) {
		t.Parallel()
		b, h := setupHooks(t)
		r := b.pay(t, 5900)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
		require.NoError(t, err)
		evs := h.wait(t, 1)
		require.Equal(t, payments.TossEventPaymentStatusChanged, evs[0].Type)
		require.Equal(t, payments.Ref{OrderID: r.OrderID, PaymentID: r.PaymentKey}, evs[0].Ref)
		require.WithinDuration(t, time.Now(), evs[0].Created, time.Minute)
		got, err := b.client.Lookup(t.Context(), evs[0].Ref)
		require.NoError(t, err)
		require.Equal(t, payments.StatePaid, got.State)

		require.NoError(t, b.sim.Refund(r.PaymentKey, 1000, "partly"))
		require.NoError(t, b.sim.Refund(r.PaymentKey, 1000, "partly again"))
		more := h.wait(t, 2)
		ids := map[string]bool{evs[0].ID: true, more[0].ID: true, more[1].ID: true}
		require.Len(t, ids, 3, "each change has its own event id")

		// Resending a state is the same event.
		require.NoError(t, b.sim.SendWebhook(r.PaymentKey))
		resent := h.wait(t, 1)
		require.Equal(t, more[1].ID, resent[0].ID)
	})

	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		b, h := setupHooks(t)
		b.sim.SetFaults(tosssim.Faults{Duplicate: 2})
		r := b.pay(t, 5900)
		require.NoError(t, b.sim.FailPayment(r.PaymentKey))
		evs := h.wait(t, 3)
		require.Equal(t, evs[0], evs[1])
		require.Equal(t, evs[0], evs[2])
		got, err := b.client.Lookup(t.Context(), evs[0].Ref)
		require.NoError(t, err)
		require.Equal(t, payments.StateFailed, got.State)
	})

	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		b, h := setupHooks(t)
		b.sim.SetFaults(tosssim.Faults{Drop: true})
		r := b.pay(t, 5900)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
		require.NoError(t, err)
		h.none(t, 300*time.Millisecond)
		// The reconciler's way: ask.
		got, err := b.client.Lookup(t.Context(), payments.Ref{OrderID: r.OrderID})
		require.NoError(t, err)
		require.Equal(t, payments.StatePaid, got.State)
	})

	t.Run("HoldAndReorder", func(t *testing.T) {
		t.Parallel()
		b, h := setupHooks(t)
		b.sim.SetFaults(tosssim.Faults{Hold: true})
		r := b.pay(t, 5900)
		_, err := b.client.Confirm(t.Context(), r.PaymentKey, r.OrderID, 5900, "")
		require.NoError(t, err)
		_, err = b.client.Cancel(t.Context(), r.PaymentKey, "changed my mind", 0, "")
		require.NoError(t, err)
		h.none(t, 200*time.Millisecond)
		require.Equal(t, 2, b.sim.FlushWebhooks(true))
		evs := h.wait(t, 2)
		require.NotEqual(t, evs[0].ID, evs[1].ID)
		// Whatever the order, the lookup tells the truth.
		for _, ev := range evs {
			got, err := b.client.Lookup(t.Context(), ev.Ref)
			require.NoError(t, err)
			require.Equal(t, payments.StateRefunded, got.State)
		}
	})

	t.Run("DelayLetsALaterEventOvertake", func(t *testing.T) {
		t.Parallel()
		b, h := setupHooks(t)
		b.sim.SetFaults(tosssim.Faults{Delay: 400 * time.Millisecond})
		first := b.pay(t, 5900)
		require.NoError(t, b.sim.FailPayment(first.PaymentKey))
		b.sim.SetFaults(tosssim.Faults{})
		second := b.pay(t, 5900)
		require.NoError(t, b.sim.FailPayment(second.PaymentKey))
		evs := h.wait(t, 2)
		require.Equal(t, second.PaymentKey, evs[0].Ref.PaymentID)
		require.Equal(t, first.PaymentKey, evs[1].Ref.PaymentID)
	})

	t.Run("WrongTokenIsRefused", func(t *testing.T) {
		t.Parallel()
		b, h := setupHooks(t)
		r := b.pay(t, 5900)
		b.sim.SetWebhookURL(h.url + "?token=guess")
		require.Error(t, b.sim.SendWebhook(r.PaymentKey), "our route answers 401")
		h.mu.Lock()
		defer h.mu.Unlock()
		require.Len(t, h.errs, 1)
		require.ErrorIs(t, h.errs[0], payments.ErrBadSignature)
		require.Empty(t, h.events)
	})
}
