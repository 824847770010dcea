package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/tasks"
)

// TestPaymentFulfill runs payments:fulfill and payments:reconcile through
// the worker's mux, with the development checkout as the provider (its
// Lookup answers what was chosen, as Stripe's would).
func TestPaymentFulfill(t *testing.T) {
	t.Parallel()
	type bundle struct {
		store *db.Store
		dev   *payments.DevCheckout
		mux   *asynq.ServeMux
		insp  *asynq.Inspector
		user  db.User
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		store := dbtest.NewStore(t)
		rdb := newRedis(t)
		qc := asynq.NewClientFromRedisClient(rdb)
		t.Cleanup(func() { _ = qc.Close() })
		logger, _ := newLogger()
		dev := payments.NewDevCheckout("http://lokiz.test")
		b, err := billing.New(store, tasks.NewClient(qc), payments.Providers{Dev: dev},
			billing.Config{CustomerKeySecret: "k", PendingAfter: time.Millisecond}, logger)
		require.NoError(t, err)
		return &bundle{store: store, dev: dev, insp: asynq.NewInspectorFromRedisClient(rdb),
			mux: NewMux(Deps{Store: store, Logger: logger, Billing: b}), user: dbtest.CreateUser(t, store, dbtest.UserOpts{})}
	}
	// order makes a Stripe order whose checkout at the provider was for
	// amount (the order's own amount unless a test tampers with it).
	order := func(t *testing.T, b *bundle, amount int64) (db.PaymentOrder, string) {
		t.Helper()
		ctx := context.Background()
		o, err := b.store.CreatePaymentOrder(ctx, db.NewPaymentOrder{UserID: b.user.ID, Kind: lokiz.OrderKindPackage,
			ItemID: "starter_100", Provider: payments.Stripe, Currency: lokiz.CurrencyUSD})
		require.NoError(t, err)
		if amount == 0 {
			amount = o.Amount
		}
		co, err := b.dev.Checkout(ctx, payments.Order{ID: o.ID.String(), Kind: payments.KindPackage, ItemID: o.ItemID,
			Name: "Starter Pack", Amount: amount, Currency: o.Currency})
		require.NoError(t, err)
		o, err = b.store.SetOrderCheckoutSession(ctx, o.ID, co.SessionID)
		require.NoError(t, err)
		return o, co.SessionID
	}
	balance := func(t *testing.T, b *bundle) int32 {
		u, err := b.store.UserByID(context.Background(), b.user.ID)
		require.NoError(t, err)
		return u.Credits
	}

	t.Run("PaidGrantsOncePendingWaits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		o, sess := order(t, b, 0)
		task := tasks.NewPaymentFulfillTask(o.ID)
		require.NoError(t, b.mux.ProcessTask(context.Background(), task), "pending: nothing to do yet")
		require.Equal(t, b.user.Credits, balance(t, b))
		_, err := b.dev.Decide(sess, true)
		require.NoError(t, err)
		for range 3 {
			require.NoError(t, b.mux.ProcessTask(context.Background(), task))
		}
		require.Equal(t, b.user.Credits+100, balance(t, b))
		got, err := b.store.PaymentOrderGet(context.Background(), o.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.OrderFulfilled, got.Status)
	})

	t.Run("AmountMismatchIsArchivedAndGrantsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		o, sess := order(t, b, 1) // the provider took 1 cent
		_, err := b.dev.Decide(sess, true)
		require.NoError(t, err)
		err = b.mux.ProcessTask(context.Background(), tasks.NewPaymentFulfillTask(o.ID))
		require.ErrorIs(t, err, asynq.SkipRetry)
		require.Equal(t, b.user.Credits, balance(t, b))
		got, err := b.store.PaymentOrderGet(context.Background(), o.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.OrderPending, got.Status)
	})

	t.Run("FailedEndsTheOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		o, sess := order(t, b, 0)
		_, err := b.dev.Decide(sess, false)
		require.NoError(t, err)
		require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewPaymentFulfillTask(o.ID)))
		got, err := b.store.PaymentOrderGet(context.Background(), o.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.OrderFailed, got.Status)
		require.Equal(t, b.user.Credits, balance(t, b))
	})

	t.Run("ReconcileEnqueuesPendingOrders", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		o, _ := order(t, b, 0)
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, b.mux.ProcessTask(context.Background(), tasks.NewPaymentsReconcileTask()))
		_, err := b.insp.GetTaskInfo(tasks.QueueCritical, tasks.TypePaymentFulfill+":"+o.ID.String())
		require.NoError(t, err)
		require.NoError(t, b.insp.DeleteTask(tasks.QueueCritical, tasks.TypePaymentFulfill+":"+o.ID.String()))
	})

	t.Run("UnknownOrderIsArchived", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.mux.ProcessTask(context.Background(), tasks.NewPaymentFulfillTask(dbtest.CreateUser(t, b.store, dbtest.UserOpts{}).ID))
		require.True(t, errors.Is(err, asynq.SkipRetry))
	})
}
