package paymenttest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments/paymenttest"
)

func get(t *testing.T, base, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+paymenttest.StripeTestKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(body, &doc), string(body))
	return resp.StatusCode, doc
}

func TestStripeOverlay(t *testing.T) {
	t.Parallel()
	o := paymenttest.StartStripe(t)

	// Unregistered: stripe-mock's fixture, untouched.
	status, doc := get(t, o.URL, "/v1/checkout/sessions/cs_plain")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "cs_plain", doc["id"])
	require.Equal(t, "unpaid", doc["payment_status"])

	// Registered: the fields are patched, at the top and where the object
	// appears expanded inside another.
	o.Set("cs_state", map[string]any{"payment_status": "paid", "amount_total": 499,
		"payment_intent": map[string]any{"id": "pi_state"}})
	o.Set("pi_state", map[string]any{"status": "succeeded"})
	status, doc = get(t, o.URL, "/v1/checkout/sessions/cs_state?expand[0]=payment_intent")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "paid", doc["payment_status"])
	require.EqualValues(t, 499, doc["amount_total"])
	pi := doc["payment_intent"].(map[string]any)
	require.Equal(t, "pi_state", pi["id"])
	require.Equal(t, "succeeded", pi["status"])
	require.Equal(t, "payment_intent", pi["object"], "the rest of the fixture is stripe-mock's")

	// Unexpanded, the reference becomes the registered id.
	_, doc = get(t, o.URL, "/v1/checkout/sessions/cs_state")
	require.Equal(t, "pi_state", doc["payment_intent"])

	// Errors pass through: stripe-mock still validates every request.
	form := url.Values{"mode": {"bogus"}}
	req, err := http.NewRequest(http.MethodPost, o.URL+"/v1/checkout/sessions", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+paymenttest.StripeTestKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "invalid_request_error")

	last, ok := o.LastRequest(http.MethodPost, "/v1/checkout/sessions")
	require.True(t, ok)
	require.Equal(t, "bogus", last.Form.Get("mode"))
	require.Equal(t, http.StatusBadRequest, last.Status)
	require.Len(t, o.Requests(), 4)
}
