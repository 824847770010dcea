package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/tasks"
)

// SubscriptionHandlers run the subscription tasks through billing.Subscriptions:
// subscription:sync (a Stripe subscription brought to the state Stripe
// reports), subscriptions:renew (the Toss billing keys we charge) and
// subscriptions:expire.
type SubscriptionHandlers struct {
	svc    *billing.Subscriptions
	logger *slog.Logger
}

// NewSubscriptionHandlers returns the subscription task handlers.
func NewSubscriptionHandlers(svc *billing.Subscriptions, logger *slog.Logger) *SubscriptionHandlers {
	return &SubscriptionHandlers{svc: svc, logger: logger}
}

// Register adds the handlers to mux.
func (h *SubscriptionHandlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(tasks.TypeSubscriptionSync, h.Sync)
	mux.HandleFunc(tasks.TypeSubscriptionsRenew, h.Renew)
	mux.HandleFunc(tasks.TypeSubscriptionsExpire, h.Expire)
}

// Sync runs subscription:sync. A subscription or invoice that is not ours
// is not retried.
func (h *SubscriptionHandlers) Sync(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseSubscriptionPayload(t)
	if err != nil {
		return err
	}
	err = h.svc.Sync(ctx, p)
	var perm *billing.PermanentError
	if errors.As(err, &perm) {
		return fmt.Errorf("subscription sync: %w: %w", err, asynq.SkipRetry)
	}
	return err
}

// Renew runs subscriptions:renew. Declined cards are an outcome, logged
// here; other failures are returned (the next run tries them again).
func (h *SubscriptionHandlers) Renew(ctx context.Context, _ *asynq.Task) error {
	res, err := h.svc.Renew(ctx)
	if res.Renewed+res.Declined+res.Failed > 0 {
		h.logger.InfoContext(ctx, "subscriptions renewed",
			"renewed", res.Renewed, "declined", res.Declined, "failed", res.Failed)
	}
	return err
}

// Expire runs subscriptions:expire.
func (h *SubscriptionHandlers) Expire(ctx context.Context, _ *asynq.Task) error {
	n, err := h.svc.Expire(ctx)
	if n > 0 {
		h.logger.InfoContext(ctx, "subscriptions expired", "count", n)
	}
	return err
}
