-- Creator analytics (issue 15, point 5) and the AI-generated label (point 3).
--
-- video_daily_engagement holds, per video and UTC day, the likes and the
-- comments that were made on that day and still count. "Count" is the rule
-- of videos.like_count and comment_count (00019_true_counts.sql): the row
-- exists and its user is active. So for any video,
--   sum(likes)    = like_count    and
--   sum(comments) = comment_count,
-- and the row of day D equals a direct count of the video's likes (comments)
-- of active users whose created_at falls on D in UTC.
--
-- A like is filed under the day it was made: an unlike takes one off the
-- day of the like it removes (not off the day of the unlike), so a day's
-- figure never goes below zero (CHECK) and never counts an event twice.
--
-- Kept by the same transactions that move the counters, with one mechanism
-- for every path: row triggers on likes and comments (insert: +1 on the
-- row's day; delete: -1) that ask user_counts() exactly as the counter
-- statements do (the same FOR SHARE on the user's row, so a ban or unban in
-- flight is either waited for or sees the row), and a trigger on
-- users.is_active that adds or takes out all of a user's likes and comments
-- on a ban, unban or account deletion, like counts_user_active. A decrement
-- only updates an existing row (never inserts one), so the cascade of a
-- deleted video, whose daily rows go with it, writes nothing.
--
-- video_daily_stats gains watch_views (the views that reported a watch
-- time, for an average watch percentage) and video_daily_countries the
-- views per country, when a trusted proxy header gave one (written only by
-- views:flush, like video_daily_stats).
--
-- ai_jobs_video_idx finds the AI job that made a video, for the label on
-- every video answer.

-- +goose Up
CREATE TABLE video_daily_engagement (
    video_id uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day      date NOT NULL,
    likes    bigint NOT NULL DEFAULT 0 CHECK (likes >= 0),
    comments bigint NOT NULL DEFAULT 0 CHECK (comments >= 0),
    PRIMARY KEY (video_id, day)
);

ALTER TABLE video_daily_stats
    ADD COLUMN watch_views bigint NOT NULL DEFAULT 0 CHECK (watch_views >= 0);

CREATE TABLE video_daily_countries (
    video_id uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day      date NOT NULL,
    country  text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    views    bigint NOT NULL CHECK (views >= 0),
    PRIMARY KEY (video_id, day, country)
);

CREATE INDEX ai_jobs_video_idx ON ai_jobs (video_id) WHERE video_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION engagement_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r_video uuid;
    r_user  uuid;
    r_day   date;
    l       int := 0;
    c       int := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        r_video := NEW.video_id; r_user := NEW.user_id; r_day := (NEW.created_at AT TIME ZONE 'UTC')::date;
    ELSE
        r_video := OLD.video_id; r_user := OLD.user_id; r_day := (OLD.created_at AT TIME ZONE 'UTC')::date;
    END IF;
    IF NOT user_counts(r_user) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'likes' THEN l := 1; ELSE c := 1; END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO video_daily_engagement AS e (video_id, day, likes, comments)
        VALUES (r_video, r_day, l, c)
        ON CONFLICT (video_id, day) DO UPDATE SET likes = e.likes + l, comments = e.comments + c;
    ELSE
        UPDATE video_daily_engagement
        SET likes = greatest(likes - l, 0), comments = greatest(comments - c, 0)
        WHERE video_id = r_video AND day = r_day;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION engagement_user_active_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d int := CASE WHEN NEW.is_active THEN 1 ELSE -1 END;
BEGIN
    -- Rows locked in key order, so two bans touching the same days cannot deadlock.
    PERFORM 1 FROM video_daily_engagement e
    WHERE (e.video_id, e.day) IN (
        SELECT l.video_id, (l.created_at AT TIME ZONE 'UTC')::date FROM likes l WHERE l.user_id = NEW.id
        UNION SELECT cm.video_id, (cm.created_at AT TIME ZONE 'UTC')::date FROM comments cm WHERE cm.user_id = NEW.id)
    ORDER BY e.video_id, e.day FOR NO KEY UPDATE;

    -- Existing days move by the difference; on an unban, days that have no
    -- row yet get one (a concurrent first like of that day may create it
    -- meanwhile: then the conflict adds to it).
    WITH per AS (
        SELECT x.video_id, x.day, sum(x.l)::bigint AS likes, sum(x.c)::bigint AS comments
        FROM (SELECT l.video_id, (l.created_at AT TIME ZONE 'UTC')::date AS day, 1 AS l, 0 AS c
              FROM likes l WHERE l.user_id = NEW.id
              UNION ALL
              SELECT cm.video_id, (cm.created_at AT TIME ZONE 'UTC')::date, 0, 1
              FROM comments cm WHERE cm.user_id = NEW.id) x
        GROUP BY x.video_id, x.day
    ), upd AS (
        UPDATE video_daily_engagement e
        SET likes = greatest(e.likes + d * per.likes, 0), comments = greatest(e.comments + d * per.comments, 0)
        FROM per WHERE e.video_id = per.video_id AND e.day = per.day
        RETURNING e.video_id, e.day
    )
    INSERT INTO video_daily_engagement AS e (video_id, day, likes, comments)
    SELECT per.video_id, per.day, per.likes, per.comments FROM per
    WHERE d = 1 AND NOT EXISTS (SELECT 1 FROM upd WHERE upd.video_id = per.video_id AND upd.day = per.day)
    ORDER BY per.video_id, per.day
    ON CONFLICT (video_id, day) DO UPDATE SET likes = e.likes + EXCLUDED.likes, comments = e.comments + EXCLUDED.comments;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER engagement_likes AFTER INSERT OR DELETE ON likes
    FOR EACH ROW EXECUTE FUNCTION engagement_row_changed();
CREATE TRIGGER engagement_comments AFTER INSERT OR DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION engagement_row_changed();
CREATE TRIGGER engagement_user_active AFTER UPDATE OF is_active ON users
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION engagement_user_active_changed();

-- Backfill: what counts today, by the day it was made.
INSERT INTO video_daily_engagement (video_id, day, likes, comments)
SELECT x.video_id, x.day, sum(x.l), sum(x.c)
FROM (SELECT l.video_id, (l.created_at AT TIME ZONE 'UTC')::date AS day, 1 AS l, 0 AS c
      FROM likes l JOIN users u ON u.id = l.user_id WHERE u.is_active
      UNION ALL
      SELECT cm.video_id, (cm.created_at AT TIME ZONE 'UTC')::date, 0, 1
      FROM comments cm JOIN users u ON u.id = cm.user_id WHERE u.is_active) x
GROUP BY x.video_id, x.day;

-- +goose Down
DROP TRIGGER engagement_user_active ON users;
DROP TRIGGER engagement_comments ON comments;
DROP TRIGGER engagement_likes ON likes;
DROP FUNCTION engagement_user_active_changed;
DROP FUNCTION engagement_row_changed;
DROP INDEX ai_jobs_video_idx;
DROP TABLE video_daily_countries;
ALTER TABLE video_daily_stats DROP COLUMN watch_views;
DROP TABLE video_daily_engagement;
