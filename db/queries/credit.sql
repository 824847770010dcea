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
