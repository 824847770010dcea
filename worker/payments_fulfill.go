package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/tasks"
)

// NewPaymentFulfillHandler handles payments:fulfill: one order is brought
// to the state its provider reports (billing.Service.Settle), which grants
// a paid package's credits once, ends a failed one and claws back a
// refunded one. Provider errors are retried; a refusal retrying cannot
// mend (an amount that does not match the order) is archived at once.
func NewPaymentFulfillHandler(b *billing.Service) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		p, err := tasks.ParseOrderPayload(t)
		if err != nil {
			return err
		}
		err = b.Settle(ctx, p.OrderID)
		if errors.Is(err, billing.ErrPermanent) {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	}
}

// NewStripeChargeRefundedHandler handles payments:charge_refunded: a
// refunded Stripe charge of a subscription is read back from Stripe and
// its period's monthly credits taken back once, never below zero
// (billing.Service.SettleStripeRefund). Provider errors are retried; a
// refusal retrying cannot mend is archived at once.
func NewStripeChargeRefundedHandler(b *billing.Service) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		p, err := tasks.ParseChargePayload(t)
		if err != nil {
			return err
		}
		err = b.SettleStripeRefund(ctx, p.ChargeID)
		if errors.Is(err, billing.ErrPermanent) {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	}
}

// NewPaymentsReconcileHandler handles payments:reconcile: every order still
// pending or paid PAYMENTS_RECONCILE_AFTER after its creation gets its
// payments:fulfill, so a lost webhook delays a purchase, never loses it.
func NewPaymentsReconcileHandler(b *billing.Service, logger *slog.Logger) asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		n, err := b.Reconcile(ctx, time.Now())
		if n > 0 {
			logger.InfoContext(ctx, "payment orders reconciled", "enqueued", n)
		}
		return err
	}
}
