-- name: ViewBatchClaim :execrows
-- 1 when this batch is new, 0 when it was applied before (a replay).
INSERT INTO view_flush_batches (batch_id) VALUES (@batch_id) ON CONFLICT DO NOTHING;

-- name: ViewDailyAdd :exec
-- Adds a flush batch's per-day, per-source counts; rows of videos deleted
-- meanwhile are skipped.
INSERT INTO video_daily_stats AS s
    (video_id, day, views, views_feed, views_search, views_profile, views_share, views_external, views_other, watch_time_ms, watch_views)
SELECT d.video_id, d.day, d.views, d.feed, d.search, d.profile, d.share, d.external, d.other, d.watch, d.watch_views
FROM (SELECT unnest(@video_ids::uuid[]) AS video_id, unnest(@days::date[]) AS day,
             unnest(@views::bigint[]) AS views, unnest(@feed::bigint[]) AS feed,
             unnest(@search::bigint[]) AS search, unnest(@profile::bigint[]) AS profile,
             unnest(@share::bigint[]) AS share, unnest(@external::bigint[]) AS external,
             unnest(@other::bigint[]) AS other, unnest(@watch::bigint[]) AS watch,
             unnest(@watch_views::bigint[]) AS watch_views) d
WHERE EXISTS (SELECT 1 FROM videos v WHERE v.id = d.video_id)
ORDER BY d.video_id, d.day
ON CONFLICT (video_id, day) DO UPDATE SET
    views          = s.views + EXCLUDED.views,
    views_feed     = s.views_feed + EXCLUDED.views_feed,
    views_search   = s.views_search + EXCLUDED.views_search,
    views_profile  = s.views_profile + EXCLUDED.views_profile,
    views_share    = s.views_share + EXCLUDED.views_share,
    views_external = s.views_external + EXCLUDED.views_external,
    views_other    = s.views_other + EXCLUDED.views_other,
    watch_time_ms  = s.watch_time_ms + EXCLUDED.watch_time_ms,
    watch_views    = s.watch_views + EXCLUDED.watch_views;

-- name: ViewBatchesPrune :execrows
DELETE FROM view_flush_batches WHERE applied_at < @before;
