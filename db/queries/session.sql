-- name: SessionCreate :one
INSERT INTO sessions (id, user_id, expires_at, refresh_hash, user_agent, ip)
VALUES (@id, @user_id, @expires_at, @refresh_hash, sqlc.narg('user_agent'), sqlc.narg('ip'))
RETURNING *;

-- name: SessionAuth :one
-- The per-request auth check, one round trip: the token's session and its
-- user, with what authorization needs. No row means the session does not
-- exist or is not this user's.
SELECT u.id, u.is_active, u.role, (s.revoked_at IS NOT NULL)::bool AS revoked
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = @session_id AND s.user_id = @user_id;

-- name: SessionByRefreshForUpdate :one
-- The live or revoked session whose current refresh token hashes to
-- @refresh_hash, locked so that two refreshes of one token are serialised:
-- the second finds the hash rotated away and is treated as reuse.
SELECT * FROM sessions WHERE refresh_hash = @refresh_hash FOR UPDATE;

-- name: SessionRotate :one
UPDATE sessions SET
    refresh_hash = @new_hash, rotation = rotation + 1, refreshed_at = now(), expires_at = @expires_at
WHERE id = @id AND revoked_at IS NULL
RETURNING *;

-- name: SessionRefreshUsedAdd :exec
INSERT INTO session_refresh_used (refresh_hash, session_id) VALUES (@refresh_hash, @session_id)
ON CONFLICT (refresh_hash) DO NOTHING;

-- name: SessionByUsedRefresh :one
-- The session a rotated-away refresh token belonged to.
SELECT session_id FROM session_refresh_used WHERE refresh_hash = @refresh_hash;

-- name: SessionRevoke :many
-- Ends one live session; an already revoked one keeps its first reason.
UPDATE sessions SET revoked_at = now(), revoked_reason = @reason
WHERE id = @id AND revoked_at IS NULL
RETURNING id, user_id;

-- name: SessionRevokeOwn :many
-- Ends one live session of @user_id (logout).
UPDATE sessions SET revoked_at = now(), revoked_reason = @reason
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL
RETURNING id;

-- name: SessionRevokeAllOfUser :many
-- Ends every live session of a user (logout-all, password change, ban,
-- deletion).
UPDATE sessions SET revoked_at = now(), revoked_reason = @reason
WHERE user_id = @user_id AND revoked_at IS NULL
RETURNING id;

-- name: SessionsPurge :execrows
-- Sessions whose refresh token expired before @before (revoked ones too:
-- a revoked session keeps its expiry), a batch at a time; their used
-- refresh hashes go with them.
DELETE FROM sessions WHERE id IN (
    SELECT s.id FROM sessions s WHERE s.expires_at < @before ORDER BY s.expires_at LIMIT @lim);
