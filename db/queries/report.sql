-- name: ReportCreate :one
-- One open report per reporter and target: a repeat returns nothing
-- (the unique partial index decides, also under concurrency). A comment's
-- report keeps what the comment said and who wrote it, so that it outlives
-- the comment.
INSERT INTO reports (id, reporter_id, reported_user_id, reported_video_id, reported_comment_id, target_id, report_type, reason,
                     reported_comment_content, reported_comment_author_id)
VALUES (@id, @reporter_id, sqlc.narg('reported_user_id')::uuid, sqlc.narg('reported_video_id')::uuid, sqlc.narg('reported_comment_id')::uuid,
        COALESCE(sqlc.narg('reported_user_id')::uuid, sqlc.narg('reported_video_id')::uuid, sqlc.narg('reported_comment_id')::uuid),
        @report_type, sqlc.narg('reason'),
        (SELECT c.content FROM comments c WHERE c.id = sqlc.narg('reported_comment_id')::uuid),
        (SELECT c.user_id FROM comments c WHERE c.id = sqlc.narg('reported_comment_id')::uuid))
ON CONFLICT (reporter_id, target_id) WHERE status IN ('pending', 'reviewing')
DO NOTHING
RETURNING *;

-- name: ReportOpenByTarget :one
SELECT * FROM reports
WHERE reporter_id = @reporter_id AND status IN ('pending', 'reviewing') AND target_id = @target_id::uuid;

-- name: ReportsByReporter :many
SELECT * FROM reports WHERE reporter_id = @reporter_id ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: ReportsCountByReporter :one
SELECT count(*) FROM reports WHERE reporter_id = @reporter_id;

-- name: ReportReviewByID :one
-- A report as an admin reads it, with the open reports on its target now.
SELECT sqlc.embed(rv),
       (SELECT count(*) FROM reports o WHERE o.target_id = rv.target_id AND o.status IN ('pending', 'reviewing'))::bigint AS open_for_target
FROM report_reviews rv WHERE rv.id = @id;

-- name: ReportReviewsByIDs :many
SELECT * FROM report_reviews WHERE id = ANY(@ids::uuid[]);

-- name: ReportsForReview :many
-- The review queue, worst first: targets by their open reports (most
-- first), then by their first report (oldest first), a target's reports
-- together, oldest first. Counted as of a snapshot time (the first page's
-- statement time, carried by the cursor): reports filed after it are left
-- out, and a report counts as open while it was filed by then and not
-- resolved or dismissed by then. So a report's sort key never changes
-- between pages, and the keyset (open_n, first_at, target_id, created_at,
-- id) neither skips nor repeats an item while reports are filed or
-- resolved. The status filter reads the current status.
WITH snap AS (
    SELECT coalesce(sqlc.narg('as_of')::timestamptz, statement_timestamp()) AS as_of
), per_target AS (
    SELECT r.target_id,
           count(*) FILTER (WHERE r.resolved_at IS NULL OR r.resolved_at > snap.as_of) AS open_n,
           min(r.created_at) AS first_at
    FROM reports r, snap
    WHERE r.created_at <= snap.as_of
    GROUP BY r.target_id
)
SELECT r.id, r.target_id, r.created_at, pt.open_n::bigint AS open_n, pt.first_at::timestamptz AS first_at, snap.as_of::timestamptz AS as_of
FROM reports r JOIN per_target pt ON pt.target_id = r.target_id, snap
WHERE r.created_at <= snap.as_of
  AND (sqlc.narg('status')::text IS NULL OR r.status = sqlc.narg('status'))
  AND (sqlc.narg('report_type')::text IS NULL OR r.report_type = sqlc.narg('report_type'))
  AND (sqlc.narg('target_kind')::text IS NULL OR r.target_kind = sqlc.narg('target_kind'))
  AND (sqlc.narg('since')::timestamptz IS NULL OR r.created_at >= sqlc.narg('since'))
  AND (sqlc.narg('until')::timestamptz IS NULL OR r.created_at < sqlc.narg('until'))
  AND (sqlc.narg('cursor_n')::bigint IS NULL
       OR pt.open_n < sqlc.narg('cursor_n')
       OR (pt.open_n = sqlc.narg('cursor_n')
           AND (pt.first_at, r.target_id, r.created_at, r.id)
               > (sqlc.narg('cursor_first')::timestamptz, sqlc.narg('cursor_target')::uuid,
                  sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid)))
ORDER BY pt.open_n DESC, pt.first_at, r.target_id, r.created_at, r.id
LIMIT @lim;

-- name: ReportByID :one
SELECT * FROM reports WHERE id = @id;

-- name: ReportsLockOpenOfTarget :many
-- The open reports of a target and the report being decided, locked in id
-- order (two admins deciding two reports of one target queue instead of
-- deadlocking).
SELECT * FROM reports
WHERE target_id = @target_id AND (status IN ('pending', 'reviewing') OR id = @report_id)
ORDER BY id
FOR UPDATE;

-- name: ReportSetReviewing :one
UPDATE reports SET status = 'reviewing', reviewer_id = @reviewer_id, reviewed_at = now(), updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ReportClose :one
-- A decision: resolved (with its action) or dismissed (action none).
UPDATE reports SET status = @status, resolution_action = @action, resolution_note = @note,
                   reviewer_id = @reviewer_id, reviewed_at = coalesce(reviewed_at, now()),
                   resolved_at = now(), updated_at = now()
WHERE id = @id
RETURNING *;
