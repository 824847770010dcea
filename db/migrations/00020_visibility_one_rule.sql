-- Visibility is one rule (issue 12, point 2).
--
-- A banned or deleted author's videos are seen by nobody (CONTRACT.md §2),
-- but video_visible() did not say so: the clause "the author is active"
-- was added query by query, as a join with users or an EXISTS, and 11 of
-- the 18 queries that called the rule did not add it (the target lookup of
-- likes, bookmarks, comments, views and reports among them).
--
-- The author's state now lives on the video as videos.author_active, and
-- the rule reads it. Why a column rather than a lookup of users inside the
-- function: a SQL function whose body holds a sub-select is not inlined by
-- PostgreSQL, so "EXISTS (SELECT ... FROM users ...)" inside
-- video_visible() would turn the rule into an opaque call per row. The
-- planner could then no longer match the feeds' and search's partial
-- indexes against it, nor push its plain parts down into index scans. A
-- column keeps the rule one plain boolean expression that is inlined
-- into each query, and it spares the feeds their join with users (the
-- latest and following feeds joined users only to read is_active).
--
-- The column is kept exact by triggers, in the transaction of the change:
--   - a change of users.is_active (a ban, an unban, an account deletion)
--     sets it on every video of the user;
--   - a new video takes its author's state when it is inserted.
-- Under READ COMMITTED: the insert trigger reads the author's row FOR NO
-- KEY UPDATE, the same lock a ban's UPDATE of that row takes. A ban in
-- flight makes the insert wait and read the committed state; an insert in
-- flight makes the ban wait, and the ban's trigger then updates the
-- videos in a new statement, which sees the inserted row. (The lock is
-- the one feed_inbox_video_published already takes for a completed video,
-- so the two triggers never hold different modes of it that would need an
-- upgrade.)
--
-- Two functions, one defined through the other:
--   video_listed(status, is_public, deleted_at, author_active): everyone
--     may see the video, blocks aside (the public lists, search, trending,
--     counts). Inlined, it is "status = 'completed' AND is_public AND
--     deleted_at IS NULL AND author_active", which implies the predicate of
--     the partial indexes (videos_visible_idx, videos_search_short_grams,
--     the trigram indexes), so those plans keep their indexes.
--   video_visible(owner, status, is_public, deleted_at, author_active,
--     viewer): the viewer may see the video: it is not deleted, its author
--     is active, and it is the viewer's own or listed and not across a
--     block. The five-argument version is dropped, so no query can call
--     the rule without the author's state.

-- +goose Up
ALTER TABLE videos ADD COLUMN author_active boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN videos.author_active IS
    'users.is_active of the author, kept by triggers (00020_visibility_one_rule.sql); read by video_listed and video_visible';

UPDATE videos v SET author_active = false
FROM users u
WHERE u.id = v.user_id AND NOT u.is_active;

-- +goose StatementBegin
CREATE FUNCTION videos_author_active_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.is_active INTO NEW.author_active FROM users u WHERE u.id = NEW.user_id FOR NO KEY UPDATE;
    -- No such user: the foreign key refuses the row after this trigger.
    NEW.author_active := coalesce(NEW.author_active, false);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION videos_author_active_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE videos SET author_active = NEW.is_active
    WHERE user_id = NEW.id AND author_active IS DISTINCT FROM NEW.is_active;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER videos_author_active_insert BEFORE INSERT ON videos
    FOR EACH ROW EXECUTE FUNCTION videos_author_active_on_insert();
CREATE TRIGGER videos_author_active AFTER UPDATE OF is_active ON users
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION videos_author_active_changed();

-- Everyone may see the video, blocks aside. One plain expression, so the
-- planner inlines it and matches partial indexes against it.
CREATE FUNCTION video_listed(status text, is_public boolean, deleted_at timestamptz, author_active boolean)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT status = 'completed' AND is_public AND deleted_at IS NULL AND author_active
$$;

DROP FUNCTION video_visible(uuid, text, boolean, timestamptz, uuid);

-- The visibility rule of CONTRACT.md §2, once, for every read and every
-- action on a video: a video that is not deleted and whose author is
-- active is visible to its owner in every state, and to anyone else when
-- it is listed and neither user has blocked the other. viewer may be NULL
-- (anonymous). Inlined like video_listed; blocked_between stays a call.
CREATE FUNCTION video_visible(owner_id uuid, status text, is_public boolean, deleted_at timestamptz,
                              author_active boolean, viewer uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT deleted_at IS NULL AND author_active
       AND ((viewer IS NOT NULL AND owner_id = viewer)
            OR (video_listed(status, is_public, deleted_at, author_active) AND NOT blocked_between(viewer, owner_id)))
$$;

-- +goose Down
DROP FUNCTION video_visible(uuid, text, boolean, timestamptz, boolean, uuid);
CREATE FUNCTION video_visible(owner_id uuid, status text, is_public boolean, deleted_at timestamptz, viewer uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT deleted_at IS NULL
       AND ((viewer IS NOT NULL AND owner_id = viewer)
            OR (status = 'completed' AND is_public AND NOT blocked_between(viewer, owner_id)))
$$;
DROP FUNCTION video_listed(text, boolean, timestamptz, boolean);
DROP TRIGGER videos_author_active ON users;
DROP TRIGGER videos_author_active_insert ON videos;
DROP FUNCTION videos_author_active_changed;
DROP FUNCTION videos_author_active_on_insert;
ALTER TABLE videos DROP COLUMN author_active;
