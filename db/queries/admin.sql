-- name: AuditInsert :one
-- The only statement that writes the audit log; it runs in the transaction
-- of the action it records (db/admin_tx.go).
INSERT INTO admin_audit_log (id, admin_id, action, target_type, target_id, reason, before, after, request_id)
VALUES (@id, sqlc.narg('admin_id'), @action, @target_type, @target_id, sqlc.narg('reason'),
        sqlc.narg('before'), sqlc.narg('after'), sqlc.narg('request_id'))
RETURNING *;

-- name: AuditList :many
-- The audit log, newest first; keyset on (created_at, id).
SELECT * FROM admin_audit_log
WHERE (sqlc.narg('admin_id')::uuid IS NULL OR admin_id = sqlc.narg('admin_id'))
  AND (sqlc.narg('action')::text IS NULL OR action = sqlc.narg('action'))
  AND (sqlc.narg('target_type')::text IS NULL OR target_type = sqlc.narg('target_type'))
  AND (sqlc.narg('target_id')::uuid IS NULL OR target_id = sqlc.narg('target_id'))
  AND (sqlc.narg('from_at')::timestamptz IS NULL OR created_at >= sqlc.narg('from_at'))
  AND (sqlc.narg('to_at')::timestamptz IS NULL OR created_at < sqlc.narg('to_at'))
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: UserGetForUpdate :one
SELECT * FROM users WHERE id = @id FOR NO KEY UPDATE;

-- name: UserGetByUsernameForAdmin :one
SELECT * FROM users WHERE username = @username AND deleted_at IS NULL;

-- name: UserSetBan :exec
-- The ban's description; is_active is set by UserSetActive in the same
-- transaction (its lock order keeps the videos' trigger from deadlocking).
UPDATE users SET banned_at = sqlc.narg('banned_at'), ban_reason = sqlc.narg('ban_reason'),
                 banned_until = sqlc.narg('banned_until'), updated_at = now()
WHERE id = @id;

-- name: UsersBanExpired :many
-- Timed bans whose end has passed, for the scheduler's lift.
SELECT id FROM users
WHERE banned_until IS NOT NULL AND banned_until <= @now AND banned_at IS NOT NULL
ORDER BY banned_until
LIMIT @lim;

-- name: VideoGetForModeration :one
-- Locks the video for a removal or restore (the video first, then whatever
-- its triggers lock: the order of a publish).
SELECT * FROM videos WHERE id = @id AND deleted_at IS NULL FOR NO KEY UPDATE;

-- name: VideoSetRemoved :exec
-- A removal (status removed, removed_at now) or a restore (completed, NULL).
UPDATE videos SET status = @status, removed_at = sqlc.narg('removed_at'), updated_at = now()
WHERE id = @id;

-- name: VideoMediaWithheld :one
-- Whether a video's media must not be served: it was removed by a
-- moderator, or its author is banned. No row (an unknown id) is false:
-- the storage then answers for the object as it would anyway.
SELECT (status = 'removed' OR NOT author_active)::bool FROM videos WHERE id = @id;

-- name: VideoMediaLock :exec
-- Serializes the moves of one video's objects (Store.WithVideoMediaLock): a
-- transaction-scoped advisory lock keyed by the video.
SELECT pg_advisory_xact_lock(hashtextextended('video-media:' || @id::uuid, 0));

-- name: VideoIDsOfUser :many
-- A user's videos (deleted ones aside) in id order, the page after @after,
-- for the moves of a banned or unbanned author's media.
SELECT id FROM videos
WHERE user_id = @user_id AND deleted_at IS NULL AND id > @after
ORDER BY id
LIMIT @lim;
