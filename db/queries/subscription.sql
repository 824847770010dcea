-- name: SubscriptionInsert :one
-- Only through Store.StartSubscription.
INSERT INTO subscriptions
    (id, user_id, plan, provider, provider_subscription_id, status,
     current_period_start, current_period_end, billing_key, customer_key)
VALUES (@id, @user_id, @plan, @provider, @provider_subscription_id, 'active',
        @current_period_start, @current_period_end, @billing_key, @customer_key)
RETURNING *;

-- name: SubscriptionGet :one
SELECT * FROM subscriptions WHERE id = @id;

-- name: SubscriptionGetForUpdate :one
SELECT * FROM subscriptions WHERE id = @id FOR UPDATE;

-- name: SubscriptionByProviderID :one
SELECT * FROM subscriptions WHERE provider = @provider AND provider_subscription_id = @provider_subscription_id;

-- name: SubscriptionLiveOfUser :one
-- The user's live subscription (at most one: subscriptions_user_live_key).
SELECT * FROM subscriptions WHERE user_id = @user_id AND status <> 'expired';

-- name: SubscriptionLiveOfUserForUpdate :one
SELECT * FROM subscriptions WHERE user_id = @user_id AND status <> 'expired' FOR UPDATE;

-- name: SubscriptionSetPeriod :one
UPDATE subscriptions
SET status = @status, current_period_start = @current_period_start, current_period_end = @current_period_end,
    expired_at = NULL, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: SubscriptionSetCanceling :one
UPDATE subscriptions
SET status = 'canceling', cancel_at_period_end = true, canceled_at = coalesce(canceled_at, @canceled_at), updated_at = now()
WHERE id = @id AND status IN ('active', 'past_due', 'canceling')
RETURNING *;

-- name: SubscriptionResume :one
-- canceling → active: the cancellation at period end was undone.
UPDATE subscriptions
SET status = 'active', cancel_at_period_end = false, canceled_at = NULL, updated_at = now()
WHERE id = @id AND status = 'canceling'
RETURNING *;

-- name: SubscriptionSetPastDue :one
UPDATE subscriptions SET status = 'past_due', updated_at = now()
WHERE id = @id AND status IN ('active', 'past_due')
RETURNING *;

-- name: SubscriptionsExpireEnded :many
-- Live subscriptions whose period ended at or before @ended_by, up to @lim
-- of them; rows a renewal holds are skipped and seen on the next run.
UPDATE subscriptions s
SET status = 'expired', expired_at = @expired_at, updated_at = now()
WHERE s.id IN (
    SELECT e.id FROM subscriptions e
    WHERE e.status <> 'expired' AND e.current_period_end <= @ended_by
    ORDER BY e.current_period_end
    LIMIT @lim
    FOR UPDATE SKIP LOCKED)
  AND s.status <> 'expired' AND s.current_period_end <= @ended_by
RETURNING s.*;

-- name: UserSetSubscription :exec
UPDATE users SET subscription_tier = @subscription_tier, subscription_expires_at = @subscription_expires_at, updated_at = now()
WHERE id = @id;

-- name: UsersDropEndedTier :execrows
-- Back to free for the users whose paid tier ended at or before @ended_by; a
-- tier set without an expiry (by an administrator) is left alone.
UPDATE users SET subscription_tier = 'free', subscription_expires_at = NULL, updated_at = now()
WHERE id = ANY(@ids::uuid[]) AND subscription_tier <> 'free' AND subscription_expires_at <= @ended_by;

-- name: SubscriptionsDueForRenewal :many
-- Toss (and development checkout) subscriptions our scheduler charges:
-- renewing, and their period ends before @before; past_due ones are retried.
SELECT * FROM subscriptions
WHERE provider IN ('toss', 'dev') AND status IN ('active', 'past_due') AND NOT cancel_at_period_end
  AND current_period_end <= @before
ORDER BY current_period_end, id
LIMIT @lim;

-- name: SubscriptionEnd :one
UPDATE subscriptions
SET status = 'expired', expired_at = @expired_at, cancel_at_period_end = true,
    canceled_at = coalesce(canceled_at, @expired_at), updated_at = now()
WHERE id = @id AND status <> 'expired'
RETURNING *;

-- name: UserDropTierNow :exec
-- Back to free at once, unless the tier was already set without an expiry
-- (by an administrator).
UPDATE users SET subscription_tier = 'free', subscription_expires_at = NULL, updated_at = now()
WHERE id = @id AND subscription_tier <> 'free' AND subscription_expires_at IS NOT NULL;

-- name: SubscriptionPeriodRefundGetForUpdate :one
SELECT * FROM subscription_period_refunds
WHERE subscription_id = @subscription_id AND period_start = @period_start FOR UPDATE;

-- name: SubscriptionPeriodRefundInsert :one
-- Only through Store.RefundSubscriptionPeriod.
INSERT INTO subscription_period_refunds
    (subscription_id, period_start, period_end, provider_payment_id, invoice_id, amount, refunded_amount,
     currency, credits_granted, credits_clawed_back, refunded_at)
VALUES (@subscription_id, @period_start, @period_end, @provider_payment_id, @invoice_id, @amount, @refunded_amount,
        @currency, @credits_granted, @credits_clawed_back, @refunded_at)
RETURNING *;

-- name: SubscriptionPeriodRefundRaise :one
-- A later refund of a refunded period: the refunded amount grows, nothing
-- else changes.
UPDATE subscription_period_refunds
SET refunded_amount = greatest(refunded_amount, @refunded_amount), updated_at = now()
WHERE subscription_id = @subscription_id AND period_start = @period_start
RETURNING *;
