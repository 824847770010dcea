package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/payments"
)

// TestPaymentsJourney buys a credit package through a real `lokiz dev`
// without any provider key: the Stripe purchase opens the development
// checkout, pressing "Pay" drives the webhook path (event recorded,
// fulfilment queued, the worker looks the payment up and grants), and the
// balance and the purchase ledger row appear. "Fail" on a second order
// fails it and grants nothing. Toss runs on the in-process simulator.
func TestPaymentsJourney(t *testing.T) {
	t.Parallel()
	const redisIndex = 0 // the payments journey's own database
	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	c := startDev(t, map[string]string{
		"DATABASE_URL": dbtest.NewEmptyDB(t), "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("p", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
	})
	token, _ := c.register("journey_buyer")
	status, bal := c.call("GET", "/v1/credits/balance", token, nil)
	require.Equal(t, http.StatusOK, status)
	before := bal["balance"].(float64)

	status, buy := c.call("POST", "/v1/credits/purchase", token, map[string]any{"package_id": "starter_100", "provider": "stripe"})
	require.Equal(t, http.StatusCreated, status, "%v", buy)
	checkout := buy["checkout_url"].(string)
	require.True(t, strings.HasPrefix(checkout, c.base+payments.DevCheckoutPath), checkout)
	status, page, ctype := c.get(checkout)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ctype, "text/html")
	require.Contains(t, string(page), "Development checkout")
	require.Contains(t, string(page), `id="pay"`)

	// Press "Pay".
	resp, err := c.client.PostForm(checkout+"/pay", url.Values{})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), ">paid<")

	orderID := buy["order_id"].(string)
	require.Eventually(t, func() bool {
		_, o := c.call("GET", "/v1/payments/orders/"+orderID, token, nil)
		return o["status"] == "fulfilled"
	}, 30*time.Second, 100*time.Millisecond, "the worker fulfils the order; logs:\n%s", c.logs)
	_, bal = c.call("GET", "/v1/credits/balance", token, nil)
	require.Equal(t, before+100, bal["balance"])
	status, hist := c.call("GET", "/v1/credits/history?transaction_type=purchase", token, nil)
	require.Equal(t, http.StatusOK, status)
	rows := hist["transactions"].([]any)
	require.Len(t, rows, 1)
	row := rows[0].(map[string]any)
	require.Equal(t, "purchase", row["transaction_type"])
	require.EqualValues(t, 100, row["credits"])

	// A second press is a repeated delivery: nothing more.
	resp, err = c.client.PostForm(checkout+"/pay", url.Values{})
	require.NoError(t, err)
	resp.Body.Close()

	// "Fail" on another order.
	_, buy2 := c.call("POST", "/v1/credits/purchase", token, map[string]any{"package_id": "basic_500", "provider": "stripe"})
	resp, err = c.client.PostForm(buy2["checkout_url"].(string)+"/fail", url.Values{})
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool {
		_, o := c.call("GET", "/v1/payments/orders/"+buy2["order_id"].(string), token, nil)
		return o["status"] == "failed"
	}, 30*time.Second, 100*time.Millisecond)
	_, bal = c.call("GET", "/v1/credits/balance", token, nil)
	require.Equal(t, before+100, bal["balance"], "granted once, and nothing for the failed order")

	// Toss works offline too, on the simulator `lokiz dev` started.
	status, toss := c.call("POST", "/v1/credits/purchase", token, map[string]any{"package_id": "starter_100", "provider": "toss"})
	require.Equal(t, http.StatusCreated, status, "%v", toss)
	require.NotEmpty(t, toss["client_key"])
	require.EqualValues(t, 6500, toss["amount"])

	// A plan through the development checkout (provider "dev"): "Pay"
	// starts the subscription on the worker, with the monthly credits
	// once, and the discount applies to the next AI job.
	status, sub := c.call("POST", "/v1/subscriptions/subscribe", token, map[string]any{"plan": "basic", "provider": "dev"})
	require.Equal(t, http.StatusCreated, status, "%v", sub)
	resp, err = c.client.PostForm(sub["checkout_url"].(string)+"/pay", url.Values{})
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool {
		_, me := c.call("GET", "/v1/subscriptions/me", token, nil)
		return me["tier"] == "basic"
	}, 30*time.Second, 100*time.Millisecond, "the worker starts the subscription; logs:\n%s", c.logs)
	_, bal = c.call("GET", "/v1/credits/balance", token, nil)
	require.Equal(t, before+100+500, bal["balance"], "the basic plan's monthly credits, once")
	status, job := c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "dev plan beat", "duration": 2})
	require.Equal(t, http.StatusAccepted, status, "%v", job)
	require.EqualValues(t, 4, job["credits_used"], "music's 5 credits, 10% off")
}

// TestDevCheckoutNeverInProduction: production gets neither the
// development checkout nor the Toss simulator, even through `lokiz dev`'s
// start, and its api does not mount the checkout page.
func TestDevCheckoutNeverInProduction(t *testing.T) {
	t.Parallel()
	a := &app{cfg: Config{Env: "production"}, log: slog.New(slog.DiscardHandler)}
	stop, err := a.startDevPayments()
	require.NoError(t, err)
	stop()
	require.Nil(t, a.devCheckout)
	require.Nil(t, a.tossSim)
	require.Empty(t, a.cfg.Payments.TossSecretKey)

	a.devCheckout = payments.NewDevCheckout("http://x") // even if one were made
	p, err := a.paymentProviders()
	require.NoError(t, err)
	require.Nil(t, p.Dev, "production never hands out the development checkout")
	_, ok := p.Get(payments.Stripe)
	require.False(t, ok)

	dev := &app{cfg: Config{Env: "development"}, log: slog.New(slog.DiscardHandler)}
	dev.cfg.HTTP.PublicBaseURL = "http://127.0.0.1:1"
	stop, err = dev.startDevPayments()
	require.NoError(t, err)
	defer stop()
	require.NotNil(t, dev.devCheckout, "development without a Stripe key gets it")
	require.NotNil(t, dev.tossSim)
}
