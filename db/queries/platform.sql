-- Platform stats and the admin lists (issue 15, point 4; package activity
-- and api/admin_stats.go). Windows are passed in as instants so the api and
-- a test counting in SQL agree on them.

-- name: PlatformUserCounts :one
SELECT
    count(*) FILTER (WHERE deleted_at IS NULL)::bigint                            AS total,
    count(*) FILTER (WHERE deleted_at IS NULL AND is_active)::bigint              AS active,
    count(*) FILTER (WHERE deleted_at IS NULL AND NOT is_active)::bigint          AS banned,
    count(*) FILTER (WHERE deleted_at IS NOT NULL)::bigint                        AS deleted,
    count(*) FILTER (WHERE deleted_at IS NULL AND role = 'admin')::bigint         AS admins,
    count(*) FILTER (WHERE deleted_at IS NULL AND created_at >= @day_since)::bigint  AS new_day,
    count(*) FILTER (WHERE deleted_at IS NULL AND created_at >= @week_since)::bigint AS new_week
FROM users;

-- name: PlatformVideoCounts :many
SELECT status,
    count(*)::bigint                                          AS total,
    count(*) FILTER (WHERE created_at >= @day_since)::bigint  AS new_day,
    count(*) FILTER (WHERE created_at >= @week_since)::bigint AS new_week
FROM videos
WHERE deleted_at IS NULL
GROUP BY status
ORDER BY status;

-- name: PlatformCreditTotals :many
SELECT transaction_type,
    count(*)::bigint                                                 AS transactions,
    coalesce(sum(credits) FILTER (WHERE credits > 0), 0)::bigint     AS granted,
    coalesce(-sum(credits) FILTER (WHERE credits < 0), 0)::bigint    AS used
FROM credit_transactions
GROUP BY transaction_type
ORDER BY transaction_type;

-- name: PlatformAIJobCounts :many
SELECT job_type, status, count(*)::bigint AS jobs
FROM ai_jobs
GROUP BY job_type, status
ORDER BY job_type, status;

-- Durations of completed jobs, from start (or creation when the job never
-- recorded a start) to completion, per type and overall (job_type '').
-- name: PlatformAIJobDurations :many
SELECT coalesce(job_type, '')::text AS job_type, -- '' is the overall row
    count(*)::bigint AS completed,
    coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - coalesce(started_at, created_at))), 0)::float8 AS p50_seconds,
    coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - coalesce(started_at, created_at))), 0)::float8 AS p95_seconds
FROM ai_jobs
WHERE status = 'completed'
GROUP BY GROUPING SETS ((job_type), ())
ORDER BY job_type NULLS LAST;

-- Open reports: every report not yet resolved or dismissed.
-- name: PlatformOpenReports :one
SELECT count(*)::bigint FROM reports WHERE status NOT IN ('resolved', 'dismissed');

-- name: PlatformNewOnDay :one
SELECT
    (SELECT count(*) FROM users WHERE created_at >= @day_start::timestamptz AND created_at < @day_end::timestamptz)::bigint  AS new_users,
    (SELECT count(*) FROM videos WHERE created_at >= @day_start::timestamptz AND created_at < @day_end::timestamptz)::bigint AS new_videos;

-- name: UpsertPlatformDay :exec
INSERT INTO platform_daily_stats (day, dau, wau, mau, new_users, new_videos, hll, flushed_at)
VALUES (@day, @dau, @wau, @mau, @new_users, @new_videos, @hll, now())
ON CONFLICT (day) DO UPDATE SET dau = EXCLUDED.dau, wau = EXCLUDED.wau, mau = EXCLUDED.mau,
    new_users = EXCLUDED.new_users, new_videos = EXCLUDED.new_videos, hll = EXCLUDED.hll,
    flushed_at = EXCLUDED.flushed_at;

-- name: PlatformDays :many
SELECT * FROM platform_daily_stats WHERE day >= @first AND day <= @last ORDER BY day;

-- The admin user list: everyone, inactive and deleted included, newest
-- first. q is a prefix of the username or the e-mail (LIKE-escaped by the
-- caller).
-- name: AdminUsers :many
SELECT * FROM users u
WHERE (sqlc.narg('q')::text IS NULL OR u.username LIKE sqlc.narg('q')::text || '%' ESCAPE '\' OR u.email LIKE sqlc.narg('q')::text || '%' ESCAPE '\')
  AND (sqlc.narg('status')::text IS NULL
       OR (sqlc.narg('status')::text = 'active' AND u.deleted_at IS NULL AND u.is_active)
       OR (sqlc.narg('status')::text = 'banned' AND u.deleted_at IS NULL AND NOT u.is_active)
       OR (sqlc.narg('status')::text = 'deleted' AND u.deleted_at IS NOT NULL))
  AND (sqlc.narg('role')::text IS NULL OR u.role = sqlc.narg('role')::text)
  AND (sqlc.narg('tier')::text IS NULL OR u.subscription_tier = sqlc.narg('tier')::text)
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (u.created_at, u.id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY u.created_at DESC, u.id DESC
LIMIT @lim;

-- The admin video list: every video, private, removed, failed and deleted
-- ones included, newest first. q is a substring of the caption or title
-- (ILIKE-escaped by the caller). The admin sees all of them, so the
-- visibility rule does not apply here.
-- name: AdminVideos :many
SELECT sqlc.embed(v), sqlc.embed(u) FROM videos v JOIN users u ON u.id = v.user_id
WHERE (sqlc.narg('q')::text IS NULL OR v.caption ILIKE '%' || sqlc.narg('q')::text || '%' ESCAPE '\'
       OR coalesce(v.title, '') ILIKE '%' || sqlc.narg('q')::text || '%' ESCAPE '\')
  AND (sqlc.narg('status')::text IS NULL
       OR (sqlc.narg('status')::text = 'deleted' AND v.deleted_at IS NOT NULL)
       OR (v.status = sqlc.narg('status')::text AND v.deleted_at IS NULL))
  AND (sqlc.narg('owner_id')::uuid IS NULL OR v.user_id = sqlc.narg('owner_id')::uuid)
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (v.created_at, v.id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY v.created_at DESC, v.id DESC
LIMIT @lim;
