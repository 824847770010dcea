-- Keyword suggestions from daily counts (issue 6). Autocomplete suggested
-- popular recent searches by counting the matching rows of search_history
-- of the last 7 days: 5,620 rows for the prefix "da" on the seed of
-- docs/benchmarks.md, about 2 ms, for every prefix that was not cached.
-- Now each search adds to a count per normalized query and UTC day, and a
-- suggestion sums at most 7 rows per query (one per day of the window).
--
-- A user adds at most 1 to a query's count per day (searching it again the
-- same day does not count), so one user repeating a search cannot push it
-- into everyone's suggestions. Counts are anonymous: deleting one's history
-- does not take them back. Days older than the window are deleted by
-- trending:recompute.

-- +goose Up
CREATE TABLE search_keyword_days (
    normalized text    NOT NULL CHECK (char_length(normalized) BETWEEN 1 AND 100),
    day        date    NOT NULL,
    -- Distinct users who searched it that day (UTC).
    users      integer NOT NULL CHECK (users > 0)
);
-- text_pattern_ops so the prefix's byte range (~>=~, ~<~) is an index
-- range in any collation; also the conflict target of the counting upsert.
CREATE UNIQUE INDEX search_keyword_days_key ON search_keyword_days (normalized text_pattern_ops, day);
CREATE INDEX search_keyword_days_day_idx ON search_keyword_days (day);

-- Nothing reads search_history by query any more.
DROP INDEX search_history_recent_idx;

-- The searches already recorded, each user's once on the day of its last
-- search.
INSERT INTO search_keyword_days (normalized, day, users)
SELECT normalized, (created_at AT TIME ZONE 'UTC')::date, count(*)
FROM search_history
GROUP BY 1, 2;

-- +goose Down
CREATE INDEX search_history_recent_idx ON search_history (normalized text_pattern_ops, created_at);
DROP TABLE search_keyword_days;
