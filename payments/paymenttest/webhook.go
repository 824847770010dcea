package paymenttest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// StripeWebhookSecret is a webhook signing secret in Stripe's format for
// tests.
const StripeWebhookSecret = "whsec_lokiz_paymenttest"

// StripeEventJSON renders an event as Stripe delivers it to a webhook
// endpoint: {"id", "object": "event", "api_version", "created", "type",
// "data": {"object": …}}. The API version is stripe-go's own
// (stripe.APIVersion), as on an endpoint created with the library's
// version. object is any JSON-encodable value, usually a map with the
// fields the event's object carries.
func StripeEventJSON(t testing.TB, id, eventType string, object any) []byte {
	t.Helper()
	return StripeEventJSONVersion(t, id, eventType, stripe.APIVersion, object)
}

// StripeEventJSONVersion is StripeEventJSON with another API version.
func StripeEventJSONVersion(t testing.TB, id, eventType, apiVersion string, object any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id":               id,
		"object":           "event",
		"api_version":      apiVersion,
		"created":          time.Now().Unix(),
		"livemode":         false,
		"pending_webhooks": 1,
		"type":             eventType,
		"data":             map[string]any{"object": object},
	})
	if err != nil {
		t.Fatalf("paymenttest: encoding event: %v", err)
	}
	return b
}

// SignStripe signs a payload as Stripe does at time at, with stripe-go's
// test helper (webhook.GenerateTestSignedPayload), and returns the
// Stripe-Signature header value.
func SignStripe(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload:   payload,
		Secret:    secret,
		Timestamp: at,
	}).Header
}

// StripeHeader is an http.Header carrying the Stripe-Signature of payload
// signed now with secret.
func StripeHeader(payload []byte, secret string) http.Header {
	h := http.Header{}
	h.Set("Stripe-Signature", SignStripe(payload, secret, time.Now()))
	return h
}
