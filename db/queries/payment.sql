-- name: PaymentOrderInsert :one
-- Only through Store.CreatePaymentOrder, which prices the item.
INSERT INTO payment_orders (id, user_id, kind, item_id, provider, amount, currency, credits)
VALUES (@id, @user_id, @kind, @item_id, @provider, @amount, @currency, @credits)
RETURNING *;

-- name: PaymentOrderInsertIfAbsent :one
-- Only through Store.CreatePaymentOrder with a caller's id: no row when an
-- order with that id exists.
INSERT INTO payment_orders (id, user_id, kind, item_id, provider, amount, currency, credits)
VALUES (@id, @user_id, @kind, @item_id, @provider, @amount, @currency, @credits)
ON CONFLICT (id) DO NOTHING
RETURNING *;

-- name: PaymentOrderGet :one
SELECT * FROM payment_orders WHERE id = @id;

-- name: PaymentOrderGetForUpdate :one
SELECT * FROM payment_orders WHERE id = @id FOR UPDATE;

-- name: PaymentOrderByProviderSession :one
SELECT * FROM payment_orders WHERE provider = @provider AND provider_session_id = @provider_session_id;

-- name: PaymentOrderByProviderPayment :one
SELECT * FROM payment_orders WHERE provider = @provider AND provider_payment_id = @provider_payment_id;

-- name: PaymentOrderSetSession :one
-- Records the provider's checkout id of a pending order (Stripe's Checkout
-- Session), so a webhook naming the session finds the order.
UPDATE payment_orders SET provider_session_id = @provider_session_id, updated_at = now()
WHERE id = @id AND status = 'pending'
RETURNING *;

-- name: PaymentOrderMarkPaid :one
UPDATE payment_orders
SET status = 'paid', provider_payment_id = @provider_payment_id, paid_at = @paid_at, updated_at = now()
WHERE id = @id AND status = 'pending'
RETURNING *;

-- name: PaymentOrderMarkFulfilled :one
UPDATE payment_orders
SET status = 'fulfilled', fulfilled_at = @fulfilled_at,
    subscription_id = coalesce(sqlc.narg('subscription_id')::uuid, subscription_id), updated_at = now()
WHERE id = @id AND status = 'paid'
RETURNING *;

-- name: PaymentOrderMarkEnded :one
-- pending → failed | canceled.
UPDATE payment_orders SET status = @status, failure_reason = @failure_reason, updated_at = now()
WHERE id = @id AND status = 'pending' AND @status::text IN ('failed', 'canceled')
RETURNING *;

-- name: PaymentOrderMarkRefunded :one
-- paid | fulfilled → refunded, or a refunded order's larger refunded amount.
UPDATE payment_orders
SET status = 'refunded', refunded_amount = greatest(refunded_amount, @refunded_amount),
    credits_clawed_back = credits_clawed_back + @clawed_back,
    refunded_at = coalesce(refunded_at, @refunded_at), updated_at = now()
WHERE id = @id AND status IN ('paid', 'fulfilled', 'refunded')
RETURNING *;

-- name: OrdersPendingBefore :many
-- The reconciler's scan: orders created before @before still waiting for the
-- provider (pending) or for fulfilment (paid), oldest first.
SELECT * FROM payment_orders
WHERE status IN ('pending', 'paid') AND created_at < @before
ORDER BY created_at, id
LIMIT @lim;

-- name: PaymentOrdersOfUser :many
SELECT * FROM payment_orders WHERE user_id = @user_id
ORDER BY created_at DESC, id DESC
LIMIT @lim OFFSET @off;

-- name: PaymentEventInsert :execrows
-- 1 row for a new event, 0 for a delivery already recorded.
INSERT INTO payment_events (provider, event_id, event_type, received_at)
VALUES (@provider, @event_id, @event_type, @received_at)
ON CONFLICT (provider, event_id) DO NOTHING;


-- name: PaymentEventForget :exec
-- Forgets a recorded delivery whose handling failed (its task was not
-- enqueued), so the provider's retry of it is handled, not dropped as a
-- duplicate.
DELETE FROM payment_events WHERE provider = @provider AND event_id = @event_id;
