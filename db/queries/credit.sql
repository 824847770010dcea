-- name: CreditTransactionCreate :one
-- created_at is the time of the insert (clock_timestamp), not of the
-- transaction's start (now()): the row is written after the balance update
-- that locks the user's row, so two concurrent changes are dated in the
-- order they changed the balance, and the newest row by created_at is the
-- one whose balance_after is the balance. With now(), a transaction that
-- started first but waited for the lock was dated before the one it waited
-- for, and the history showed the two balances in the wrong order.
INSERT INTO credit_transactions
    (id, user_id, transaction_type, credits, balance_after, description, extra_data, idempotency_key, created_at)
VALUES (@id, @user_id, @transaction_type, @credits, @balance_after, @description, @extra_data, @idempotency_key,
        clock_timestamp())
RETURNING *;

-- name: CreditTransactionGetByKey :one
SELECT * FROM credit_transactions WHERE idempotency_key = @idempotency_key;

-- name: CreditLedgerMismatches :many
-- Users whose balance differs from the sum of their ledger: must never return
-- a row. The credits:audit task runs it periodically.
SELECT u.id, u.credits, coalesce(l.total, 0)::bigint AS ledger_total
FROM users u
LEFT JOIN (SELECT user_id, sum(credits) AS total FROM credit_transactions GROUP BY user_id) l ON l.user_id = u.id
WHERE u.credits <> coalesce(l.total, 0);

-- name: CreditTotals :one
SELECT
    coalesce(sum(credits) FILTER (WHERE credits > 0 AND transaction_type <> 'refund'), 0)::bigint AS total_earned,
    (coalesce(-sum(credits) FILTER (WHERE transaction_type = 'usage'), 0)
      - coalesce(sum(credits) FILTER (WHERE transaction_type = 'refund'), 0))::bigint AS total_spent
FROM credit_transactions WHERE user_id = @user_id;

-- name: CreditHistory :many
SELECT *, count(*) OVER () AS total
FROM credit_transactions
WHERE user_id = @user_id AND (sqlc.narg('transaction_type')::text IS NULL OR transaction_type = sqlc.narg('transaction_type')::text)
ORDER BY created_at DESC, id DESC
LIMIT @lim OFFSET @off;

-- name: UserSetDailyClaim :exec
UPDATE users SET last_daily_credit_claim = @claimed_at WHERE id = @id;
