package api_test

import (
	"context"
	"github.com/google/uuid"
	"github.com/lokiz/lokiz/db/dbtest"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCredits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("wallet")

	res := e.do(req{method: "GET", path: "/v1/credits/packages"})
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, res.Body["packages"], 4)
	require.Equal(t, map[string]any{"id": "starter_100", "name": "Starter Pack", "credits": float64(100), "price": 4.99,
		"currency": "USD", "price_per_credit": 0.0499}, res.Body["packages"].([]any)[0])

	res = e.do(req{method: "GET", path: "/v1/credits/balance", token: token})
	require.Equal(t, map[string]any{"balance": float64(100), "total_earned": float64(100), "total_spent": float64(0),
		"daily_free_credits": float64(10), "daily_free_credits_claimed_at": nil}, res.Body)

	res = e.do(req{method: "GET", path: "/v1/credits/daily-status", token: token})
	require.Equal(t, map[string]any{"can_claim": true, "amount": float64(10), "next_claim_at": nil, "last_claimed_at": nil}, res.Body)

	// Ten claims at once: exactly one is granted.
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(req{method: "POST", path: "/v1/credits/daily-claim", token: token}).Status
		}()
	}
	wg.Wait()
	granted := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			granted++
		} else {
			require.Equal(t, http.StatusConflict, s)
		}
	}
	require.Equal(t, 1, granted, "statuses: %v", statuses)

	res = e.do(req{method: "POST", path: "/v1/credits/daily-claim", token: token})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "already_claimed", res.Body["reason"])
	res = e.do(req{method: "GET", path: "/v1/credits/daily-status", token: token})
	require.Equal(t, false, res.Body["can_claim"])
	require.NotNil(t, res.Body["next_claim_at"])

	res = e.do(req{method: "GET", path: "/v1/credits/balance", token: token})
	require.Equal(t, float64(110), res.Body["balance"])
	res = e.do(req{method: "GET", path: "/v1/credits/history?page_size=1", token: token})
	require.Equal(t, float64(2), res.Body["total"])
	require.Equal(t, true, res.Body["has_more"])
	require.Equal(t, "daily", res.Body["transactions"].([]any)[0].(map[string]any)["transaction_type"])
	res = e.do(req{method: "GET", path: "/v1/credits/history?transaction_type=bonus", token: token})
	require.Equal(t, float64(1), res.Body["total"])
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/credits/history?transaction_type=gift", token: token}).Status)

	// Yesterday's claim does not block today's.
	dbtest.BackdateDailyClaim(t, e.store, uuid.MustParse(me), 48*time.Hour)
	require.Equal(t, true, e.do(req{method: "GET", path: "/v1/credits/daily-status", token: token}).Body["can_claim"])
	require.Equal(t, http.StatusOK, e.do(req{method: "POST", path: "/v1/credits/daily-claim", token: token}).Status)

	mismatches, err := e.store.CreditLedgerMismatches(context.Background())
	require.NoError(t, err)
	require.Empty(t, mismatches, "the balance equals the ledger")

	res = e.do(req{method: "POST", path: "/v1/credits/purchase", token: token, body: map[string]any{"package_id": "starter_100"}})
	require.Equal(t, http.StatusNotImplemented, res.Status)
	require.Equal(t, float64(120), e.do(req{method: "GET", path: "/v1/credits/balance", token: token}).Body["balance"], "no credits from a request (B-11)")
}
