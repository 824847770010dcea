-- The report review workflow and the removal of comments (issue 15 §3).
--
-- Reports move pending → reviewing → resolved | dismissed:
--   pending    filed, nobody has looked at it;
--   reviewing  an admin took it (reviewer_id, reviewed_at);
--   resolved   an admin decided, with resolution_action none, remove_video,
--              remove_comment or ban_user, and a note (resolution_note);
--   dismissed  an admin found no violation (action none, a note).
-- resolved_at is when the report reached resolved or dismissed, whichever;
-- both are final. The old word 'reviewed' (never written by this code) is
-- 'reviewing' now.
--
-- "Open" is pending or reviewing: one open report per reporter and target
-- (the unique index below), so a reporter whose report is under review
-- gets that report back when they report the same target again, and may
-- report it anew once it is resolved or dismissed.
--
-- target_id names the target for good: reported_comment_id becomes NULL
-- when the comment is deleted (00015), so grouping and counting a target's
-- reports by that link would split a comment's reports from the moment it
-- is deleted. target_id is written at filing and never changes; a CHECK
-- keeps it equal to the live link while there is one. Comment reports
-- whose comment was deleted before this migration have lost their target
-- and each stand for itself (target_id = the report's id). target_kind is
-- the kind of target, derived from the links.
--
-- Comments get removed_at and removed_reason: a removed comment leaves
-- every comment list, batch read and count, and comes back on restore. The
-- counters keep the rule of 00019_true_counts.sql and 00029: a comment
-- counts (videos.comment_count, video_daily_engagement.comments) when its
-- author is active and it is not removed. One mechanism, as there: the
-- change of removed_at moves the counters in its own transaction through a
-- trigger that asks user_counts() (the FOR SHARE on the author against a
-- concurrent ban), and the ban triggers and the delete trigger leave
-- removed comments out. (CommentDelete and EraseCommentsBatch in
-- db/queries skip removed comments likewise.)

-- +goose Up
ALTER TABLE reports DROP CONSTRAINT reports_status_check;
DROP INDEX reports_open_target_key;
UPDATE reports SET status = 'reviewing' WHERE status = 'reviewed';

ALTER TABLE reports
    ADD CONSTRAINT reports_status_check CHECK (status IN ('pending', 'reviewing', 'resolved', 'dismissed')),
    ADD COLUMN target_id uuid,
    ADD COLUMN target_kind text NOT NULL GENERATED ALWAYS AS (
        CASE WHEN reported_user_id IS NOT NULL THEN 'user'
             WHEN reported_video_id IS NOT NULL THEN 'video'
             ELSE 'comment' END) STORED,
    ADD COLUMN reviewer_id uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN resolution_action text
        CHECK (resolution_action IN ('none', 'remove_video', 'remove_comment', 'ban_user')),
    ADD COLUMN resolution_note text CHECK (char_length(resolution_note) <= 1000),
    ADD COLUMN reviewed_at timestamptz,
    ADD COLUMN resolved_at timestamptz;

UPDATE reports SET target_id = COALESCE(reported_user_id, reported_video_id, reported_comment_id, id);
-- Reports closed before this migration get a resolved_at (their last
-- change; the list's snapshot counts a report open until resolved_at) and
-- the action none (none was recorded).
UPDATE reports SET resolved_at = updated_at, resolution_action = 'none' WHERE status IN ('resolved', 'dismissed');

-- 'reviewed' was not open under the old index, so a reporter may hold a
-- 'reviewing' and a 'pending' report on one target: the older stays open,
-- the newer ones are dismissed as duplicates.
UPDATE reports r SET status = 'dismissed', resolution_action = 'none', resolved_at = now(), updated_at = now(),
                     resolution_note = 'Duplicate of an open report (migration 00031)'
WHERE r.status IN ('pending', 'reviewing')
  AND EXISTS (SELECT 1 FROM reports o
              WHERE o.reporter_id = r.reporter_id AND o.target_id = r.target_id
                AND o.status IN ('pending', 'reviewing') AND (o.created_at, o.id) < (r.created_at, r.id));

ALTER TABLE reports
    ALTER COLUMN target_id SET NOT NULL,
    ADD CONSTRAINT reports_target_id
        CHECK (target_id = COALESCE(reported_user_id, reported_video_id, reported_comment_id, target_id)),
    -- What the workflow writes, state by state.
    ADD CONSTRAINT reports_workflow CHECK (
        CASE status
            WHEN 'pending' THEN resolution_action IS NULL AND resolved_at IS NULL
            WHEN 'reviewing' THEN resolution_action IS NULL AND resolved_at IS NULL
            ELSE resolution_action IS NOT NULL AND resolved_at IS NOT NULL
        END),
    ADD CONSTRAINT reports_dismissed_no_action CHECK (status <> 'dismissed' OR resolution_action = 'none');

-- One open report per reporter and target, open being pending or reviewing.
CREATE UNIQUE INDEX reports_open_target_key ON reports (reporter_id, target_id)
    WHERE status IN ('pending', 'reviewing');
-- A target's open reports: counted for the review list, locked by a resolution.
CREATE INDEX reports_target_idx ON reports (target_id, created_at);

ALTER TABLE comments
    ADD COLUMN removed_at timestamptz,
    ADD COLUMN removed_reason text CHECK (char_length(removed_reason) <= 1000),
    ADD CONSTRAINT comments_removed_reason CHECK ((removed_at IS NULL) = (removed_reason IS NULL));

-- What an admin reads about a report: the report, its reporter and the
-- reported content as it is now (state included), beside the snapshot a
-- comment report keeps.
CREATE VIEW report_reviews AS
SELECT r.id, r.reporter_id, rp.username AS reporter_username,
       r.target_kind, r.target_id, r.report_type, r.reason, r.status,
       r.reviewer_id, r.resolution_action, r.resolution_note, r.reviewed_at, r.resolved_at,
       r.created_at, r.updated_at,
       r.reported_user_id, tu.username AS user_username,
       CASE WHEN tu.id IS NULL THEN NULL WHEN tu.deleted_at IS NOT NULL THEN 'deleted'
            WHEN NOT tu.is_active THEN 'banned' ELSE 'active' END AS user_status,
       r.reported_video_id, v.caption AS video_caption, v.user_id AS video_owner_id,
       vo.username AS video_owner_username,
       CASE WHEN v.id IS NULL THEN NULL WHEN v.deleted_at IS NOT NULL THEN 'deleted' ELSE v.status END AS video_status,
       r.reported_comment_id, r.reported_comment_content, r.reported_comment_author_id,
       ca.username AS comment_author_username, c.video_id AS comment_video_id,
       CASE WHEN r.target_kind <> 'comment' THEN NULL WHEN c.id IS NULL THEN 'deleted'
            WHEN c.removed_at IS NOT NULL THEN 'removed' ELSE 'visible' END AS comment_state
FROM reports r
JOIN users rp ON rp.id = r.reporter_id
LEFT JOIN users tu ON tu.id = r.reported_user_id
LEFT JOIN videos v ON v.id = r.reported_video_id
LEFT JOIN users vo ON vo.id = v.user_id
LEFT JOIN comments c ON c.id = r.reported_comment_id
LEFT JOIN users ca ON ca.id = r.reported_comment_author_id;

-- +goose StatementBegin
-- A comment removed or restored: its video's counter and its day's figure
-- move by one when its author counts.
CREATE FUNCTION counts_comment_removed_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d int := CASE WHEN NEW.removed_at IS NULL THEN 1 ELSE -1 END;
BEGIN
    IF NOT user_counts(NEW.user_id) THEN
        RETURN NULL;
    END IF;
    UPDATE videos SET comment_count = greatest(comment_count + d, 0) WHERE id = NEW.video_id;
    UPDATE video_daily_engagement SET comments = greatest(comments + d, 0)
    WHERE video_id = NEW.video_id AND day = (NEW.created_at AT TIME ZONE 'UTC')::date;
    IF d = 1 AND NOT FOUND THEN
        INSERT INTO video_daily_engagement AS e (video_id, day, comments)
        VALUES (NEW.video_id, (NEW.created_at AT TIME ZONE 'UTC')::date, 1)
        ON CONFLICT (video_id, day) DO UPDATE SET comments = e.comments + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER counts_comment_removed AFTER UPDATE OF removed_at ON comments
    FOR EACH ROW WHEN ((OLD.removed_at IS NULL) IS DISTINCT FROM (NEW.removed_at IS NULL))
    EXECUTE FUNCTION counts_comment_removed_changed();

-- +goose StatementBegin
-- 00029's, with a removed comment left out (it was taken out when removed).
CREATE OR REPLACE FUNCTION engagement_row_changed() RETURNS trigger
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
        -- Nested: OLD of a like has no removed_at.
        IF TG_TABLE_NAME = 'comments' THEN
            IF OLD.removed_at IS NOT NULL THEN
                RETURN NULL;
            END IF;
        END IF;
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
-- 00029's, counting only comments that are not removed.
CREATE OR REPLACE FUNCTION engagement_user_active_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d int := CASE WHEN NEW.is_active THEN 1 ELSE -1 END;
BEGIN
    PERFORM 1 FROM video_daily_engagement e
    WHERE (e.video_id, e.day) IN (
        SELECT l.video_id, (l.created_at AT TIME ZONE 'UTC')::date FROM likes l WHERE l.user_id = NEW.id
        UNION SELECT cm.video_id, (cm.created_at AT TIME ZONE 'UTC')::date FROM comments cm
              WHERE cm.user_id = NEW.id AND cm.removed_at IS NULL)
    ORDER BY e.video_id, e.day FOR NO KEY UPDATE;

    WITH per AS (
        SELECT x.video_id, x.day, sum(x.l)::bigint AS likes, sum(x.c)::bigint AS comments
        FROM (SELECT l.video_id, (l.created_at AT TIME ZONE 'UTC')::date AS day, 1 AS l, 0 AS c
              FROM likes l WHERE l.user_id = NEW.id
              UNION ALL
              SELECT cm.video_id, (cm.created_at AT TIME ZONE 'UTC')::date, 0, 1
              FROM comments cm WHERE cm.user_id = NEW.id AND cm.removed_at IS NULL) x
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

-- +goose StatementBegin
-- 00019's, counting only comments that are not removed.
CREATE OR REPLACE FUNCTION counts_user_active_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d int := CASE WHEN NEW.is_active THEN 1 ELSE -1 END;
BEGIN
    PERFORM 1 FROM videos v
    WHERE v.id IN (SELECT l.video_id FROM likes l WHERE l.user_id = NEW.id
                   UNION SELECT c.video_id FROM comments c WHERE c.user_id = NEW.id
                   UNION SELECT g.original_video_id FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
                         WHERE gv.user_id = NEW.id)
    ORDER BY v.id FOR NO KEY UPDATE;
    PERFORM 1 FROM comments c
    WHERE c.id IN (SELECT cl.comment_id FROM comment_likes cl WHERE cl.user_id = NEW.id)
    ORDER BY c.id FOR NO KEY UPDATE;

    UPDATE videos v SET like_count = v.like_count + d * per.n
    FROM (SELECT l.video_id, count(*)::int AS n FROM likes l WHERE l.user_id = NEW.id GROUP BY l.video_id) per
    WHERE v.id = per.video_id;
    UPDATE videos v SET comment_count = v.comment_count + d * per.n
    FROM (SELECT c.video_id, count(*)::int AS n FROM comments c
          WHERE c.user_id = NEW.id AND c.removed_at IS NULL GROUP BY c.video_id) per
    WHERE v.id = per.video_id;
    UPDATE comments c SET like_count = c.like_count + d * per.n
    FROM (SELECT cl.comment_id, count(*)::int AS n FROM comment_likes cl WHERE cl.user_id = NEW.id GROUP BY cl.comment_id) per
    WHERE c.id = per.comment_id;
    UPDATE videos v SET glitch_count = v.glitch_count + d * per.n
    FROM (SELECT g.original_video_id AS video_id, count(*)::int AS n
          FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
          WHERE gv.user_id = NEW.id AND gv.status = 'completed' AND gv.is_public AND gv.deleted_at IS NULL
          GROUP BY g.original_video_id) per
    WHERE v.id = per.video_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Removed comments are deleted rather than shown again (a removal is a
-- moderator's decision); they count nowhere, so no counter moves, and
-- their reports keep the snapshot.
DELETE FROM comments WHERE removed_at IS NOT NULL;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION counts_user_active_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d int := CASE WHEN NEW.is_active THEN 1 ELSE -1 END;
BEGIN
    -- Every row this changes is locked first, in id order, so that two bans
    -- touching the same videos cannot deadlock.
    PERFORM 1 FROM videos v
    WHERE v.id IN (SELECT l.video_id FROM likes l WHERE l.user_id = NEW.id
                   UNION SELECT c.video_id FROM comments c WHERE c.user_id = NEW.id
                   UNION SELECT g.original_video_id FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
                         WHERE gv.user_id = NEW.id)
    ORDER BY v.id FOR NO KEY UPDATE;
    PERFORM 1 FROM comments c
    WHERE c.id IN (SELECT cl.comment_id FROM comment_likes cl WHERE cl.user_id = NEW.id)
    ORDER BY c.id FOR NO KEY UPDATE;

    UPDATE videos v SET like_count = v.like_count + d * per.n
    FROM (SELECT l.video_id, count(*)::int AS n FROM likes l WHERE l.user_id = NEW.id GROUP BY l.video_id) per
    WHERE v.id = per.video_id;
    UPDATE videos v SET comment_count = v.comment_count + d * per.n
    FROM (SELECT c.video_id, count(*)::int AS n FROM comments c WHERE c.user_id = NEW.id GROUP BY c.video_id) per
    WHERE v.id = per.video_id;
    UPDATE comments c SET like_count = c.like_count + d * per.n
    FROM (SELECT cl.comment_id, count(*)::int AS n FROM comment_likes cl WHERE cl.user_id = NEW.id GROUP BY cl.comment_id) per
    WHERE c.id = per.comment_id;
    UPDATE videos v SET glitch_count = v.glitch_count + d * per.n
    FROM (SELECT g.original_video_id AS video_id, count(*)::int AS n
          FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
          WHERE gv.user_id = NEW.id AND gv.status = 'completed' AND gv.is_public AND gv.deleted_at IS NULL
          GROUP BY g.original_video_id) per
    WHERE v.id = per.video_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION engagement_user_active_changed() RETURNS trigger
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION engagement_row_changed() RETURNS trigger
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

DROP TRIGGER counts_comment_removed ON comments;
DROP FUNCTION counts_comment_removed_changed;
DROP VIEW report_reviews;
ALTER TABLE comments
    DROP CONSTRAINT comments_removed_reason,
    DROP COLUMN removed_reason,
    DROP COLUMN removed_at;

DROP INDEX reports_target_idx;
DROP INDEX reports_open_target_key;
ALTER TABLE reports
    DROP CONSTRAINT reports_dismissed_no_action,
    DROP CONSTRAINT reports_workflow,
    DROP CONSTRAINT reports_target_id,
    DROP CONSTRAINT reports_status_check;
UPDATE reports SET status = 'reviewed' WHERE status = 'reviewing';
ALTER TABLE reports
    ADD CONSTRAINT reports_status_check CHECK (status IN ('pending', 'reviewed', 'resolved', 'dismissed')),
    DROP COLUMN resolved_at,
    DROP COLUMN reviewed_at,
    DROP COLUMN resolution_note,
    DROP COLUMN resolution_action,
    DROP COLUMN reviewer_id,
    DROP COLUMN target_kind,
    DROP COLUMN target_id;
CREATE UNIQUE INDEX reports_open_target_key
    ON reports (reporter_id, COALESCE(reported_user_id, reported_video_id, reported_comment_id))
    WHERE status = 'pending';
