-- name: CreditTransactionCreate :one
INSERT INTO credit_transactions
    (id, user_id, transaction_type, credits, balance_after, description, extra_data, idempotency_key)
VALUES (@id, @user_id, @transaction_type, @credits, @balance_after, @description, @extra_data, @idempotency_key)
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
