-- name: ReportCreate :one
-- One open report per reporter and target: a repeat returns nothing
-- (the unique partial index decides, also under concurrency). A comment's
-- report keeps what the comment said and who wrote it, so that it outlives
-- the comment.
INSERT INTO reports (id, reporter_id, reported_user_id, reported_video_id, reported_comment_id, report_type, reason,
                     reported_comment_content, reported_comment_author_id)
VALUES (@id, @reporter_id, sqlc.narg('reported_user_id'), sqlc.narg('reported_video_id'), sqlc.narg('reported_comment_id'),
        @report_type, sqlc.narg('reason'),
        (SELECT c.content FROM comments c WHERE c.id = sqlc.narg('reported_comment_id')),
        (SELECT c.user_id FROM comments c WHERE c.id = sqlc.narg('reported_comment_id')))
ON CONFLICT (reporter_id, COALESCE(reported_user_id, reported_video_id, reported_comment_id)) WHERE status = 'pending'
DO NOTHING
RETURNING *;

-- name: ReportOpenByTarget :one
SELECT * FROM reports
WHERE reporter_id = @reporter_id AND status = 'pending'
  AND COALESCE(reported_user_id, reported_video_id, reported_comment_id) = @target_id::uuid;

-- name: ReportsByReporter :many
SELECT * FROM reports WHERE reporter_id = @reporter_id ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: ReportsCountByReporter :one
SELECT count(*) FROM reports WHERE reporter_id = @reporter_id;
