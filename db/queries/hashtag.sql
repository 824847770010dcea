-- name: HashtagUpsert :many
-- Get-or-create by name in one statement; names arrive sorted so concurrent
-- callers lock rows in the same order.
INSERT INTO hashtags (id, name)
SELECT unnest(@ids::uuid[]), unnest(@names::text[])
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id, name;

-- name: VideoHashtagsRemoveExcept :many
DELETE FROM video_hashtags
WHERE video_id = @video_id AND NOT (hashtag_id = ANY(@keep::uuid[]))
RETURNING hashtag_id;

-- name: VideoHashtagsAdd :many
INSERT INTO video_hashtags (video_id, hashtag_id)
SELECT @video_id, unnest(@hashtag_ids::uuid[])
ON CONFLICT DO NOTHING
RETURNING hashtag_id;

-- name: HashtagsAdjustUseCount :exec
UPDATE hashtags SET use_count = use_count + @delta WHERE id = ANY(@ids::uuid[]);

-- name: VideoHashtagNames :many
SELECT v.video_id, h.name
FROM video_hashtags v JOIN hashtags h ON h.id = v.hashtag_id
WHERE v.video_id = ANY(@video_ids::uuid[])
ORDER BY h.name;
