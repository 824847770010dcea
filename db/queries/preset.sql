-- name: PresetsByKind :many
-- Active presets of a kind, most used in the last @since window first.
SELECT p.*, (SELECT count(*) FROM ai_jobs j WHERE j.preset_id = p.id AND j.created_at > @since)::bigint AS recent_uses
FROM presets p
WHERE p.kind = @kind AND p.active
ORDER BY recent_uses DESC, p.sort_order, p.id;

-- name: PresetGet :one
SELECT * FROM presets WHERE id = @id;
