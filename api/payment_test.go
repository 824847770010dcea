package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
	"github.com/lokiz/lokiz/payments/tosssim"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
	"github.com/lokiz/lokiz/worker"
)

const tossWebhookToken = "toss-hook-token-for-tests"

// payEnv is the api with the purchase flow over real providers' doubles:
// Stripe through stripe-go → StripeOverlay → stripe-mock, Toss through the
// simulator, whose webhooks reach the api over HTTP.
type payEnv struct {
	*testEnv
	overlay *paymenttest.StripeOverlay
	toss    *tosssim.Server
	billing *billing.Service
	insp    *asynq.Inspector
	provs   payments.Providers
	tasks   *tasks.Client
}

type payOpts struct {
	noStripe, noToss bool
	// deadQueue gives the purchase flow a queue on a Redis that does not
	// answer: every enqueue of a settlement fails.
	deadQueue    bool
	pendingAfter time.Duration
}

func newPayEnv(t *testing.T, mock *paymenttest.StripeMock, o payOpts) *payEnv {
	t.Helper()
	cfg := testConfig()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	tc := tasks.NewClient(qc).WithDeleter(asynq.NewInspectorFromRedisClient(rdb))
	logger, logs := testkit.NewLogger()
	st := newLocalStorage(t, cfg)
	e := &payEnv{insp: asynq.NewInspectorFromRedisClient(rdb)}
	var provs payments.Providers
	if !o.noStripe {
		e.overlay = paymenttest.NewStripeOverlay(t, mock.URL)
		sp, err := payments.NewStripe(payments.StripeConfig{
			SecretKey: paymenttest.StripeTestKey, WebhookSecret: paymenttest.StripeWebhookSecret, APIBase: e.overlay.URL,
			SuccessURL: "https://lokiz.test/payments/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "https://lokiz.test/payments/cancel",
		})
		require.NoError(t, err)
		provs.Stripe = sp
	}
	if !o.noToss {
		sim, err := tosssim.Start(tosssim.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sim.Close() })
		tp, err := payments.NewToss(payments.TossConfig{SecretKey: sim.SecretKey(), ClientKey: sim.ClientKey(),
			BaseURL: sim.URL(), WebhookToken: tossWebhookToken})
		require.NoError(t, err)
		provs.Toss, e.toss = tp, sim
	}
	btc := tc
	if o.deadQueue {
		dead := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		btc = tasks.NewClient(dead)
	}
	e.provs, e.tasks = provs, tc
	b, err := billing.New(store, btc, provs, billing.Config{CustomerKeySecret: "customer-key-secret", PendingAfter: o.pendingAfter}, logger)
	require.NoError(t, err)
	e.billing = b
	srv, err := api.New(cfg, api.Deps{
		Store: store, Redis: rdb, Tasks: tc, Logger: logger, Storage: st, StorageHandler: st.Handler(),
		Views: views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow), Billing: b,
	})
	require.NoError(t, err)
	e.testEnv = &testEnv{t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256))}
	if e.toss != nil {
		hook := httptest.NewServer(srv.Handler())
		t.Cleanup(hook.Close)
		e.toss.SetWebhookURL(hook.URL + "/v1/webhooks/toss?token=" + tossWebhookToken)
	}
	return e
}

// buyer registers a user and returns its token, id and balance.
func (e *payEnv) buyer(name string) (token string, id uuid.UUID, balance int32) {
	e.t.Helper()
	tok, sid := e.register(name)
	id = uuid.MustParse(sid)
	return tok, id, e.balance(id)
}

func (e *payEnv) balance(id uuid.UUID) int32 {
	e.t.Helper()
	u, err := e.store.UserByID(context.Background(), id)
	require.NoError(e.t, err)
	return u.Credits
}

func (e *payEnv) order(id string) db.PaymentOrder {
	e.t.Helper()
	o, err := e.store.PaymentOrderGet(context.Background(), uuid.MustParse(id))
	require.NoError(e.t, err)
	return o
}

func (e *payEnv) purchase(token, pkg, provider string) response {
	e.t.Helper()
	return e.do(req{method: http.MethodPost, path: "/v1/credits/purchase", token: token,
		body: map[string]string{"package_id": pkg, "provider": provider}})
}

// fulfilQueued requires the order's payments:fulfill on the critical queue,
// takes it off (as a worker would) and runs the worker's handler on it.
func (e *payEnv) fulfilQueued(orderID string) error {
	e.t.Helper()
	id := tasks.TypePaymentFulfill + ":" + orderID
	_, err := e.insp.GetTaskInfo(tasks.QueueCritical, id)
	require.NoError(e.t, err, "payments:fulfill is queued for the order")
	require.NoError(e.t, e.insp.DeleteTask(tasks.QueueCritical, id))
	return worker.NewPaymentFulfillHandler(e.billing).ProcessTask(context.Background(), tasks.NewPaymentFulfillTask(uuid.MustParse(orderID)))
}

func (e *payEnv) requireNoFulfil(orderID string) {
	e.t.Helper()
	_, err := e.insp.GetTaskInfo(tasks.QueueCritical, tasks.TypePaymentFulfill+":"+orderID)
	// The queue itself is unknown while nothing was ever queued on it in
	// this Redis database.
	require.True(e.t, errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound),
		"nothing was queued for the order: %v", err)
}

// stripePaid makes Stripe say the session was paid for amount.
func (e *payEnv) stripePaid(sessionID, orderID string, amount int64) string {
	pi := "pi_" + strings.ReplaceAll(orderID, "-", "")[:20]
	e.overlay.Set(sessionID, map[string]any{
		"status": "complete", "payment_status": "paid", "mode": "payment", "amount_total": amount, "currency": "usd",
		"client_reference_id": orderID, "subscription": nil,
		"payment_intent": map[string]any{"id": pi, "status": "succeeded", "amount_received": amount},
	})
	e.overlay.Set(pi, map[string]any{"latest_charge": map[string]any{"id": "ch_" + pi[3:]}})
	e.overlay.Set("ch_"+pi[3:], map[string]any{"amount": amount, "amount_refunded": 0})
	return pi
}

func sessionEvent(t *testing.T, eventID, typ, sessionID, orderID string) []byte {
	return paymenttest.StripeEventJSON(t, eventID, typ, map[string]any{
		"id": sessionID, "object": "checkout.session", "client_reference_id": orderID, "mode": "payment",
		"payment_status": "paid", "status": "complete",
	})
}

func (e *payEnv) stripeHook(body []byte, sig string) response {
	e.t.Helper()
	return e.do(req{method: http.MethodPost, path: "/v1/webhooks/stripe", body: body, headers: map[string]string{"Stripe-Signature": sig}})
}

func (e *payEnv) requireAuditClean() {
	e.t.Helper()
	rows, err := e.store.CreditLedgerMismatches(context.Background())
	require.NoError(e.t, err)
	require.Empty(e.t, rows, "every balance equals its ledger")
}

func (e *payEnv) purchaseRows(id uuid.UUID) int {
	e.t.Helper()
	typ := lokiz.CreditPurchase
	rows, err := e.store.CreditHistory(context.Background(), db.CreditHistoryParams{UserID: id, TransactionType: &typ, Lim: 100})
	require.NoError(e.t, err)
	return len(rows)
}

func TestPayments(t *testing.T) {
	t.Parallel()
	mock := paymenttest.StartStripeMock(t)

	t.Run("PurchaseAnswersPerProviderAndGrantsNothing", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer1")

		res := e.purchase(tok, "starter_100", "stripe")
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		require.Equal(t, "pending", res.Body["status"])
		require.EqualValues(t, 499, res.Body["amount"])
		require.Equal(t, "usd", res.Body["currency"])
		require.EqualValues(t, 100, res.Body["credits"])
		require.True(t, strings.HasPrefix(res.Body["session_id"].(string), "cs_"))
		require.True(t, strings.HasPrefix(res.Body["checkout_url"].(string), "https://checkout.stripe.com/"))
		require.NotContains(t, res.Body, "client_key")
		order := e.order(res.Body["order_id"].(string))
		require.Equal(t, res.Body["session_id"], *order.ProviderSessionID, "the session id is stored with the order")
		last, ok := e.overlay.LastRequest(http.MethodPost, "/v1/checkout/sessions")
		require.True(t, ok)
		require.Equal(t, "499", last.Form.Get("line_items[0][price_data][unit_amount]"), "the price comes from the catalog")
		require.Equal(t, "checkout-"+order.ID.String(), last.IdempotencyKey)

		res = e.purchase(tok, "starter_100", "toss")
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		require.EqualValues(t, 6500, res.Body["amount"])
		require.Equal(t, "krw", res.Body["currency"])
		require.Equal(t, "Starter Pack", res.Body["order_name"])
		require.Equal(t, e.toss.ClientKey(), res.Body["client_key"])
		require.Equal(t, billing.CustomerKey([]byte("customer-key-secret"), id), res.Body["customer_key"],
			"the customer key of purchases is the one of subscriptions")
		require.NotContains(t, res.Body["customer_key"], id.String(), "the customer key is not the user id")
		require.NotContains(t, res.Body, "checkout_url")
		tossOrder := res.Body["order_id"].(string)

		require.Equal(t, before, e.balance(id), "a purchase grants nothing by itself")
		e.requireNoFulfil(tossOrder)

		got := e.do(req{method: http.MethodGet, path: "/v1/payments/orders/" + tossOrder, token: tok})
		require.Equal(t, http.StatusOK, got.Status)
		require.Equal(t, "pending", got.Body["status"])
		require.Equal(t, "toss", got.Body["provider"])

		other, _, _ := e.buyer("other1")
		require.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodGet, path: "/v1/payments/orders/" + tossOrder, token: other}).Status)
		require.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodGet, path: "/v1/payments/orders/" + uuid.NewString(), token: tok}).Status)
		require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: http.MethodGet, path: "/v1/payments/orders/not-a-uuid", token: tok}).Status)
		require.Equal(t, http.StatusUnauthorized, e.do(req{method: http.MethodGet, path: "/v1/payments/orders/" + tossOrder}).Status)

		require.Equal(t, http.StatusBadRequest, e.purchase(tok, "no_such_pack", "stripe").Status, "unknown package")
		require.Equal(t, http.StatusBadRequest, e.purchase(tok, "starter_100", "paypal").Status, "unknown provider")
		require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: http.MethodPost, path: "/v1/credits/purchase", token: tok,
			body: map[string]string{"package_id": "starter_100"}}).Status, "provider missing")
		require.Equal(t, http.StatusUnauthorized, e.do(req{method: http.MethodPost, path: "/v1/credits/purchase",
			body: map[string]string{"package_id": "starter_100", "provider": "stripe"}}).Status)
		require.Equal(t, before, e.balance(id))
	})

	t.Run("PurchasesAreRateLimitedPerUser", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{noStripe: true})
		tok, _, _ := e.buyer("buyer12")
		for range 10 {
			require.Equal(t, http.StatusCreated, e.purchase(tok, "starter_100", "toss").Status)
		}
		res := e.purchase(tok, "starter_100", "toss")
		require.Equal(t, http.StatusTooManyRequests, res.Status)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		other, _, _ := e.buyer("buyer13")
		require.Equal(t, http.StatusCreated, e.purchase(other, "starter_100", "toss").Status, "per user")
	})

	t.Run("UnconfiguredProviderIs503", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{noStripe: true})
		tok, _, _ := e.buyer("buyer2")
		res := e.purchase(tok, "starter_100", "stripe")
		require.Equal(t, http.StatusServiceUnavailable, res.Status)
		require.Equal(t, http.StatusBadRequest, e.purchase(tok, "starter_100", "paypal").Status)
		body := sessionEvent(t, "evt_x", payments.StripeCheckoutCompleted, "cs_x", uuid.NewString())
		require.Equal(t, http.StatusServiceUnavailable, e.stripeHook(body, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now())).Status)

		// No development checkout was given: its page is not mounted.
		require.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodGet, path: "/dev/checkout/devcs_x", unspecified: true}).Status)
		require.Equal(t, http.StatusNotFound, e.do(req{method: http.MethodPost, path: "/dev/checkout/devcs_x/pay", unspecified: true}).Status)

		plain := newEnv(t)
		ptok, _ := plain.register("buyer3")
		require.Equal(t, http.StatusServiceUnavailable, plain.do(req{method: http.MethodPost, path: "/v1/credits/purchase", token: ptok,
			body: map[string]string{"package_id": "starter_100", "provider": "toss"}}).Status, "no payments at all")
	})

	t.Run("TenDuplicateStripeWebhooksGrantOnce", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer4")
		res := e.purchase(tok, "basic_500", "stripe")
		require.Equal(t, http.StatusCreated, res.Status)
		orderID, sess := res.Body["order_id"].(string), res.Body["session_id"].(string)
		e.stripePaid(sess, orderID, 1999)

		body := sessionEvent(t, "evt_dup_"+orderID[:8], payments.StripeCheckoutCompleted, sess, orderID)
		sig := paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now())
		var wg sync.WaitGroup
		statuses := make([]string, 10)
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.stripeHook(body, sig)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
				statuses[i] = r.Body["status"].(string)
			}()
		}
		wg.Wait()
		counts := map[string]int{}
		for _, s := range statuses {
			counts[s]++
		}
		require.Equal(t, map[string]int{"accepted": 1, "duplicate": 9}, counts)

		require.NoError(t, e.fulfilQueued(orderID))
		// The worker running it again (a retry, the reconciler) changes nothing.
		for range 3 {
			require.NoError(t, worker.NewPaymentFulfillHandler(e.billing).ProcessTask(context.Background(), tasks.NewPaymentFulfillTask(uuid.MustParse(orderID))))
		}
		require.Equal(t, before+500, e.balance(id))
		require.Equal(t, 1, e.purchaseRows(id))
		require.Equal(t, lokiz.OrderFulfilled, e.order(orderID).Status)

		hist := e.do(req{method: http.MethodGet, path: "/v1/credits/history?transaction_type=purchase", token: tok})
		require.Equal(t, http.StatusOK, hist.Status)
		require.Len(t, hist.Body["transactions"], 1)
		e.requireAuditClean()
	})

	t.Run("AsyncSucceededBeforeCompletedGrantsOnce", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer5")
		res := e.purchase(tok, "starter_100", "stripe")
		orderID, sess := res.Body["order_id"].(string), res.Body["session_id"].(string)
		e.stripePaid(sess, orderID, 499)

		late := sessionEvent(t, "evt_async_"+orderID[:8], payments.StripeAsyncPaymentSucceeded, sess, orderID)
		r := e.stripeHook(late, paymenttest.SignStripe(late, paymenttest.StripeWebhookSecret, time.Now()))
		require.Equal(t, "accepted", r.Body["status"])
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id))

		first := sessionEvent(t, "evt_done_"+orderID[:8], payments.StripeCheckoutCompleted, sess, orderID)
		r = e.stripeHook(first, paymenttest.SignStripe(first, paymenttest.StripeWebhookSecret, time.Now()))
		require.Equal(t, "accepted", r.Body["status"], "another event of the same order")
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id), "granted once")
		require.Equal(t, 1, e.purchaseRows(id))
		e.requireAuditClean()
	})

	t.Run("ForgedOrStaleSignatureGrantsNothing", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer6")
		res := e.purchase(tok, "starter_100", "stripe")
		orderID, sess := res.Body["order_id"].(string), res.Body["session_id"].(string)
		e.stripePaid(sess, orderID, 499)
		body := sessionEvent(t, "evt_sig_"+orderID[:8], payments.StripeCheckoutCompleted, sess, orderID)

		forged := e.stripeHook(body, paymenttest.SignStripe(body, "whsec_not_ours", time.Now()))
		require.Equal(t, http.StatusBadRequest, forged.Status)
		stale := e.stripeHook(body, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now().Add(-time.Hour)))
		require.Equal(t, http.StatusBadRequest, stale.Status)
		tampered := bytes.Replace(body, []byte(`"mode":"payment"`), []byte(`"mode":"paymenT"`), 1)
		require.Equal(t, http.StatusBadRequest, e.stripeHook(tampered, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now())).Status)
		require.Equal(t, http.StatusBadRequest, e.do(req{method: http.MethodPost, path: "/v1/webhooks/stripe", body: body}).Status, "unsigned")
		e.requireNoFulfil(orderID)
		require.Equal(t, before, e.balance(id))
		require.Equal(t, lokiz.OrderPending, e.order(orderID).Status)

		// Nothing was recorded: the genuine delivery is new.
		ok := e.stripeHook(body, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now()))
		require.Equal(t, "accepted", ok.Body["status"])
	})

	t.Run("UnknownOrderIsIgnored", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		body := sessionEvent(t, "evt_unknown", payments.StripeCheckoutCompleted, "cs_nobody", uuid.NewString())
		r := e.stripeHook(body, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now()))
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "ignored", r.Body["status"])
		require.NotEmpty(t, e.logs.Lines(t, "payment event for an unknown order"))
	})

	t.Run("TossConfirmWithATamperedAmountGrantsNothing", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer7")
		res := e.purchase(tok, "starter_100", "toss")
		orderID := res.Body["order_id"].(string)
		confirm := func(token, key string, amount int64) response {
			return e.do(req{method: http.MethodPost, path: "/v1/payments/toss/confirm", token: token,
				body: map[string]any{"paymentKey": key, "orderId": orderID, "amount": amount}})
		}

		// The client paid 100 won in the widget and says so.
		cheap, err := e.toss.PayWidget(tosssim.WidgetOrder{OrderID: orderID, OrderName: "Starter Pack", Amount: 100,
			CustomerKey: res.Body["customer_key"].(string)})
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, confirm(tok, cheap.PaymentKey, 100).Status, "not the order's amount")
		// It claims the order's amount for the cheap payment: Toss refuses.
		require.Equal(t, http.StatusBadRequest, confirm(tok, cheap.PaymentKey, 6500).Status)
		snap, _ := e.toss.Payment(cheap.PaymentKey)
		require.NotEqual(t, "DONE", snap.Status, "nothing was confirmed")
		require.Equal(t, lokiz.OrderPending, e.order(orderID).Status)
		require.Equal(t, before, e.balance(id))
		e.requireNoFulfil(orderID)

		// Honest payment; only the owner may confirm it.
		red, err := e.toss.PayWidget(tosssim.WidgetOrder{OrderID: orderID, OrderName: "Starter Pack", Amount: 6500,
			CustomerKey: res.Body["customer_key"].(string)})
		require.NoError(t, err)
		other, _, _ := e.buyer("other7")
		require.Equal(t, http.StatusNotFound, confirm(other, red.PaymentKey, 6500).Status)
		ok := confirm(tok, red.PaymentKey, 6500)
		require.Equal(t, http.StatusOK, ok.Status, "%s", ok.Raw)
		require.Equal(t, "paid", ok.Body["status"])
		require.Equal(t, http.StatusOK, confirm(tok, red.PaymentKey, 6500).Status, "a retried confirm answers the order")
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id))
		require.Equal(t, "fulfilled", e.do(req{method: http.MethodGet, path: "/v1/payments/orders/" + orderID, token: tok}).Body["status"])
		e.requireAuditClean()
	})

	t.Run("LostWebhookIsRecoveredByTheReconciler", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{pendingAfter: time.Millisecond})
		tok, id, before := e.buyer("buyer8")
		res := e.purchase(tok, "starter_100", "stripe")
		orderID, sess := res.Body["order_id"].(string), res.Body["session_id"].(string)
		// Paid at Stripe; the webhook never arrives.
		e.stripePaid(sess, orderID, 499)
		time.Sleep(5 * time.Millisecond)
		logger, _ := testkit.NewLogger()
		require.NoError(t, worker.NewPaymentsReconcileHandler(e.billing, logger).ProcessTask(context.Background(), tasks.NewPaymentsReconcileTask()))
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id))
		require.Equal(t, lokiz.OrderFulfilled, e.order(orderID).Status)
		e.requireAuditClean()
	})

	t.Run("AnUnpaidPlanOrderEndsAndLeavesTheReconciler", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		ctx := context.Background()
		_, id, _ := e.buyer("buyer13")
		planOrder := func(session string, state map[string]any) db.PaymentOrder {
			o, err := e.store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: id, Kind: lokiz.OrderKindPlan, ItemID: lokiz.TierPro,
				Provider: payments.Stripe, Currency: lokiz.CurrencyUSD})
			require.NoError(t, err)
			_, err = e.store.SetOrderCheckoutSession(ctx, o.ID, session)
			require.NoError(t, err)
			e.overlay.Set(session, state)
			return o
		}
		// The subscription Checkout expired unpaid: the order fails.
		expired := planOrder("cs_plan_expired_"+id.String()[:8], map[string]any{"status": "expired", "payment_status": "unpaid", "mode": "subscription"})
		require.NoError(t, e.billing.Settle(ctx, expired.ID))
		require.Equal(t, lokiz.OrderFailed, e.order(expired.ID.String()).Status)

		// Still open after the abandon delay: the order is canceled.
		open := planOrder("cs_plan_open_"+id.String()[:8], map[string]any{"status": "open", "payment_status": "unpaid", "mode": "subscription"})
		impatient, err := billing.New(e.store, e.tasks, e.provs, billing.Config{CustomerKeySecret: "customer-key-secret", AbandonAfter: time.Nanosecond},
			slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		require.NoError(t, e.billing.Settle(ctx, open.ID), "young: left pending")
		require.Equal(t, lokiz.OrderPending, e.order(open.ID.String()).Status)
		require.NoError(t, impatient.Settle(ctx, open.ID))
		require.Equal(t, lokiz.OrderCanceled, e.order(open.ID.String()).Status)

		pending, err := e.store.OrdersPendingBefore(ctx, db.OrdersPendingBeforeParams{Before: time.Now().Add(time.Hour), Lim: 100})
		require.NoError(t, err)
		for _, o := range pending {
			require.NotEqual(t, id, o.UserID, "no order of this user is asked about again")
		}
	})

	t.Run("RefundClawsBackNeverBelowZero", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer9")
		res := e.purchase(tok, "starter_100", "toss")
		orderID := res.Body["order_id"].(string)
		red, err := e.toss.PayWidget(tosssim.WidgetOrder{OrderID: orderID, OrderName: "Starter Pack", Amount: 6500,
			CustomerKey: res.Body["customer_key"].(string)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, e.do(req{method: http.MethodPost, path: "/v1/payments/toss/confirm", token: tok,
			body: map[string]any{"paymentKey": red.PaymentKey, "orderId": orderID, "amount": 6500}}).Status)
		// The simulator's DONE webhook may arrive too: either way one task.
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id))

		// The buyer spends all but 30 credits.
		_, _, err = e.store.CreditsApply(context.Background(), db.CreditChange{UserID: id, Type: lokiz.CreditUsage,
			Delta: -(before + 70), Description: "spent", IdempotencyKey: "spend-" + orderID})
		require.NoError(t, err)
		require.EqualValues(t, 30, e.balance(id))

		// Refunded from Toss's dashboard: the webhook wakes the worker.
		require.NoError(t, e.toss.Refund(red.PaymentKey, 0, "customer asked"))
		require.Eventually(t, func() bool {
			_, err := e.insp.GetTaskInfo(tasks.QueueCritical, tasks.TypePaymentFulfill+":"+orderID)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "the refund's webhook queued the order")
		require.NoError(t, e.fulfilQueued(orderID))
		o := e.order(orderID)
		require.Equal(t, lokiz.OrderRefunded, o.Status)
		require.EqualValues(t, 6500, o.RefundedAmount)
		require.EqualValues(t, 30, o.CreditsClawedBack, "what was left, not more")
		require.EqualValues(t, 0, e.balance(id), "never below zero")
		e.requireAuditClean()

		// The same refund again changes nothing.
		require.NoError(t, worker.NewPaymentFulfillHandler(e.billing).ProcessTask(context.Background(), tasks.NewPaymentFulfillTask(uuid.MustParse(orderID))))
		require.EqualValues(t, 0, e.balance(id))
	})

	t.Run("AWebhookThatCouldNotBeQueuedIsHandledOnRetry", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{deadQueue: true})
		tok, id, before := e.buyer("buyer12")
		res := e.purchase(tok, "starter_100", "stripe")
		orderID, sess := res.Body["order_id"].(string), res.Body["session_id"].(string)
		e.stripePaid(sess, orderID, 499)
		done := sessionEvent(t, "evt_requeue_"+orderID[:8], payments.StripeCheckoutCompleted, sess, orderID)
		sig := paymenttest.SignStripe(done, paymenttest.StripeWebhookSecret, time.Now())
		require.Equal(t, http.StatusServiceUnavailable, e.stripeHook(done, sig).Status, "the settlement could not be queued")

		// Stripe retries the same delivery; this time the queue answers.
		healthy, err := billing.New(e.store, e.tasks, e.provs, billing.Config{CustomerKeySecret: "customer-key-secret"}, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		status, err := healthy.StripeWebhook(context.Background(), map[string][]string{"Stripe-Signature": {sig}}, done)
		require.NoError(t, err)
		require.Equal(t, billing.WebhookAccepted, status, "the failed delivery was forgotten, not kept as a duplicate")
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id))
		e.requireAuditClean()
	})

	t.Run("StripeRefundClawsBack", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		tok, id, before := e.buyer("buyer11")
		res := e.purchase(tok, "starter_100", "stripe")
		orderID, sess := res.Body["order_id"].(string), res.Body["session_id"].(string)
		pi := e.stripePaid(sess, orderID, 499)
		done := sessionEvent(t, "evt_paid_"+orderID[:8], payments.StripeCheckoutCompleted, sess, orderID)
		require.Equal(t, "accepted", e.stripeHook(done, paymenttest.SignStripe(done, paymenttest.StripeWebhookSecret, time.Now())).Body["status"])
		require.NoError(t, e.fulfilQueued(orderID))
		require.Equal(t, before+100, e.balance(id))

		// Refunded in Stripe's dashboard; charge.refunded names the PaymentIntent.
		e.overlay.Set("ch_"+pi[3:], map[string]any{"amount_refunded": 499, "refunded": true})
		refund := paymenttest.StripeEventJSON(t, "evt_refund_"+orderID[:8], payments.StripeChargeRefunded, map[string]any{
			"id": "ch_" + pi[3:], "object": "charge", "payment_intent": pi, "amount_refunded": 499})
		require.Equal(t, "accepted", e.stripeHook(refund, paymenttest.SignStripe(refund, paymenttest.StripeWebhookSecret, time.Now())).Body["status"])
		require.NoError(t, e.fulfilQueued(orderID))
		o := e.order(orderID)
		require.Equal(t, lokiz.OrderRefunded, o.Status)
		require.EqualValues(t, 100, o.CreditsClawedBack)
		require.Equal(t, before, e.balance(id), "the package's credits are taken back")
		e.requireAuditClean()
	})

	t.Run("SubscriptionEventsWakeTheSubscriptionSync", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		_, id, _ := e.buyer("buyer10")
		now := time.Now().UTC().Truncate(time.Second)
		subID := "sub_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
		sub, _, err := e.store.StartSubscription(context.Background(), db.NewSubscription{UserID: id, Plan: lokiz.TierBasic,
			Provider: payments.Stripe, ProviderSubscriptionID: subID, Period: db.Period{Start: now, End: now.AddDate(0, 1, 0)}})
		require.NoError(t, err)
		invoice := func(eventID, sub string) []byte {
			return paymenttest.StripeEventJSON(t, eventID, payments.StripeInvoicePaid, map[string]any{
				"id": "in_" + eventID, "object": "invoice",
				"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{"subscription": sub}},
			})
		}
		body := invoice("evt_inv_"+subID[4:], subID)
		r := e.stripeHook(body, paymenttest.SignStripe(body, paymenttest.StripeWebhookSecret, time.Now()))
		require.Equal(t, "accepted", r.Body["status"], "%s", r.Raw)
		taskID := tasks.TypeSubscriptionSync + ":" + sub.ID.String() + ":in_evt_inv_" + subID[4:]
		_, err = e.insp.GetTaskInfo(tasks.QueueCritical, taskID)
		require.NoError(t, err, "subscription:sync is queued for the subscription and invoice")
		require.NoError(t, e.insp.DeleteTask(tasks.QueueCritical, taskID))

		other := invoice("evt_inv_unknown_"+subID[4:], "sub_nobody")
		r = e.stripeHook(other, paymenttest.SignStripe(other, paymenttest.StripeWebhookSecret, time.Now()))
		require.Equal(t, "ignored", r.Body["status"], "a subscription we do not hold")
	})

	t.Run("TossWebhookTokenIsChecked", func(t *testing.T) {
		t.Parallel()
		e := newPayEnv(t, mock, payOpts{})
		body := `{"eventType":"PAYMENT_STATUS_CHANGED","createdAt":"2026-01-01T00:00:00.000000","data":{"paymentKey":"tk1","orderId":"` + uuid.NewString() + `","status":"DONE"}}`
		require.Equal(t, http.StatusBadRequest, e.do(req{method: http.MethodPost, path: "/v1/webhooks/toss", body: body}).Status)
		require.Equal(t, http.StatusBadRequest, e.do(req{method: http.MethodPost, path: "/v1/webhooks/toss?token=wrong", body: body}).Status)
		r := e.do(req{method: http.MethodPost, path: "/v1/webhooks/toss?token=" + tossWebhookToken, body: body})
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "ignored", r.Body["status"])
		r = e.do(req{method: http.MethodPost, path: "/v1/webhooks/toss?token=" + tossWebhookToken, body: body})
		require.Equal(t, "duplicate", r.Body["status"])
	})
}
