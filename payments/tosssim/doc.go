// Package tosssim is a Toss Payments-compatible HTTP server that keeps its
// payments in memory, so the Toss adapter (payments.TossClient) and the
// purchase flows above it can run offline, in tests and under `lokiz dev`.
//
// # Routes
//
// Served under /v1 as api.tosspayments.com serves them, so a client's base
// URL is the server's root:
//
//	POST /v1/payments/confirm                  {paymentKey, orderId, amount}
//	GET  /v1/payments/{paymentKey}
//	GET  /v1/payments/orders/{orderId}
//	POST /v1/payments/{paymentKey}/cancel      {cancelReason, cancelAmount?}
//	POST /v1/billing/authorizations/issue      {authKey, customerKey}
//	POST /v1/billing/{billingKey}              {customerKey, amount, orderId, orderName}
//
// Every request needs HTTP Basic auth with the configured secret key as the
// user and an empty password (401 UNAUTHORIZED_KEY otherwise). Answers are
// Toss-shaped Payment objects (paymentKey, orderId, orderName, status,
// totalAmount, balanceAmount, currency "KRW", method, approvedAt, cancels,
// failure, …); errors are {"code", "message"} with Toss's codes:
// INVALID_REQUEST, NOT_FOUND_PAYMENT, NOT_FOUND_PAYMENT_SESSION,
// ALREADY_PROCESSED_PAYMENT, NOT_CANCELABLE_AMOUNT, ALREADY_CANCELED_PAYMENT,
// NOT_MATCHES_CUSTOMER_KEY, DUPLICATED_ORDER_ID, REJECT_CARD_PAYMENT,
// NOT_FOUND_BILLING_KEY.
//
// A POST with an Idempotency-Key header is answered once: the same key on
// the same route gets the first answer again and changes nothing (on another
// route it is 400 INVALID_REQUEST). Requests are handled one at a time
// under the server's lock, so concurrent retries cannot pay twice.
//
// # Payment lifecycle
//
// The widget's part happens through the Go API, as the browser would do it:
// PayWidget puts a payment in IN_PROGRESS and returns what the success
// redirect carries (paymentKey, orderId, amount). Confirm with the same
// orderId and amount makes it DONE; another amount is refused with 400
// INVALID_REQUEST and the payment stays unpaid. A DONE payment is canceled
// fully (CANCELED) or in parts (PARTIAL_CANCELED, then CANCELED when nothing
// is left), by the API or from the provider's side with Refund. FailPayment
// and ExpirePayment end an unconfirmed payment as ABORTED or EXPIRED.
//
// Billing: AuthorizeCard returns the authKey the billing widget hands the
// client; issuing exchanges it once for a billing key, which charges
// payments of type BILLING, each with a new orderId. DeclineCard makes a
// billing key's next charges fail with REJECT_CARD_PAYMENT.
//
// # Webhooks
//
// Each status change of a payment is POSTed to the webhook URL
// (Options.WebhookURL or SetWebhookURL) as Toss does it:
// {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": KST time without a
// zone, "data": the payment}, unsigned. A billing charge sends none when it
// is made, as the caller has the answer; its later cancel (a refund from
// the merchant's side, Refund, or through the API) sends one like a
// one-time payment's. Failed deliveries are retried. SetFaults drops,
// duplicates, delays (so later events overtake) or holds them (FlushWebhooks
// delivers the held ones, in order or reversed); SendWebhook resends a
// payment's current state.
package tosssim
