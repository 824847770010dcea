package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/payments/tosssim"
)

// TestSubscriptionJourney subscribes through `lokiz dev` with a Toss
// billing key (the simulator, started here and named by TOSS_API_BASE),
// gets the plan's monthly credits and pays the discounted price for the
// next AI job.
//
// It uses Redis DB 0 and is deliberately not parallel: another journey
// uses DB 0 in parallel mode, and Go runs every non-parallel top-level test
// before the parallel ones resume, so the two never overlap. DB 0 is
// flushed at the start.
func TestSubscriptionJourney(t *testing.T) {
	require.NoError(t, testkit.Redis(t, 0).FlushDB(context.Background()).Err())
	sim, err := tosssim.Start(tosssim.Options{SecretKey: "test_sk_journey", ClientKey: "test_ck_journey"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })

	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	c := startDev(t, map[string]string{
		"DATABASE_URL": dbtest.NewEmptyDB(t), "REDIS_URL": "redis://" + testkit.RedisAddr() + "/0",
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("s", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "4",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "LOG_LEVEL": "warn", "STORAGE_DIR": t.TempDir(),
		"AI_POLL_MIN": "200ms", "AI_POLL_MAX": "1s",
		"TOSS_SECRET_KEY": sim.SecretKey(), "TOSS_CLIENT_KEY": sim.ClientKey(), "TOSS_API_BASE": sim.URL(),
	})
	token, _ := c.register("subscriber")

	status, plans := c.call("GET", "/v1/subscriptions/plans", "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, plans["plans"], 4)
	status, me := c.call("GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, me["show_ads"])
	before := me["credits"].(float64)

	status, start := c.call("POST", "/v1/subscriptions/subscribe", token, map[string]any{"plan": "basic", "provider": "toss"})
	require.Equal(t, http.StatusCreated, status, "%v", start)
	auth, err := sim.AuthorizeCard(start["customer_key"].(string))
	require.NoError(t, err)
	status, sub := c.call("POST", "/v1/subscriptions/toss/billing", token, map[string]any{
		"authKey": auth.AuthKey, "customerKey": auth.CustomerKey, "plan": "basic"})
	require.Equal(t, http.StatusCreated, status, "%v; logs:\n%s", sub, c.logs)
	require.Equal(t, "basic", sub["tier"])

	// The monthly credits, once, as a subscription row of the ledger.
	status, me = c.call("GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, before+500, me["credits"])
	require.Equal(t, false, me["show_ads"])
	status, hist := c.call("GET", "/v1/credits/history?transaction_type=subscription", token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, hist["transactions"], 1)

	// The next AI job costs 10% less: music's 5 credits are 4.
	status, job := c.call("POST", "/v1/ai/music", token, map[string]any{"prompt": "subscribed beat", "duration": 2})
	require.Equal(t, http.StatusAccepted, status, "%v", job)
	require.EqualValues(t, 4, job["credits_used"])
	status, me = c.call("GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, before+500-4, me["credits"])
	job = c.waitJob(token, job["id"].(string))
	require.Equal(t, "completed", job["status"], "%v; logs:\n%s", job, c.logs)
}
