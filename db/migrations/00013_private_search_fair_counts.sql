-- Private searches and counters nobody can pump (issue 11).
--
-- Keyword suggestions. Autocomplete suggests a query to everyone only when
-- at least AUTOCOMPLETE_MIN_SEARCHERS distinct users searched it in the
-- 7-day window. search_keyword_days counted users per day, so a user who
-- searched on three days counted three times, and deleting one's history
-- and searching again counted again. Now search_keyword_users holds one
-- row per user and query: the UTC day of that user's latest search of it.
-- Triggers keep search_keyword_days as its count by day: users is the
-- number of users whose latest search of the query fell on that day. The
-- sum over the days of the window is then exactly the number of distinct
-- users who searched it in the window, and a suggestion still reads at
-- most 7 rows per query. A user who searches a query again moves from the
-- day of the previous search to today; deleting a history entry (or the
-- whole history, or the account) takes that user's count back. The
-- trending task deletes the rows of days older than the window, and the
-- triggers take their counts out with them.
--
-- Shares. A signed-in user's share counts once per video and platform (no
-- platform is "other"): the duplicate rows recorded so far are removed and
-- taken off videos.share_count. Anonymous shares are limited in Redis by
-- the api (once per client IP, video and day), so nothing here stores an
-- IP address.

-- +goose Up
CREATE TABLE search_keyword_users (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    normalized text NOT NULL CHECK (char_length(normalized) BETWEEN 1 AND 100),
    -- The UTC day of this user's latest search of the query.
    day        date NOT NULL,
    PRIMARY KEY (user_id, normalized)
);
CREATE INDEX search_keyword_users_day_idx ON search_keyword_users (day);

-- A count may reach 0 for a moment inside a trigger; the trigger then
-- deletes the row.
ALTER TABLE search_keyword_days DROP CONSTRAINT search_keyword_days_users_check;
ALTER TABLE search_keyword_days ADD CONSTRAINT search_keyword_days_users_check CHECK (users >= 0);

-- The searches recorded so far, each user's once, on the day of the last
-- one. Searches already trimmed from a history or deleted are not known
-- per user and are dropped from the counts.
INSERT INTO search_keyword_users (user_id, normalized, day)
SELECT user_id, normalized, (created_at AT TIME ZONE 'UTC')::date FROM search_history;
TRUNCATE search_keyword_days;
INSERT INTO search_keyword_days (normalized, day, users)
SELECT normalized, day, count(*) FROM search_keyword_users GROUP BY 1, 2;

-- +goose StatementBegin
-- Statement-level, over the transition tables, so that the trending
-- task's prune (every row of a day at once) or an account deletion costs
-- one grouped update, not one per row. The decrement is one UPDATE and
-- the clean-up of zero counts a second statement: the UPDATE locks each
-- row and applies to its latest version, and the DELETE runs after it, so
-- a concurrent increment is never lost.
CREATE FUNCTION search_keyword_users_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE search_keyword_days k SET users = k.users - g.n
        FROM (SELECT normalized, day, count(*) AS n FROM removed GROUP BY 1, 2) g
        WHERE k.normalized = g.normalized AND k.day = g.day;
        DELETE FROM search_keyword_days k
        USING (SELECT DISTINCT normalized, day FROM removed) g
        WHERE k.normalized = g.normalized AND k.day = g.day AND k.users <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO search_keyword_days AS k (normalized, day, users)
        SELECT normalized, day, count(*) FROM added GROUP BY 1, 2
        ON CONFLICT (normalized, day) DO UPDATE SET users = k.users + EXCLUDED.users;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER search_keyword_users_added AFTER INSERT ON search_keyword_users
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_users_count();
CREATE TRIGGER search_keyword_users_moved AFTER UPDATE ON search_keyword_users
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_users_count();
CREATE TRIGGER search_keyword_users_removed AFTER DELETE ON search_keyword_users
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_users_count();

-- Shares: once per signed-in user, video and platform.
WITH dup AS (
    DELETE FROM video_shares s
    WHERE s.user_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM video_shares o
        WHERE o.video_id = s.video_id AND o.user_id = s.user_id
          AND coalesce(o.share_platform, 'other') = coalesce(s.share_platform, 'other')
          AND (o.created_at, o.id) < (s.created_at, s.id))
    RETURNING s.video_id
)
UPDATE videos v SET share_count = greatest(v.share_count - d.n, 0)
FROM (SELECT video_id, count(*) AS n FROM dup GROUP BY 1) d
WHERE v.id = d.video_id;
CREATE UNIQUE INDEX video_shares_user_once ON video_shares (video_id, user_id, (coalesce(share_platform, 'other')))
    WHERE user_id IS NOT NULL;

-- +goose Down
DROP INDEX video_shares_user_once;
DROP TABLE search_keyword_users;
DROP FUNCTION search_keyword_users_count;
DELETE FROM search_keyword_days WHERE users = 0;
ALTER TABLE search_keyword_days DROP CONSTRAINT search_keyword_days_users_check;
ALTER TABLE search_keyword_days ADD CONSTRAINT search_keyword_days_users_check CHECK (users > 0);
