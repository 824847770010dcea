-- name: SearchUsers :many
-- Active users matching q (escaped for LIKE) in username or display name,
-- not across a block with the viewer; exact and prefix matches first, then
-- trigram similarity. q has three or more characters: the trigram indexes
-- find the matches (SearchUsersShort answers shorter ones). The viewer's
-- blocks are read once and anti-joined, instead of a blocked_between()
-- call per match.
WITH blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = sqlc.narg('viewer_id')::uuid
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = sqlc.narg('viewer_id')::uuid
)
SELECT sqlc.embed(u),
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = sqlc.narg('viewer_id')::uuid AND f.following_id = u.id) AS is_following
FROM users u
WHERE u.is_active
  AND (u.username ILIKE '%' || @pattern::text || '%' ESCAPE '\' OR u.display_name ILIKE '%' || @pattern::text || '%' ESCAPE '\')
  AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = u.id)
ORDER BY (lower(u.username) = lower(@q::text)) DESC,
         (u.username ILIKE @pattern::text || '%' ESCAPE '\') DESC,
         greatest(similarity(u.username, @q::text), similarity(coalesce(u.display_name, ''), @q::text)) DESC,
         u.id
LIMIT @lim;

-- name: SearchUsersShort :many
-- SearchUsers for a q of one or two characters, which has no trigram to
-- look up: the users_search_short_grams index finds exactly the users
-- whose username or display name contains q, ignoring case (what the
-- ILIKE of SearchUsers matches), so no ILIKE is needed here.
WITH blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = sqlc.narg('viewer_id')::uuid
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = sqlc.narg('viewer_id')::uuid
)
SELECT sqlc.embed(u),
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = sqlc.narg('viewer_id')::uuid AND f.following_id = u.id) AS is_following
FROM users u
WHERE u.is_active
  AND short_grams(u.username || ' ' || coalesce(u.display_name, '')) @> ARRAY[lower(@q::text)]
  AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = u.id)
ORDER BY (lower(u.username) = lower(@q::text)) DESC,
         (u.username ILIKE @pattern::text || '%' ESCAPE '\') DESC,
         greatest(similarity(u.username, @q::text), similarity(coalesce(u.display_name, ''), @q::text)) DESC,
         u.id
LIMIT @lim;

-- name: SearchVideos :many
-- Visible videos whose caption or title contains q (escaped for LIKE as
-- @pattern): of the newest 200 matches, the best by similarity, then
-- recency. Ranking every match cost one similarity() per match (about
-- 5 µs: 100 ms for the 21,000 captions with "dance" on the seed); the
-- newest 200 bound it, and finding them reads about 200 ÷ (share of
-- videos that match) rows. q has three or more characters, so the trigram
-- indexes find the matches (SearchVideosShort answers shorter ones). The
-- viewer's blocks are read once and anti-joined, instead of a
-- video_visible() call per match, which is the same rule for a listed
-- video (video_listed, which also reads the author's state: migration 00020).
WITH blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = sqlc.narg('viewer_id')::uuid
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = sqlc.narg('viewer_id')::uuid
),
hits AS (
    SELECT h.id, h.user_id, h.caption, h.title, h.created_at
    FROM videos h
    WHERE video_listed(h.status, h.is_public, h.deleted_at, h.author_active)
      AND (h.caption ILIKE '%' || @pattern::text || '%' ESCAPE '\' OR h.title ILIKE '%' || @pattern::text || '%' ESCAPE '\')
      AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = h.user_id)
    ORDER BY h.created_at DESC, h.id DESC
    LIMIT 200
),
best AS (
    SELECT h.id, greatest(similarity(h.caption, @q::text), similarity(coalesce(h.title, ''), @q::text)) AS score
    FROM hits h
    ORDER BY score DESC, h.created_at DESC, h.id
    LIMIT @lim
)
SELECT sqlc.embed(v), sqlc.embed(u)
FROM best JOIN videos v ON v.id = best.id JOIN users u ON u.id = v.user_id
ORDER BY best.score DESC, v.created_at DESC, v.id;

-- name: SearchVideosShort :many
-- SearchVideos for a q of one or two characters, which has no trigram to
-- look up: the videos_search_short_grams index finds exactly the videos
-- whose caption or title contains q, ignoring case (what the ILIKE of
-- SearchVideos matches), so no ILIKE is needed here. It costs about 1 µs
-- per match: a one-letter q that most captions contain is still slow.
WITH blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = sqlc.narg('viewer_id')::uuid
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = sqlc.narg('viewer_id')::uuid
),
hits AS (
    SELECT h.id, h.user_id, h.caption, h.title, h.created_at
    FROM videos h
    WHERE video_listed(h.status, h.is_public, h.deleted_at, h.author_active)
      AND short_grams(h.caption || ' ' || coalesce(h.title, '')) @> ARRAY[lower(@q::text)]
      AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = h.user_id)
    ORDER BY h.created_at DESC, h.id DESC
    LIMIT 200
),
best AS (
    SELECT h.id, greatest(similarity(h.caption, @q::text), similarity(coalesce(h.title, ''), @q::text)) AS score
    FROM hits h
    ORDER BY score DESC, h.created_at DESC, h.id
    LIMIT @lim
)
SELECT sqlc.embed(v), sqlc.embed(u)
FROM best JOIN videos v ON v.id = best.id JOIN users u ON u.id = v.user_id
ORDER BY best.score DESC, v.created_at DESC, v.id;

-- name: SearchHashtags :many
-- Hashtags starting with @prefix, most used first. Every string that
-- starts with p lies in the byte range [p, p || U+10FFFF), which the
-- text_pattern_ops index can scan; unlike LIKE with a parameter, the range
-- works in a cached generic plan, so the statement is not planned again on
-- every keystroke. No escaping is needed: nothing in @prefix is special.
-- The subquery reads the prefix's range first (the first 1,000 tags of it
-- in byte order) and only then ranks by use: as one query, the planner
-- walked the use_count index from the top and filtered on the prefix,
-- which reads every tag in use when no popular tag has the prefix (all
-- 4,200 of the seed for "min", 0.5 ms; with millions of tags, seconds).
SELECT m.id, m.name, m.use_count FROM (
    SELECT h.id, h.name, h.use_count FROM hashtags h
    WHERE h.name ~>=~ @prefix::text AND h.name ~<~ (@prefix::text || chr(1114111)) AND h.use_count > 0
    ORDER BY h.name USING ~<~
    LIMIT 1000
) m
ORDER BY m.use_count DESC, m.name
LIMIT @lim;

-- name: AutocompleteUsers :many
-- Active usernames starting with @prefix (the byte range of
-- SearchHashtags), not across a block with the viewer, in the byte order
-- of the prefix index: the prefix itself first if it is a username, then
-- the names that extend it. The index hands them out in that order, so a
-- suggestion reads @lim names; ranking shortest first read and sorted
-- every match (2,000 users for "ji" on the 20,000-user seed, 1.1 ms
-- against 0.04 ms).
WITH blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = sqlc.narg('viewer_id')::uuid
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = sqlc.narg('viewer_id')::uuid
)
SELECT u.username
FROM users u
WHERE u.username ~>=~ @prefix::text AND u.username ~<~ (@prefix::text || chr(1114111)) AND u.is_active
  AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = u.id)
ORDER BY u.username USING ~<~
LIMIT @lim;

-- name: AutocompleteKeywords :many
-- Recent searches starting with @prefix (the byte range of
-- SearchHashtags) that at least @min_searchers distinct users
-- searched since @since_day, most searchers first. Each day's row counts
-- the users whose latest search of the query fell on that day (migration
-- 00013), so the sum over the window counts each user once, and a query
-- sums at most 7 rows.
SELECT normalized, sum(users)::bigint AS uses
FROM search_keyword_days
WHERE normalized ~>=~ @prefix::text AND normalized ~<~ (@prefix::text || chr(1114111)) AND day >= @since_day::date
GROUP BY normalized
HAVING sum(users) >= @min_searchers::bigint
ORDER BY uses DESC, normalized
LIMIT @lim;

-- name: AutocompleteHistory :many
-- The caller's own searches starting with @prefix, newest first. A history
-- keeps at most 50 entries (SearchHistoryTrim) and is read through its
-- user's index, so this reads at most that many rows.
SELECT query, normalized
FROM search_history
WHERE user_id = @user_id AND normalized ~>=~ @prefix::text AND normalized ~<~ (@prefix::text || chr(1114111))
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: SearchHistoryRecord :one
-- One row per normalized query: searching again moves it to the top. The
-- user's latest search day of the query moves to today in
-- search_keyword_users, whose triggers keep the keyword counts (migration
-- 00013): a user counts once per query however often they search it.
WITH searched AS (
    INSERT INTO search_keyword_users AS k (user_id, normalized, day)
    VALUES (@user_id, @normalized, (now() AT TIME ZONE 'UTC')::date)
    ON CONFLICT (user_id, normalized) DO UPDATE SET day = EXCLUDED.day
    WHERE k.day <> EXCLUDED.day
)
INSERT INTO search_history (id, user_id, query, normalized)
VALUES (@id, @user_id, @query, @normalized)
ON CONFLICT (user_id, normalized) DO UPDATE SET query = EXCLUDED.query, created_at = now()
RETURNING *;

-- name: SearchKeywordDaysPrune :execrows
-- Forgets the searches and counts of days before @before.
WITH searchers AS (
    DELETE FROM search_keyword_users WHERE day < @before::date
)
DELETE FROM search_keyword_days WHERE day < @before::date;

-- name: SearchHistoryTrim :execrows
-- Keeps the newest @keep entries of a user.
DELETE FROM search_history sh
WHERE sh.user_id = @user_id::uuid AND sh.id NOT IN (
    SELECT k.id FROM search_history k WHERE k.user_id = @user_id::uuid ORDER BY k.created_at DESC, k.id DESC LIMIT @keep::int);

-- name: SearchHistoryList :many
SELECT * FROM search_history WHERE user_id = @user_id ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: SearchHistoryDelete :one
-- Deletes one entry of a user's history and takes the user's search of it
-- out of the keyword counts; answers how many entries were deleted.
WITH gone AS (
    DELETE FROM search_history h WHERE h.id = @id::uuid AND h.user_id = @user_id::uuid
    RETURNING h.user_id, h.normalized
), forgotten AS (
    DELETE FROM search_keyword_users k USING gone
    WHERE k.user_id = gone.user_id AND k.normalized = gone.normalized
)
SELECT count(*) FROM gone;

-- name: SearchHistoryClear :execrows
-- Deletes a user's history and takes all their searches out of the
-- keyword counts.
WITH forgotten AS (
    DELETE FROM search_keyword_users k WHERE k.user_id = @user_id::uuid
)
DELETE FROM search_history h WHERE h.user_id = @user_id::uuid;
