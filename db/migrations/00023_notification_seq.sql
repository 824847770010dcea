-- A position for every change to a user's notifications (issue 14).
--
-- seq comes from one sequence and is taken again whenever a notification
-- changes in a way its recipient should see (inserted, or a group growing),
-- so "everything after seq N" is what a client that last saw N has missed.
-- Sequence values are handed out before commit, so two transactions may
-- commit in the other order: a reader must not treat seq as a commit
-- order (the WebSocket catch-up deduplicates by id and seq, not by max).

-- +goose Up
CREATE SEQUENCE notification_seq AS bigint;
ALTER TABLE notifications ADD COLUMN seq bigint;
UPDATE notifications n SET seq = o.rn
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS rn FROM notifications) o
 WHERE o.id = n.id;
SELECT setval('notification_seq', COALESCE((SELECT max(seq) FROM notifications), 0) + 1, false);
ALTER TABLE notifications ALTER COLUMN seq SET DEFAULT nextval('notification_seq'),
                          ALTER COLUMN seq SET NOT NULL;
ALTER SEQUENCE notification_seq OWNED BY notifications.seq;
CREATE INDEX notifications_user_seq_idx ON notifications (user_id, seq);

CREATE OR REPLACE VIEW notification_views AS
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
       v.caption           AS video_caption,
       n.seq
  FROM notifications n
  LEFT JOIN users a ON a.id = n.actor_id
  LEFT JOIN videos v ON v.id = n.video_id AND v.deleted_at IS NULL;

-- +goose Down
DROP VIEW notification_views;
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
DROP INDEX notifications_user_seq_idx;
ALTER TABLE notifications DROP COLUMN seq;
