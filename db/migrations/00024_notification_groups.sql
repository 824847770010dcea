-- Grouped notifications (issue 14).
--
-- The grouping rule. Likes of the same video, follows of the same recipient
-- and glitches of the same video become one notification, a group, while the
-- group is open: it is open while it is unread and its first event came less
-- than NOTIFICATION_GROUP_WINDOW ago (default 24h; the worker passes it). A
-- new event after the group was read, or once the window passed, starts a new
-- group; the old one stays as it is. Comments, comment likes, AI results and
-- system messages stay one notification each.
--
-- The set of a group's actors is notification_actors, one row per actor (the
-- primary key), and a like or follow (a fact) is in at most one group
-- (notification_actors_fact_key), so a repeated delivery never counts twice.
-- notifications.actor_count is that set's size, kept by the trigger below in
-- the same transaction as every change of the set, which also takes a new
-- seq and moves created_at to the newest event's time. An undone fact
-- (unlike, unfollow) deletes its actor row; a group whose last actor goes is
-- deleted. At most one group per target is open (notifications_open_group_key),
-- and a delivery locks it FOR UPDATE, so concurrent deliveries queue on it.
--
-- A group stores no actor_id of its own: notification_views names the latest
-- actor the recipient may see. An actor on either side of a block with the
-- recipient is left out of the group's actors and count; a group none of
-- whose actors may be seen is hidden whole (notification_visible).

-- +goose Up
ALTER TABLE notifications
    ADD COLUMN actor_count integer NOT NULL DEFAULT 1 CHECK (actor_count >= 0),
    ADD COLUMN first_at    timestamptz,
    ADD COLUMN group_open  boolean NOT NULL DEFAULT false;
ALTER TABLE notifications ADD CONSTRAINT notifications_group_open_check
    CHECK (NOT group_open OR (type IN ('like', 'follow', 'glitch') AND NOT is_read));

-- The actors of a group: who, and when they last acted. user_id, type and
-- video_id repeat the group's, so the fact key needs no join; ai_job_id is
-- a glitch's event (the glitch job), NULL for likes and follows.
CREATE TABLE notification_actors (
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    actor_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    type            text NOT NULL CHECK (type IN ('like', 'follow', 'glitch')),
    video_id        uuid,
    ai_job_id       uuid,
    acted_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (notification_id, actor_id)
);
-- A like or follow is in one group only; a glitch event (its job) too.
CREATE UNIQUE INDEX notification_actors_fact_key
    ON notification_actors (user_id, type, actor_id, video_id, ai_job_id) NULLS NOT DISTINCT;
-- The latest actors of a group, newest first.
CREATE INDEX notification_actors_latest_idx ON notification_actors (notification_id, acted_at DESC, actor_id DESC);
CREATE INDEX notification_actors_actor_idx ON notification_actors (actor_id);

-- The old fact and event keys go while groups drop their actor_id.
DROP INDEX notifications_fact_key;
DROP INDEX notifications_event_key;

-- Each existing like, follow and glitch becomes a group of one with its
-- actor. The newest unread one per target stays open (the window closes it
-- at the next delivery if it is old); the others are closed.
DELETE FROM notifications WHERE type IN ('like', 'follow', 'glitch') AND actor_id IS NULL;
INSERT INTO notification_actors (notification_id, actor_id, user_id, type, video_id, ai_job_id, acted_at)
SELECT n.id, n.actor_id, n.user_id, n.type, n.video_id, CASE WHEN n.type = 'glitch' THEN n.ai_job_id END, n.created_at
  FROM notifications n
 WHERE n.type IN ('like', 'follow', 'glitch');
UPDATE notifications
   SET actor_id = NULL, ai_job_id = NULL, comment_id = NULL, first_at = created_at, actor_count = 1
 WHERE type IN ('like', 'follow', 'glitch');
UPDATE notifications SET group_open = true
 WHERE id IN (SELECT DISTINCT ON (user_id, type, video_id) id
                FROM notifications
               WHERE type IN ('like', 'follow', 'glitch') AND NOT is_read
               ORDER BY user_id, type, video_id, created_at DESC, id DESC);

-- The fact and event keys now cover the types that stay one row each.
CREATE UNIQUE INDEX notifications_fact_key
    ON notifications (user_id, type, actor_id, video_id, comment_id) NULLS NOT DISTINCT
    WHERE type = 'comment_like';
CREATE UNIQUE INDEX notifications_event_key
    ON notifications (user_id, type, actor_id, video_id, comment_id, ai_job_id) NULLS NOT DISTINCT
    WHERE type IN ('comment', 'ai_job');
-- One open group per recipient, type and target (the NULL video of a follow
-- counts as one target).
CREATE UNIQUE INDEX notifications_open_group_key
    ON notifications (user_id, type, video_id) NULLS NOT DISTINCT
    WHERE group_open;

-- Every change of a group's actors: the count follows the set, the group
-- takes a new seq (the WebSocket catch-up replays it) and created_at is the
-- newest event's time; a group left with no actor is deleted. The group's
-- row is locked before it is read, so two changes of one group queue.
-- +goose StatementBegin
CREATE FUNCTION notification_actors_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE notifications
           SET actor_count = actor_count + 1, seq = nextval('notification_seq'),
               created_at = greatest(created_at, NEW.acted_at)
         WHERE id = NEW.notification_id;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE notifications
           SET seq = nextval('notification_seq'), created_at = greatest(created_at, NEW.acted_at)
         WHERE id = NEW.notification_id;
    ELSE
        PERFORM 1 FROM notifications WHERE id = OLD.notification_id FOR UPDATE;
        UPDATE notifications n
           SET actor_count = n.actor_count - 1, seq = nextval('notification_seq'),
               created_at = COALESCE((SELECT max(a.acted_at) FROM notification_actors a
                                       WHERE a.notification_id = n.id), n.created_at)
         WHERE n.id = OLD.notification_id;
        DELETE FROM notifications WHERE id = OLD.notification_id AND actor_count = 0;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER notification_actors_changed
    AFTER INSERT OR DELETE OR UPDATE OF acted_at ON notification_actors
    FOR EACH ROW EXECUTE FUNCTION notification_actors_changed();

-- Whether the recipient sees a notification at all: a group when one of its
-- actors is on neither side of a block with the recipient, any other when
-- its actor (if any) is not.
CREATE FUNCTION notification_visible(p_id uuid, p_user_id uuid, p_type text, p_actor_id uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_type IN ('like', 'follow', 'glitch') THEN EXISTS (
                    SELECT 1 FROM notification_actors na
                     WHERE na.notification_id = p_id AND NOT blocked_between(p_user_id, na.actor_id))
                ELSE NOT blocked_between(p_user_id, p_actor_id) END
$$;

-- The view keeps every column of 00023 at the same name. For a group,
-- actor_id and the actor_* columns name the latest actor the recipient may
-- see (actor_id is read from the joined user, the same id as the stored
-- actor_id of a single notification); group_count is how many actors the recipient may see (1 for a single
-- notification); group_actors the latest three of them, newest first, as
-- [{id, username, display_name, profile_image_key}] (NULL for a single
-- notification); visible is notification_visible.
DROP VIEW notification_views;
CREATE VIEW notification_views AS
SELECT n.id,
       n.user_id,
       n.type,
       a.id                AS actor_id,
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
       n.seq,
       (CASE WHEN n.type IN ('like', 'follow', 'glitch')
             THEN n.actor_count - (
                 SELECT count(*) FROM (
                     SELECT b.blocked_id AS uid FROM blocks b WHERE b.blocker_id = n.user_id
                     UNION
                     SELECT b.blocker_id FROM blocks b WHERE b.blocked_id = n.user_id) x
                  WHERE EXISTS (SELECT 1 FROM notification_actors na
                                 WHERE na.notification_id = n.id AND na.actor_id = x.uid))
             ELSE 1 END)::bigint AS group_count,
       g.actors            AS group_actors,
       notification_visible(n.id, n.user_id, n.type, n.actor_id) AS visible
  FROM notifications n
  LEFT JOIN LATERAL (
      SELECT (array_agg(l.actor_id ORDER BY l.acted_at DESC, l.actor_id DESC))[1] AS latest_actor_id,
             jsonb_agg(jsonb_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name,
                                          'profile_image_key', u.profile_image_key)
                       ORDER BY l.acted_at DESC, l.actor_id DESC) AS actors
        FROM (SELECT na.actor_id, na.acted_at
                FROM notification_actors na
               WHERE na.notification_id = n.id AND n.type IN ('like', 'follow', 'glitch')
                 AND NOT blocked_between(n.user_id, na.actor_id)
               ORDER BY na.acted_at DESC, na.actor_id DESC
               LIMIT 3) l
        JOIN users u ON u.id = l.actor_id
  ) g ON true
  LEFT JOIN users a ON a.id = COALESCE(g.latest_actor_id, n.actor_id)
  LEFT JOIN videos v ON v.id = n.video_id AND v.deleted_at IS NULL;

-- +goose Down
DROP VIEW notification_views;
DROP FUNCTION notification_visible;
DROP TRIGGER notification_actors_changed ON notification_actors;
DROP FUNCTION notification_actors_changed;
DROP INDEX notifications_open_group_key;
DROP INDEX notifications_event_key;
DROP INDEX notifications_fact_key;
-- Each actor of a group becomes a notification of its own again; the
-- groups go (and their actors with them).
INSERT INTO notifications (id, user_id, type, actor_id, video_id, ai_job_id, is_read, created_at)
SELECT gen_random_uuid(), a.user_id, a.type, a.actor_id, a.video_id, a.ai_job_id, n.is_read, a.acted_at
  FROM notification_actors a JOIN notifications n ON n.id = a.notification_id;
DELETE FROM notifications WHERE type IN ('like', 'follow', 'glitch') AND actor_id IS NULL;
DELETE FROM notifications a
 USING notifications b
 WHERE a.type = 'glitch' AND b.type = 'glitch' AND a.user_id = b.user_id
   AND a.actor_id = b.actor_id AND a.video_id IS NOT DISTINCT FROM b.video_id
   AND a.ai_job_id IS NOT DISTINCT FROM b.ai_job_id
   AND (a.created_at, a.id) < (b.created_at, b.id);
DROP TABLE notification_actors;
CREATE UNIQUE INDEX notifications_fact_key
    ON notifications (user_id, type, actor_id, video_id, comment_id) NULLS NOT DISTINCT
    WHERE type IN ('like', 'follow', 'comment_like');
CREATE UNIQUE INDEX notifications_event_key
    ON notifications (user_id, type, actor_id, video_id, comment_id, ai_job_id) NULLS NOT DISTINCT
    WHERE type IN ('comment', 'glitch', 'ai_job');
ALTER TABLE notifications DROP CONSTRAINT notifications_group_open_check;
ALTER TABLE notifications DROP COLUMN group_open, DROP COLUMN first_at, DROP COLUMN actor_count;
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
       v.caption           AS video_caption,
       n.seq
  FROM notifications n
  LEFT JOIN users a ON a.id = n.actor_id
  LEFT JOIN videos v ON v.id = n.video_id AND v.deleted_at IS NULL;
