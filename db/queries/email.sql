-- name: EmailTokenCreate :exec
INSERT INTO email_tokens (id, user_id, purpose, token_hash, email, expires_at)
VALUES (@id, @user_id, @purpose, @token_hash, @email, @expires_at);

-- name: EmailTokenForUpdate :one
-- The token with this hash and purpose, locked until the transaction ends
-- so that two uses of one token serialize.
SELECT * FROM email_tokens WHERE token_hash = @token_hash AND purpose = @purpose FOR UPDATE;

-- name: EmailTokenUse :exec
UPDATE email_tokens SET used_at = now() WHERE id = @id;

-- name: EmailTokensUseAllOfUser :exec
-- Uses up every live token of one purpose of a user (after a reset, the
-- other reset links stop working).
UPDATE email_tokens SET used_at = now()
 WHERE user_id = @user_id AND purpose = @purpose AND used_at IS NULL;

-- name: UserLockForEmail :one
-- The user's row, locked: verification and its welcome grant serialize per
-- user.
SELECT * FROM users WHERE id = @id FOR UPDATE;

-- name: UserSetEmailVerified :exec
UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
 WHERE id = @id AND email = @email;

-- name: UserSetLanguage :exec
UPDATE users SET language = @language, updated_at = now() WHERE id = @id;

-- name: EmailRecipient :one
-- What a notification mail needs to know about its recipient: whether they
-- may be mailed at all (active, not deleted, address verified), their
-- address and language, and whether the e-mail setting and the setting of
-- the notification type are on (no settings row = on).
SELECT u.id, u.email, u.username, u.language,
       (u.is_active AND u.deleted_at IS NULL AND u.email_verified_at IS NOT NULL)::bool AS mailable,
       COALESCE((SELECT s.email AND CASE @type::text
                         WHEN 'like' THEN s.likes
                         WHEN 'comment_like' THEN s.likes
                         WHEN 'comment' THEN s.comments
                         WHEN 'follow' THEN s.follows
                         WHEN 'glitch' THEN s.glitches
                         WHEN 'ai_job' THEN s.ai_jobs
                         ELSE true END
                   FROM notification_settings s WHERE s.user_id = u.id), true)::bool AS enabled
  FROM users u WHERE u.id = @id;

-- name: EmailDigestItemAdd :exec
INSERT INTO email_digest_items (user_id, event_key, type, actor_id, video_id)
VALUES (@user_id, @event_key, @type, sqlc.narg('actor_id'), sqlc.narg('video_id'))
ON CONFLICT DO NOTHING;

-- name: EmailDigestItems :many
-- The events of a digest: those of the user up to the end of its period,
-- oldest first, with the actor's name and the video's title.
SELECT i.event_key, i.type, i.created_at, a.username AS actor_username,
       v.title AS video_title
  FROM email_digest_items i
  LEFT JOIN users a ON a.id = i.actor_id
  LEFT JOIN videos v ON v.id = i.video_id
 WHERE i.user_id = @user_id AND i.created_at <= @until
 ORDER BY i.created_at, i.event_key;

-- name: EmailDigestItemsDelete :exec
DELETE FROM email_digest_items WHERE user_id = @user_id AND event_key = ANY(@event_keys::text[]);

-- name: EmailNotificationFacts :one
-- The names a single notification mail shows.
SELECT COALESCE((SELECT username FROM users WHERE id = sqlc.narg('actor_id')::uuid), '')::text AS actor_username,
       COALESCE((SELECT title FROM videos WHERE id = sqlc.narg('video_id')::uuid), '')::text AS video_title,
       COALESCE((SELECT content FROM comments WHERE id = sqlc.narg('comment_id')::uuid), '')::text AS comment_text,
       COALESCE((SELECT status FROM ai_jobs WHERE id = sqlc.narg('ai_job_id')::uuid), '')::text AS ai_job_status;
