-- name: APIKeyUserForUpdate :one
-- The user about to get a key, locked so that concurrent creations of one
-- user's keys are counted one after the other.
SELECT id, is_active, subscription_tier, subscription_expires_at
FROM users WHERE id = @user_id FOR UPDATE;

-- name: APIKeyCountLive :one
SELECT count(*)::int AS n FROM api_keys WHERE user_id = @user_id AND revoked_at IS NULL;

-- name: APIKeyCreate :one
INSERT INTO api_keys (id, user_id, name, lookup_id, secret_hash)
VALUES (@id, @user_id, @name, @lookup_id, @secret_hash)
RETURNING *;

-- name: APIKeyListOfUser :many
-- A user's keys, live and revoked, newest first.
SELECT * FROM api_keys WHERE user_id = @user_id ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: APIKeyRevokeOwn :one
-- Revokes a key of @user_id; an already revoked key keeps its first
-- revocation time. No row: no such key of this user.
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = @id AND user_id = @user_id
RETURNING *;

-- name: APIKeyAuth :one
-- The per-request check of a key, one round trip: the key by its lookup id
-- with what authorization needs of its user.
SELECT k.id, k.user_id, k.secret_hash, k.last_used_at, (k.revoked_at IS NOT NULL)::bool AS revoked,
       u.is_active, u.role, u.subscription_tier, u.subscription_expires_at
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.lookup_id = @lookup_id;

-- name: APIKeyTouch :exec
-- Records a use of a key at most once a minute.
UPDATE api_keys SET last_used_at = now()
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
