-- The following feed as a per-follower inbox (issue 6). Before this, a
-- page of the following feed read up to one page of videos from each
-- followed creator and merged them: 4,200 index rows for a caller who
-- follows 200 creators, 7 ms of database time per page. Now a video is
-- written into each follower's inbox when it is published, and a page is
-- one range of the inbox's primary key.
--
-- Triggers keep the inbox, so every path that publishes a video, follows,
-- unfollows or deletes (the API, the worker, the seed, an operator's SQL)
-- keeps it exact:
--   - a video that becomes completed (inserted so, or updated to it) is
--     written to the inbox of every current follower of its author;
--   - a follow copies every live video of the followed creator into the
--     follower's inbox, whatever its status, so a video that completes
--     while the follow commits is in the inbox from one side or the other;
--   - an unfollow removes the creator's videos from the follower's inbox;
--   - a video that is deleted, failed or removed leaves every inbox.
-- A follow and a publish that commit at the same instant would each miss
-- the other's row: the follow's copy does not see the new video and the
-- publish's fan-out does not see the new follow. So each trigger first
-- locks the creator's users row: FOR SHARE when a follow changes (follows
-- of one creator do not wait for each other), FOR NO KEY UPDATE when a
-- video changes (which does not block the foreign-key checks of other
-- writes). The second to take the lock reads after the first committed,
-- in a new statement, and sees its row. Row locks live in the row, not in
-- the shared lock table, so a bulk insert of many creators' videos does
-- not run out of lock memory. The feed query still applies visibility
-- and blocks to each row it reads.
--
-- Cost moves to writing: publishing a video inserts one row per follower
-- (on the worker, in the transaction that completes the video) and a
-- follow inserts one row per video of the followed creator (in the follow
-- request).

-- +goose Up
CREATE TABLE feed_inbox (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The video's created_at, the following feed's sort key.
    created_at timestamptz NOT NULL,
    video_id   uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, created_at, video_id)
);
-- For removing a video from every inbox, and for the cascade.
CREATE INDEX feed_inbox_video_idx ON feed_inbox (video_id);
-- The inbox is only ever read a page at a time from one user's range. The
-- planner, which cannot know how many rows of that range the feed's
-- visibility checks will drop, priced a page high enough to start two
-- parallel workers for it: 6.5 ms instead of 0.7 ms on the seed of
-- docs/benchmarks.md. No read of this table gains from a parallel scan.
ALTER TABLE feed_inbox SET (parallel_workers = 0);

-- +goose StatementBegin
CREATE FUNCTION feed_inbox_video_published() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.user_id FOR NO KEY UPDATE;
    INSERT INTO feed_inbox (user_id, created_at, video_id)
    SELECT f.follower_id, NEW.created_at, NEW.id
    FROM follows f WHERE f.following_id = NEW.user_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feed_inbox_video_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.user_id FOR NO KEY UPDATE;
    DELETE FROM feed_inbox WHERE video_id = NEW.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feed_inbox_followed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.following_id FOR SHARE;
    INSERT INTO feed_inbox (user_id, created_at, video_id)
    SELECT NEW.follower_id, v.created_at, v.id
    FROM videos v
    WHERE v.user_id = NEW.following_id
      AND v.deleted_at IS NULL AND v.status NOT IN ('failed', 'removed')
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feed_inbox_unfollowed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = OLD.following_id FOR SHARE;
    DELETE FROM feed_inbox i
    USING videos v
    WHERE v.user_id = OLD.following_id
      AND i.user_id = OLD.follower_id AND i.created_at = v.created_at AND i.video_id = v.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER feed_inbox_publish_on_insert AFTER INSERT ON videos
    FOR EACH ROW WHEN (NEW.status = 'completed' AND NEW.deleted_at IS NULL)
    EXECUTE FUNCTION feed_inbox_video_published();
CREATE TRIGGER feed_inbox_publish_on_update AFTER UPDATE OF status, deleted_at ON videos
    FOR EACH ROW WHEN (NEW.status = 'completed' AND NEW.deleted_at IS NULL
                       AND (OLD.status <> 'completed' OR OLD.deleted_at IS NOT NULL))
    EXECUTE FUNCTION feed_inbox_video_published();
CREATE TRIGGER feed_inbox_withdraw AFTER UPDATE OF status, deleted_at ON videos
    FOR EACH ROW WHEN ((NEW.deleted_at IS NOT NULL OR NEW.status IN ('failed', 'removed'))
                       AND OLD.deleted_at IS NULL AND OLD.status NOT IN ('failed', 'removed'))
    EXECUTE FUNCTION feed_inbox_video_gone();
CREATE TRIGGER feed_inbox_follow AFTER INSERT ON follows
    FOR EACH ROW EXECUTE FUNCTION feed_inbox_followed();
CREATE TRIGGER feed_inbox_unfollow AFTER DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION feed_inbox_unfollowed();

-- The inboxes of the follows that exist now.
INSERT INTO feed_inbox (user_id, created_at, video_id)
SELECT f.follower_id, v.created_at, v.id
FROM follows f JOIN videos v ON v.user_id = f.following_id
WHERE v.deleted_at IS NULL AND v.status NOT IN ('failed', 'removed')
ON CONFLICT DO NOTHING;

-- +goose Down
DROP TRIGGER feed_inbox_unfollow ON follows;
DROP TRIGGER feed_inbox_follow ON follows;
DROP TRIGGER feed_inbox_withdraw ON videos;
DROP TRIGGER feed_inbox_publish_on_update ON videos;
DROP TRIGGER feed_inbox_publish_on_insert ON videos;
DROP FUNCTION feed_inbox_unfollowed;
DROP FUNCTION feed_inbox_followed;
DROP FUNCTION feed_inbox_video_gone;
DROP FUNCTION feed_inbox_video_published;
DROP TABLE feed_inbox;
