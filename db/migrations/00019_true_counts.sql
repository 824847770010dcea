-- Counts tell the truth (issue 12, B-18).
--
-- videos.glitch_count, videos.like_count, videos.comment_count and
-- comments.like_count count what the lists show:
--   glitch_count:  the video's glitches that are completed, public, not
--                  deleted (removed is a status) and whose author is active;
--   like_count:    likes of active users;
--   comment_count: comments of active users;
--   comments.like_count: comment likes of active users.
-- A banned account (is_active = false) and a deleted one (deleted_at set,
-- which makes it inactive) stop counting; an unbanned one counts again.
--
-- One mechanism: each change of the truth moves the counter by exactly the
-- difference, in the transaction that makes the change.
--   - Glitches: triggers on videos (a glitch video's status, is_public or
--     deleted_at changes its visibility; a visible glitch video is hard
--     deleted) and on video_glitches (an edge is created or removed). The
--     AI job completion no longer raises glitch_count itself: it creates
--     the edge while the result is private, which counts nothing.
--   - Likes, comments, comment likes: the statement that inserts or deletes
--     the row moves the counter only when its user is active (like.sql,
--     comment.sql, account.sql), so the erasure of a deleted account moves
--     nothing (deletion already took the account's counts out).
--   - Bans: a trigger on users.is_active adds or takes out everything the
--     user's likes, comments, comment likes and visible glitches touch.
-- Exact under concurrency (READ COMMITTED): whoever reads a user's
-- is_active to decide whether a row counts does it through user_counts(),
-- which takes FOR SHARE on the user's row whatever its state: it waits for
-- a ban or unban in flight (and then reads the new state), and blocks one
-- that comes later until it commits; the ban's trigger then counts with a
-- fresh snapshot and sees the committed rows. (The decrements in the
-- one-statement queries use greatest(n - 1, 0) only because Postgres runs
-- a CHECK on the stale row version before re-reading a row a concurrent
-- ban or unban changed; the value written comes from the current version.) Likewise the edge trigger
-- takes FOR SHARE on the glitch video's row against a concurrent publish or
-- hide. Triggers, rather than a recount of each affected video, because a
-- ban touches many videos and a recount would read every like of each.
-- The counters are recomputed from the truth once, below.

-- +goose Up
-- +goose StatementBegin
-- Whether the user's likes, comments and glitches count (the user is
-- active), holding FOR SHARE on the user's row until the transaction ends.
CREATE FUNCTION user_counts(uid uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    active boolean;
BEGIN
    SELECT u.is_active INTO active FROM users u WHERE u.id = uid FOR SHARE;
    RETURN coalesce(active, false);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION counts_glitch_visibility_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    src uuid;
BEGIN
    SELECT g.original_video_id INTO src FROM video_glitches g WHERE g.glitch_video_id = NEW.id;
    IF src IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT user_counts(NEW.user_id) THEN
        RETURN NULL;
    END IF;
    UPDATE videos SET glitch_count = glitch_count +
        CASE WHEN NEW.status = 'completed' AND NEW.is_public AND NEW.deleted_at IS NULL THEN 1 ELSE -1 END
    WHERE id = src;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION counts_glitch_video_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    src uuid;
BEGIN
    SELECT g.original_video_id INTO src FROM video_glitches g WHERE g.glitch_video_id = OLD.id;
    IF src IS NOT NULL THEN
        IF user_counts(OLD.user_id) THEN
            UPDATE videos SET glitch_count = glitch_count - 1 WHERE id = src;
        END IF;
    END IF;
    RETURN OLD;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION counts_glitch_edge_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    e   video_glitches;
    gv  videos;
BEGIN
    IF TG_OP = 'INSERT' THEN e := NEW; ELSE e := OLD; END IF;
    -- Locked whatever its state, so that a concurrent publish or hide
    -- either waits for this edge or is seen by it.
    SELECT * INTO gv FROM videos WHERE id = e.glitch_video_id FOR SHARE;
    -- A glitch video deleted with its edge was counted out by
    -- counts_glitch_video_deleted.
    IF NOT FOUND OR NOT (gv.status = 'completed' AND gv.is_public AND gv.deleted_at IS NULL) THEN
        RETURN NULL;
    END IF;
    IF NOT user_counts(gv.user_id) THEN
        RETURN NULL;
    END IF;
    UPDATE videos SET glitch_count = glitch_count + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
    WHERE id = e.original_video_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION counts_user_active_changed() RETURNS trigger
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

CREATE TRIGGER counts_glitch_visibility AFTER UPDATE OF status, is_public, deleted_at ON videos
    FOR EACH ROW WHEN ((OLD.status = 'completed' AND OLD.is_public AND OLD.deleted_at IS NULL)
                       IS DISTINCT FROM (NEW.status = 'completed' AND NEW.is_public AND NEW.deleted_at IS NULL))
    EXECUTE FUNCTION counts_glitch_visibility_changed();
CREATE TRIGGER counts_glitch_video_delete BEFORE DELETE ON videos
    FOR EACH ROW WHEN (OLD.status = 'completed' AND OLD.is_public AND OLD.deleted_at IS NULL)
    EXECUTE FUNCTION counts_glitch_video_deleted();
CREATE TRIGGER counts_glitch_edge AFTER INSERT OR DELETE ON video_glitches
    FOR EACH ROW EXECUTE FUNCTION counts_glitch_edge_changed();
CREATE TRIGGER counts_user_active AFTER UPDATE OF is_active ON users
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION counts_user_active_changed();

-- The counts as they should be, once.
UPDATE videos v SET like_count = t.likes, comment_count = t.comments, glitch_count = t.glitches
FROM (
    SELECT x.id,
        (SELECT count(*) FROM likes l JOIN users u ON u.id = l.user_id
          WHERE l.video_id = x.id AND u.is_active)::int AS likes,
        (SELECT count(*) FROM comments c JOIN users u ON u.id = c.user_id
          WHERE c.video_id = x.id AND u.is_active)::int AS comments,
        (SELECT count(*) FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
          JOIN users u ON u.id = gv.user_id
          WHERE g.original_video_id = x.id AND gv.status = 'completed' AND gv.is_public
            AND gv.deleted_at IS NULL AND u.is_active)::int AS glitches
    FROM videos x
) t
WHERE v.id = t.id
  AND (v.like_count, v.comment_count, v.glitch_count) IS DISTINCT FROM (t.likes, t.comments, t.glitches);

UPDATE comments c SET like_count = t.likes
FROM (
    SELECT x.id, (SELECT count(*) FROM comment_likes cl JOIN users u ON u.id = cl.user_id
                  WHERE cl.comment_id = x.id AND u.is_active)::int AS likes
    FROM comments x
) t
WHERE c.id = t.id AND c.like_count <> t.likes;

-- +goose Down
DROP TRIGGER counts_user_active ON users;
DROP TRIGGER counts_glitch_edge ON video_glitches;
DROP TRIGGER counts_glitch_video_delete ON videos;
DROP TRIGGER counts_glitch_visibility ON videos;
DROP FUNCTION counts_user_active_changed;
DROP FUNCTION counts_glitch_edge_changed;
DROP FUNCTION counts_glitch_video_deleted;
DROP FUNCTION counts_glitch_visibility_changed;
DROP FUNCTION user_counts;
