package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

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

// newPaymentsEnv is newEnv with payment providers.
func newPaymentsEnv(t *testing.T, pay payments.Providers) *testEnv {
	t.Helper()
	return newPaymentsEnvWithLimits(t, pay, nil)
}

// newPaymentsEnvWithLimits is newPaymentsEnv with the AI catalog's tier
// limits (the built-in ones when nil).
func newPaymentsEnvWithLimits(t *testing.T, pay payments.Providers, limits lokiz.TierLimits) *testEnv {
	t.Helper()
	e, _ := newBillingEnv(t, pay, limits)
	return e
}

// newBillingEnv is newPaymentsEnvWithLimits that also answers the billing
// service the api runs on, for the worker's handlers.
func newBillingEnv(t *testing.T, pay payments.Providers, limits lokiz.TierLimits) (*testEnv, *billing.Service) {
	t.Helper()
	cfg := testConfig()
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, logs := testkit.NewLogger()
	st := newLocalStorage(t, cfg)
	tc := tasks.NewClient(qc)
	b, err := billing.New(store, tc, pay, billing.Config{CustomerKeySecret: cfg.SecretKey}, logger)
	require.NoError(t, err)
	srv, err := api.New(cfg, api.Deps{
		Store: store, Redis: rdb, Tasks: tc, Logger: logger,
		Storage: st, StorageHandler: st.Handler(),
		Views:    views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow),
		AIModels: testAIModels, Billing: b, StudioLimits: limits,
	})
	require.NoError(t, err)
	return &testEnv{
		t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256)),
	}, b
}

// TestSubscribeThroughTheDevCheckout: with only the development checkout
// (`lokiz dev` without provider keys), a plan is bought with provider
// "dev": "Pay" on its page queues the order's settlement, which starts the
// subscription with its monthly credits once, and the tier's discount
// applies to the next AI job. Without it, provider "dev" is 503.
func TestSubscribeThroughTheDevCheckout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dev := payments.NewDevCheckout("http://lokiz.test")
	e, b := newBillingEnv(t, payments.Providers{Dev: dev}, nil)
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	token, id := e.register("devsub")
	before := e.do(req{method: "GET", path: "/v1/users/me", token: token}).Body["credits"].(float64)

	res := e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: map[string]any{"plan": "basic", "provider": "dev"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, "dev", res.Body["provider"])
	require.Equal(t, float64(999), res.Body["amount"])
	orderID := res.Body["order_id"].(string)
	checkout := res.Body["checkout_url"].(string)
	require.True(t, strings.HasPrefix(checkout, "http://lokiz.test/dev/checkout/devcs_"), checkout)
	page := strings.TrimPrefix(checkout, "http://lokiz.test")
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: page, unspecified: true}).Status)
	me := e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, before, me.Body["credits"], "nothing before the payment")

	// "Pay", pressed twice: the order's settlement is queued; the worker
	// runs it (three times: a retried task) and grants once.
	for range 2 {
		require.Equal(t, http.StatusSeeOther, e.do(req{method: "POST", path: page + "/pay", unspecified: true}).Status)
	}
	taskID := tasks.TypePaymentFulfill + ":" + orderID
	_, err := insp.GetTaskInfo(tasks.QueueCritical, taskID)
	require.NoError(t, err, "payments:fulfill is queued for the order")
	require.NoError(t, insp.DeleteTask(tasks.QueueCritical, taskID))
	for range 3 {
		require.NoError(t, worker.NewPaymentFulfillHandler(b).ProcessTask(ctx, tasks.NewPaymentFulfillTask(uuid.MustParse(orderID))))
	}
	me = e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, before+500, me.Body["credits"], "the basic plan's monthly credits, once")
	require.Equal(t, false, me.Body["show_ads"])
	sub := e.do(req{method: "GET", path: "/v1/subscriptions/me", token: token})
	require.Equal(t, "basic", sub.Body["tier"])
	require.Equal(t, "dev", sub.Body["subscription"].(map[string]any)["provider"])
	order := e.do(req{method: "GET", path: "/v1/payments/orders/" + orderID, token: token})
	require.Equal(t, "fulfilled", order.Body["status"])
	typ := lokiz.CreditSubscription
	rows, err := e.store.CreditHistory(ctx, db.CreditHistoryParams{UserID: uuid.MustParse(id), TransactionType: &typ, Lim: 10})
	require.NoError(t, err)
	require.Len(t, rows, 1)

	// The discount: a music job (list price 5) costs basic 4.
	res = e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "lofi", "duration": 8}})
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Raw)
	require.Equal(t, float64(lokiz.JobCost(lokiz.JobBaseCost(lokiz.JobMusic), lokiz.TierBasic)), res.Body["credits_used"])
	require.Less(t, res.Body["credits_used"].(float64), float64(lokiz.JobBaseCost(lokiz.JobMusic)))
	me = e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, before+500-res.Body["credits_used"].(float64), me.Body["credits"])

	// A second subscription is a conflict; without the development
	// checkout provider "dev" is 503, and an unknown provider 422.
	res = e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: map[string]any{"plan": "pro", "provider": "dev"}})
	require.Equal(t, http.StatusConflict, res.Status)
	plain := newPaymentsEnv(t, payments.Providers{})
	other, _ := plain.register("nodev")
	res = plain.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: other, body: map[string]any{"plan": "pro", "provider": "dev"}})
	require.Equal(t, http.StatusServiceUnavailable, res.Status)
	res = plain.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: other, body: map[string]any{"plan": "pro", "provider": "paypal"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
}

// TestStudioLimitsComeFromTheCatalog: the plans, the user answers and the
// AI job checks read the tier limits of the AI catalog's configuration.
func TestStudioLimitsComeFromTheCatalog(t *testing.T) {
	t.Parallel()
	short := lokiz.StudioLimits{TemplateMaxSeconds: 8, StickerMaxSeconds: 6, MusicMaxSeconds: 20, MaxResolution: "720p"}
	e := newPaymentsEnvWithLimits(t, payments.Providers{}, lokiz.TierLimits{
		lokiz.TierFree: short, lokiz.TierBasic: short, lokiz.TierPro: lokiz.StudioCeiling, lokiz.TierEnterprise: lokiz.StudioCeiling,
	})
	token, _ := e.register("catlimits")
	me := e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, http.StatusOK, me.Status)
	require.Equal(t, map[string]any{"template_max_seconds": float64(8), "sticker_max_seconds": float64(6),
		"music_max_seconds": float64(20), "max_resolution": "720p"}, me.Body["limits"])
	require.Equal(t, true, me.Body["show_ads"])
	plans := e.do(req{method: "GET", path: "/v1/subscriptions/plans"})
	for _, p := range plans.Body["plans"].([]any) {
		m := p.(map[string]any)
		want := float64(20)
		if m["id"] == lokiz.TierPro || m["id"] == lokiz.TierEnterprise {
			want = 180
		}
		require.Equal(t, want, m["limits"].(map[string]any)["music_max_seconds"], m["id"])
	}
	res := e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "lofi", "duration": 30}})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	require.Equal(t, "plan_limit", res.Body["reason"])
	res = e.do(req{method: "POST", path: "/v1/ai/music", token: token, body: map[string]any{"prompt": "lofi", "duration": 20}})
	require.NotEqual(t, http.StatusForbidden, res.Status, "%s", res.Raw)
}

func startTossSim(t *testing.T) (*payments.TossClient, *tosssim.Server) {
	t.Helper()
	sim, err := tosssim.Start(tosssim.Options{SecretKey: "test_sk_api", ClientKey: "test_ck_api"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	c, err := payments.NewToss(payments.TossConfig{SecretKey: sim.SecretKey(), ClientKey: sim.ClientKey(), BaseURL: sim.URL()})
	require.NoError(t, err)
	return c, sim
}

func TestSubscriptionPlans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(req{method: "GET", path: "/v1/subscriptions/plans"})
	require.Equal(t, http.StatusOK, res.Status)
	plans := res.Body["plans"].([]any)
	require.Len(t, plans, 4)
	byID := map[string]map[string]any{}
	for _, p := range plans {
		m := p.(map[string]any)
		byID[m["id"].(string)] = m
	}
	require.Equal(t, true, byID["free"]["show_ads"])
	require.Empty(t, byID["free"]["prices"], "free is not sold")
	require.Equal(t, false, byID["basic"]["show_ads"])
	require.Equal(t, 9.99, byID["basic"]["price"])
	require.Equal(t, float64(500), byID["basic"]["monthly_credits"])
	require.Equal(t, []any{map[string]any{"currency": "usd", "amount": float64(999)}, map[string]any{"currency": "krw", "amount": float64(12900)}},
		byID["basic"]["prices"])
	require.Equal(t, true, byID["pro"]["priority_queue"])
	require.Equal(t, float64(120), byID["pro"]["limits"].(map[string]any)["music_max_seconds"])
	require.Equal(t, "1080p", byID["pro"]["limits"].(map[string]any)["max_resolution"])
	require.Equal(t, true, byID["enterprise"]["unlimited_credits"])
	require.Equal(t, true, byID["enterprise"]["api_access"])
}

func TestSubscriptionRoutesNeedAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range []req{
		{method: "POST", path: "/v1/subscriptions/subscribe", body: map[string]any{"plan": "basic", "provider": "toss"}},
		{method: "POST", path: "/v1/subscriptions/toss/billing", body: map[string]any{"authKey": "a", "customerKey": "b", "plan": "basic"}},
		{method: "GET", path: "/v1/subscriptions/me"},
		{method: "DELETE", path: "/v1/subscriptions/cancel"},
	} {
		res := e.do(r)
		require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s", r.method, r.path)
	}
}

func TestSubscribeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // no provider configured
	token, _ := e.register("subrefuse")

	res := e.do(req{method: "GET", path: "/v1/subscriptions/me", token: token})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "free", res.Body["tier"])
	require.Nil(t, res.Body["subscription"])
	require.Equal(t, true, res.Body["show_ads"])

	for _, tc := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"plan": "free", "provider": "toss"}, http.StatusBadRequest},
		{map[string]any{"plan": "platinum", "provider": "stripe"}, http.StatusBadRequest},
		{map[string]any{"plan": "basic", "provider": "paypal"}, http.StatusUnprocessableEntity},
		{map[string]any{"provider": "toss"}, http.StatusUnprocessableEntity},
		{map[string]any{"plan": "basic", "provider": "toss"}, http.StatusServiceUnavailable},
		{map[string]any{"plan": "pro", "provider": "stripe"}, http.StatusServiceUnavailable},
	} {
		res := e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: tc.body})
		require.Equal(t, tc.status, res.Status, "%v: %s", tc.body, res.Raw)
	}
	res = e.do(req{method: "DELETE", path: "/v1/subscriptions/cancel", token: token})
	require.Equal(t, http.StatusNotFound, res.Status, "nothing to cancel")
	res = e.do(req{method: "POST", path: "/v1/subscriptions/toss/billing", token: token, body: map[string]any{"plan": "basic"}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status)
}

func TestSubscribeStripeCheckout(t *testing.T) {
	t.Parallel()
	overlay := paymenttest.StartStripe(t)
	stripe, err := payments.NewStripe(payments.StripeConfig{
		SecretKey: paymenttest.StripeTestKey, WebhookSecret: paymenttest.StripeWebhookSecret, APIBase: overlay.URL,
		SuccessURL: "https://lokiz.test/ok", CancelURL: "https://lokiz.test/no",
	})
	require.NoError(t, err)
	e := newPaymentsEnv(t, payments.Providers{Stripe: stripe})
	token, _ := e.register("substripe")
	res := e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: map[string]any{"plan": "Pro", "provider": "stripe"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.NotEmpty(t, res.Body["checkout_url"])
	require.Equal(t, float64(2999), res.Body["amount"])
	require.Equal(t, "usd", res.Body["currency"])
	r, ok := overlay.LastRequest("POST", "/v1/checkout/sessions")
	require.True(t, ok)
	require.Equal(t, "subscription", r.Form.Get("mode"))
	require.Equal(t, res.Body["order_id"], r.Form.Get("client_reference_id"))
	// Nothing is granted until Stripe says the invoice is paid.
	me := e.do(req{method: "GET", path: "/v1/subscriptions/me", token: token})
	require.Equal(t, "free", me.Body["tier"])
	// Toss is not configured here.
	res = e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: map[string]any{"plan": "pro", "provider": "toss"}})
	require.Equal(t, http.StatusServiceUnavailable, res.Status)
}

func TestSubscribeTossBilling(t *testing.T) {
	t.Parallel()
	toss, sim := startTossSim(t)
	e := newPaymentsEnv(t, payments.Providers{Toss: toss})
	token, _ := e.register("subtoss")
	otherToken, _ := e.register("subtossother")

	me := e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, true, me.Body["show_ads"], "free shows ads")
	require.Equal(t, float64(60), me.Body["limits"].(map[string]any)["music_max_seconds"])
	credits := me.Body["credits"].(float64)

	res := e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: map[string]any{"plan": "basic", "provider": "toss"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, "test_ck_api", res.Body["client_key"])
	require.Equal(t, float64(12900), res.Body["amount"])
	customerKey := res.Body["customer_key"].(string)
	require.NotContains(t, customerKey, me.Body["id"].(string), "the customer key is not the public user id")

	auth, err := sim.AuthorizeCard(customerKey)
	require.NoError(t, err)
	body := map[string]any{"authKey": auth.AuthKey, "customerKey": customerKey, "plan": "basic"}
	res = e.do(req{method: "POST", path: "/v1/subscriptions/toss/billing", token: otherToken, body: body})
	require.Equal(t, http.StatusForbidden, res.Status, "another user's customer key")
	res = e.do(req{method: "POST", path: "/v1/subscriptions/toss/billing", token: token, body: body})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, "basic", res.Body["tier"])
	require.Equal(t, "active", res.Body["status"])
	require.NotContains(t, string(res.Raw), "billing_key")
	require.NotContains(t, string(res.Raw), "bkey")

	me = e.do(req{method: "GET", path: "/v1/users/me", token: token})
	require.Equal(t, false, me.Body["show_ads"], "basic removes ads")
	require.Equal(t, "basic", me.Body["subscription_tier"])
	require.Equal(t, credits+500, me.Body["credits"])

	res = e.do(req{method: "POST", path: "/v1/subscriptions/subscribe", token: token, body: map[string]any{"plan": "pro", "provider": "toss"}})
	require.Equal(t, http.StatusConflict, res.Status)

	res = e.do(req{method: "DELETE", path: "/v1/subscriptions/cancel", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, true, res.Body["cancel_at_period_end"])
	require.Equal(t, "canceling", res.Body["status"])
	require.Equal(t, "basic", res.Body["tier"], "the tier stays until the period's end")
	res = e.do(req{method: "GET", path: "/v1/subscriptions/me", token: token})
	require.Equal(t, "basic", res.Body["tier"])
	require.NotNil(t, res.Body["subscription_expires_at"])
}
