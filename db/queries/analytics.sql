-- name: VideoStatsTarget :one
-- A video whose stats someone asks for, whoever asks: its owner, its counts
-- and whether the caller may see it (the route answers 403 to a caller who
-- can see the video but is neither its owner nor an admin, 404 otherwise).
-- A deleted video has no stats.
SELECT v.id, v.user_id, v.duration_seconds, v.view_count, v.like_count, v.comment_count,
       video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, @viewer_id::uuid) AS visible
FROM videos v
WHERE v.id = @id AND v.deleted_at IS NULL;

-- name: StatsDaily :many
-- Views, likes and comments per UTC day from @first to @last (inclusive),
-- summed over @video_ids, every day present (zero when nothing happened).
SELECT d.day::date AS day,
       coalesce(s.views, 0)::bigint AS views,
       coalesce(e.likes, 0)::bigint AS likes,
       coalesce(e.comments, 0)::bigint AS comments
FROM generate_series(@first::date, @last::date, interval '1 day') AS d(day)
LEFT JOIN (SELECT st.day, sum(st.views) AS views FROM video_daily_stats st
           WHERE st.video_id = ANY(@video_ids::uuid[]) AND st.day BETWEEN @first::date AND @last::date
           GROUP BY st.day) s ON s.day = d.day::date
LEFT JOIN (SELECT en.day, sum(en.likes) AS likes, sum(en.comments) AS comments FROM video_daily_engagement en
           WHERE en.video_id = ANY(@video_ids::uuid[]) AND en.day BETWEEN @first::date AND @last::date
           GROUP BY en.day) e ON e.day = d.day::date
ORDER BY d.day;

-- name: StatsViewTotals :one
-- All flushed views of @video_ids by source, with the reported watch time.
SELECT coalesce(sum(views), 0)::bigint AS views,
       coalesce(sum(views_feed), 0)::bigint AS feed,
       coalesce(sum(views_search), 0)::bigint AS search,
       coalesce(sum(views_profile), 0)::bigint AS profile,
       coalesce(sum(views_share), 0)::bigint AS share,
       coalesce(sum(views_external), 0)::bigint AS external,
       coalesce(sum(views_other), 0)::bigint AS other,
       coalesce(sum(watch_time_ms), 0)::bigint AS watch_time_ms,
       coalesce(sum(watch_views), 0)::bigint AS watch_views
FROM video_daily_stats
WHERE video_id = ANY(@video_ids::uuid[]);

-- name: StatsCountries :many
-- Flushed views of @video_ids per country a trusted proxy header gave.
SELECT country, sum(views)::bigint AS views
FROM video_daily_countries
WHERE video_id = ANY(@video_ids::uuid[])
GROUP BY country
ORDER BY views DESC, country;

-- name: UserVideoIDs :many
-- The creator's videos that count in their stats (not deleted), as
-- UserStats counts them.
SELECT v.id FROM videos v WHERE v.user_id = @user_id AND v.deleted_at IS NULL ORDER BY v.id;

-- name: VideoTagsAndOrigins :many
-- For each of @video_ids, in one statement: its hashtags (by name; each
-- name looked up by primary key, as VideoHashtagNames explains) and the AI
-- job that made it, when one did (the AI label: job type and the video the
-- job read). A video of no job has a NULL job type.
SELECT x.id::uuid AS video_id,
       ARRAY(SELECT h.name FROM video_hashtags vh
             CROSS JOIN LATERAL (SELECT t.name FROM hashtags t WHERE t.id = vh.hashtag_id LIMIT 1) h
             WHERE vh.video_id = x.id ORDER BY h.name)::text[] AS hashtags,
       j.job_type AS ai_job_type,
       j.source_video_id AS ai_source_video_id
FROM unnest(@video_ids::uuid[]) AS x(id)
LEFT JOIN ai_jobs j ON j.video_id = x.id
    AND NOT EXISTS (SELECT 1 FROM ai_jobs j2 WHERE j2.video_id = x.id AND (j2.created_at, j2.id) < (j.created_at, j.id));

-- name: ViewCountriesAdd :exec
-- Adds a flush batch's per-day, per-country views; rows of videos deleted
-- meanwhile are skipped.
INSERT INTO video_daily_countries AS s (video_id, day, country, views)
SELECT d.video_id, d.day, d.country, d.views
FROM (SELECT unnest(@video_ids::uuid[]) AS video_id, unnest(@days::date[]) AS day,
             unnest(@countries::text[]) AS country, unnest(@views::bigint[]) AS views) d
WHERE EXISTS (SELECT 1 FROM videos v WHERE v.id = d.video_id)
ORDER BY d.video_id, d.day, d.country
ON CONFLICT (video_id, day, country) DO UPDATE SET views = s.views + EXCLUDED.views;
