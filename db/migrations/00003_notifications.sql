-- Notifications as worker work: per-user settings, one notification per
-- fact, and the joined view both the api list and the worker's push render.

-- +goose Up

-- One row per user who changed a toggle; an absent row means everything on.
CREATE TABLE notification_settings (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    likes      boolean NOT NULL DEFAULT true,
    comments   boolean NOT NULL DEFAULT true,
    follows    boolean NOT NULL DEFAULT true,
    glitches   boolean NOT NULL DEFAULT true,
    ai_jobs    boolean NOT NULL DEFAULT true,
    email      boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The original stacked a notification on every like → unlike → like (B-17).
-- Keep the newest of any duplicates before the unique indexes below exist.
DELETE FROM notifications a
 USING notifications b
 WHERE a.type IN ('like', 'follow', 'comment_like', 'comment', 'glitch', 'ai_job')
   AND a.type = b.type
   AND a.user_id = b.user_id
   AND a.actor_id IS NOT DISTINCT FROM b.actor_id
   AND a.video_id IS NOT DISTINCT FROM b.video_id
   AND a.comment_id IS NOT DISTINCT FROM b.comment_id
   AND (a.type IN ('like', 'follow', 'comment_like') OR a.ai_job_id IS NOT DISTINCT FROM b.ai_job_id)
   AND (a.created_at, a.id) < (b.created_at, b.id);

-- A fact that can be undone and redone (a like, a follow, a comment like)
-- notifies once: the row is the fact, not the event. NULLS NOT DISTINCT makes
-- the NULL video and comment of a follow compare equal.
CREATE UNIQUE INDEX notifications_fact_key
    ON notifications (user_id, type, actor_id, video_id, comment_id) NULLS NOT DISTINCT
    WHERE type IN ('like', 'follow', 'comment_like');

-- One-off events (a comment, a glitch, an AI job) are unique by everything
-- they name, so a retried delivery task inserts one row, not two.
CREATE UNIQUE INDEX notifications_event_key
    ON notifications (user_id, type, actor_id, video_id, comment_id, ai_job_id) NULLS NOT DISTINCT
    WHERE type IN ('comment', 'glitch', 'ai_job');

-- What a notification shows: the row, its actor and a summary of its video
-- (absent once the video is deleted). The api's list and the worker's push
-- read this one shape.
CREATE VIEW notification_views AS
SELECT n.id,
       n.user_id,
       n.type,
       n.actor_id,
       n.video_id,
       n.comment_id,
       n.ai_job_id,
       n.message,
       n.is_read,
       n.created_at,
       a.username          AS actor_username,
       a.display_name      AS actor_display_name,
       a.profile_image_key AS actor_profile_image_key,
       v.id                AS video_summary_id,
       v.thumbnail_key     AS video_thumbnail_key,
       v.caption           AS video_caption
  FROM notifications n
  LEFT JOIN users a ON a.id = n.actor_id
  LEFT JOIN videos v ON v.id = n.video_id AND v.deleted_at IS NULL;

-- +goose Down
DROP VIEW notification_views;
DROP INDEX notifications_event_key;
DROP INDEX notifications_fact_key;
DROP TABLE notification_settings;
