package tasks

import (
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestPaymentFulfillTask(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	task := NewPaymentFulfillTask(id)
	require.Equal(t, "payments:fulfill", task.Type())
	require.JSONEq(t, `{"order_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2"}`, string(task.Payload()))
	p, err := ParseOrderPayload(task)
	require.NoError(t, err)
	require.Equal(t, id, p.OrderID)

	_, err = ParseOrderPayload(asynq.NewTask(TypePaymentFulfill, []byte(`{"order_id":"nope"}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
	_, err = ParseOrderPayload(asynq.NewTask(TypePaymentFulfill, []byte(`{}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}

func TestSubscriptionSyncTask(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	task := NewSubscriptionSyncTask(id, "in_123")
	require.Equal(t, "subscription:sync", task.Type())
	require.JSONEq(t, `{"subscription_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2","invoice_id":"in_123"}`, string(task.Payload()))
	p, err := ParseSubscriptionPayload(task)
	require.NoError(t, err)
	require.Equal(t, SubscriptionPayload{SubscriptionID: id, InvoiceID: "in_123"}, p)

	require.JSONEq(t, `{"subscription_id":"01a213f3-8e0d-7cf5-b72f-2f83111593e2"}`, string(NewSubscriptionSyncTask(id, "").Payload()))
	_, err = ParseSubscriptionPayload(asynq.NewTask(TypeSubscriptionSync, []byte(`{}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}

func TestPeriodicPaymentTasks(t *testing.T) {
	t.Parallel()
	require.Equal(t, "payments:reconcile", NewPaymentsReconcileTask().Type())
	require.Equal(t, "subscriptions:renew", NewSubscriptionsRenewTask().Type())
	require.Equal(t, "subscriptions:expire", NewSubscriptionsExpireTask().Type())
}

func TestSubscriptionSyncTaskForUnknownSubscription(t *testing.T) {
	t.Parallel()
	order := uuid.MustParse("0b8f3c2e-6a4d-4e1b-9a51-0c1d2e3f4a5b")
	p := SubscriptionPayload{OrderID: order, ProviderSubscriptionID: "sub_first", InvoiceID: "in_first"}
	task := NewSubscriptionSyncTaskFor(p)
	require.Equal(t, TypeSubscriptionSync, task.Type())
	require.JSONEq(t, `{"order_id":"0b8f3c2e-6a4d-4e1b-9a51-0c1d2e3f4a5b","provider_subscription_id":"sub_first","invoice_id":"in_first"}`, string(task.Payload()))
	got, err := ParseSubscriptionPayload(task)
	require.NoError(t, err)
	require.Equal(t, p, got)
	// A known subscription: the same task as NewSubscriptionSyncTask.
	id := uuid.MustParse("01a213f3-8e0d-7cf5-b72f-2f83111593e2")
	require.JSONEq(t, string(NewSubscriptionSyncTask(id, "in_1").Payload()),
		string(NewSubscriptionSyncTaskFor(SubscriptionPayload{SubscriptionID: id, InvoiceID: "in_1"}).Payload()))
	// An order without Stripe's subscription id is refused.
	_, err = ParseSubscriptionPayload(asynq.NewTask(TypeSubscriptionSync, []byte(`{"order_id":"0b8f3c2e-6a4d-4e1b-9a51-0c1d2e3f4a5b"}`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}
