package payments_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments"
)

// Bodies in the shapes Toss documents for its webhooks.
const (
	statusChangedDone = `{
  "createdAt": "2026-01-02T14:46:59.65327",
  "eventType": "PAYMENT_STATUS_CHANGED",
  "data": {
    "mId": "lokiz", "lastTransactionKey": "txrd_a1", "paymentKey": "pk_1", "orderId": "order_0001",
    "orderName": "Starter Pack", "taxExemptionAmount": 0, "status": "DONE",
    "requestedAt": "2026-01-02T14:46:43+09:00", "approvedAt": "2026-01-02T14:46:58+09:00",
    "useEscrow": false, "cultureExpense": false, "virtualAccount": null, "cancels": null,
    "type": "NORMAL", "country": "KR", "failure": null, "isPartialCancelable": true,
    "currency": "KRW", "totalAmount": 5900, "balanceAmount": 5900, "suppliedAmount": 5364, "vat": 536,
    "taxFreeAmount": 0, "method": "카드", "version": "2022-11-16", "metadata": null
  }
}`
	statusChangedAborted = `{"createdAt":"2026-01-02T14:47:00.000001","eventType":"PAYMENT_STATUS_CHANGED",
  "data":{"paymentKey":"pk_1","orderId":"order_0001","status":"ABORTED","lastTransactionKey":null,"approvedAt":null,
  "totalAmount":10.5,"currency":"USD"}}`
	depositCallback = `{"createdAt":"2026-01-02T15:00:00.000000","secret":"ps_secret","status":"DONE",
  "transactionKey":"tx_9","orderId":"order_0002"}`
	billingDeleted = `{"eventType":"BILLING_DELETED","createdAt":"2026-01-03T10:00:00+09:00","billingKey":"bk_1","reason":"card expired"}`
	otherEvent     = `{"eventType":"PAYOUT_STATUS_CHANGED","createdAt":"2026-01-03T10:00:00+09:00","data":{"payoutId":"po_1"}}`
)

func TestParseTossWebhook(t *testing.T) {
	t.Parallel()

	t.Run("StatusChanged", func(t *testing.T) {
		t.Parallel()
		ev, err := payments.ParseTossWebhook([]byte(statusChangedDone))
		require.NoError(t, err)
		require.Equal(t, payments.TossEventPaymentStatusChanged, ev.Type)
		require.Equal(t, payments.Ref{OrderID: "order_0001", PaymentID: "pk_1"}, ev.Ref)
		// Zone-less times are Korean.
		require.Equal(t, time.Date(2026, 1, 2, 5, 46, 59, 653270000, time.UTC), ev.Created)
		require.NotEmpty(t, ev.ID)

		again, err := payments.ParseTossWebhook([]byte(statusChangedDone))
		require.NoError(t, err)
		require.Equal(t, ev.ID, again.ID, "a redelivery is the same event")

		aborted, err := payments.ParseTossWebhook([]byte(statusChangedAborted))
		require.NoError(t, err, "amounts and nulls are not read")
		require.Equal(t, ev.Ref, aborted.Ref)
		require.NotEqual(t, ev.ID, aborted.ID, "another status is another event")
	})

	t.Run("DepositCallback", func(t *testing.T) {
		t.Parallel()
		ev, err := payments.ParseTossWebhook([]byte(depositCallback))
		require.NoError(t, err)
		require.Equal(t, payments.TossEventDepositCallback, ev.Type)
		require.Equal(t, payments.Ref{OrderID: "order_0002"}, ev.Ref)
		require.NotEmpty(t, ev.ID)
	})

	t.Run("BillingDeleted", func(t *testing.T) {
		t.Parallel()
		ev, err := payments.ParseTossWebhook([]byte(billingDeleted))
		require.NoError(t, err)
		require.Equal(t, "BILLING_DELETED", ev.Type)
		require.Equal(t, "bk_1", ev.SubscriptionID)
		require.Equal(t, payments.Ref{}, ev.Ref)
		require.Equal(t, time.Date(2026, 1, 3, 1, 0, 0, 0, time.UTC), ev.Created)
	})

	t.Run("OtherEvent", func(t *testing.T) {
		t.Parallel()
		ev, err := payments.ParseTossWebhook([]byte(otherEvent))
		require.NoError(t, err)
		require.Equal(t, "PAYOUT_STATUS_CHANGED", ev.Type)
		require.Equal(t, payments.Ref{}, ev.Ref)
		require.NotEmpty(t, ev.ID)
	})

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()
		for name, body := range map[string]string{
			"Empty":           ``,
			"NotJSON":         `eventType=PAYMENT_STATUS_CHANGED`,
			"Array":           `[{"eventType":"PAYMENT_STATUS_CHANGED"}]`,
			"Truncated":       statusChangedDone[:80],
			"NoEventType":     `{"createdAt":"2026-01-02T14:46:59.65327","data":{"paymentKey":"pk_1"}}`,
			"NoPaymentKey":    `{"eventType":"PAYMENT_STATUS_CHANGED","data":{"orderId":"o","status":"DONE"}}`,
			"NoStatus":        `{"eventType":"PAYMENT_STATUS_CHANGED","data":{"paymentKey":"pk","orderId":"o"}}`,
			"NoData":          `{"eventType":"PAYMENT_STATUS_CHANGED"}`,
			"DataNotAnObject": `{"eventType":"PAYMENT_STATUS_CHANGED","data":"DONE"}`,
			"WrongTypes":      `{"eventType":"PAYMENT_STATUS_CHANGED","data":{"paymentKey":1,"orderId":"o","status":"DONE"}}`,
		} {
			_, err := payments.ParseTossWebhook([]byte(body))
			require.ErrorIs(t, err, payments.ErrTossMalformedWebhook, name)
		}
	})
}

func TestTossParseWebhookToken(t *testing.T) {
	t.Parallel()
	withToken, err := payments.NewToss(payments.TossConfig{SecretKey: "sk", ClientKey: "ck", WebhookToken: "s3cret"})
	require.NoError(t, err)
	request := func(target string, header map[string]string) http.Header {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(statusChangedDone))
		for k, v := range header {
			r.Header.Set(k, v)
		}
		return payments.TossWebhookHeader(r)
	}

	ev, err := withToken.ParseWebhook(request("/v1/webhooks/toss?token=s3cret", nil), []byte(statusChangedDone))
	require.NoError(t, err)
	require.Equal(t, "pk_1", ev.Ref.PaymentID)

	for name, h := range map[string]http.Header{
		"NoToken":    request("/v1/webhooks/toss", nil),
		"WrongToken": request("/v1/webhooks/toss?token=s3cre", nil),
		// A sender cannot put the token in the header itself.
		"SenderHeader": request("/v1/webhooks/toss?token=nope", map[string]string{payments.TossWebhookTokenHeader: "s3cret"}),
	} {
		_, err := withToken.ParseWebhook(h, []byte(statusChangedDone))
		require.ErrorIs(t, err, payments.ErrBadSignature, name)
	}
	_, err = withToken.ParseWebhook(request("/v1/webhooks/toss", nil), []byte("not json"))
	require.ErrorIs(t, err, payments.ErrBadSignature, "the origin is checked before the body is read")
	_, err = withToken.ParseWebhook(request("/v1/webhooks/toss?token=s3cret", nil), []byte("not json"))
	require.ErrorIs(t, err, payments.ErrTossMalformedWebhook)

	// Without a token configured, the body alone is parsed (a hint: the
	// worker acts on Lookup).
	open, err := payments.NewToss(payments.TossConfig{SecretKey: "sk", ClientKey: "ck"})
	require.NoError(t, err)
	_, err = open.ParseWebhook(http.Header{}, []byte(statusChangedDone))
	require.NoError(t, err)
}
