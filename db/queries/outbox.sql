-- name: NotificationOutboxInsert :one
-- One owed notification, written in the transaction of its action
-- (migration 00032).
INSERT INTO notification_outbox (id, type, recipient_id, actor_id, video_id, comment_id, ai_job_id, message)
VALUES (@id, @type, @recipient_id, sqlc.narg('actor_id'), sqlc.narg('video_id'), sqlc.narg('comment_id'),
        sqlc.narg('ai_job_id'), sqlc.narg('message'))
RETURNING *;

-- name: NotificationOutboxDelete :execrows
-- The row is delivered (or its facts no longer hold).
DELETE FROM notification_outbox WHERE id = @id;

-- name: NotificationOutboxClaimDue :many
-- Up to lim rows the drain enqueues now: due (next_attempt_at passed) and
-- older than min_age_seconds (the fast path had its chance), oldest due
-- first. Each claimed row counts an attempt and is not due again before
-- base_seconds * 2^attempts (at most max_seconds) from now, so a row that
-- keeps failing falls behind the others. SKIP LOCKED: a row a delivery or
-- another drain holds is left to it.
UPDATE notification_outbox o
   SET attempts = o.attempts + 1,
       next_attempt_at = now() + make_interval(secs => least(sqlc.arg(max_seconds)::float8, sqlc.arg(base_seconds)::float8 * power(2, least(o.attempts, 30))))
 WHERE o.id IN (SELECT d.id FROM notification_outbox d
                 WHERE d.next_attempt_at <= now()
                   AND d.created_at <= now() - make_interval(secs => sqlc.arg(min_age_seconds)::float8)
                 ORDER BY d.next_attempt_at, d.created_at, d.id
                 LIMIT sqlc.arg(lim)
                   FOR UPDATE SKIP LOCKED)
RETURNING o.*;

-- name: NotificationOutboxGet :one
SELECT * FROM notification_outbox WHERE id = @id;
